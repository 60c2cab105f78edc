"""Parsing speed and memory: cytoreview against pubmed_parser on the same files, same run.

    python benchmarks/parse.py                      # the two shared files (about a minute)
    python benchmarks/parse.py FILE [FILE ...] [--jobs N] [--repeat N] [--cli]
    python benchmarks/parse.py --smoke              # the test fixtures, in seconds (CI)

Every measurement runs in a fresh Python process, so import costs are counted and peak RSS is
that run's own: the process itself and, separately, its largest worker (``getrusage``). Engines:

* ``pubmed_parser``: ``pubmed_parser.parse_medline_xml`` on each file (its defaults);
* ``cytoreview``: ``filepool.parse_files`` with sentence roles (the default), all cores;
* ``cytoreview --no-roles``: the same without roles;
* ``lxml iterparse``: a bare iterparse that builds nothing, the ceiling for any lxml parser;
* with ``--cli``: ``cytoreview parse FILES -f jsonl -o OUT`` end to end (its ``main`` in the
  measuring process, so peak RSS is the command's and its workers'), with and without roles.

Ratios are pubmed_parser's wall time divided by each engine's (higher is faster). ``CPU s`` is
user+system time of the run and its workers: on a busy machine it shows what the work costs
when wall times are distorted by other processes.
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"  # ../shared beside the checkout
DEFAULT = [SHARED / "pubmed20n0014.xml.gz", SHARED / "pubmed21n1298.train.xml.gz"]
SMOKE = [ROOT / "tests" / "fixtures" / "xml" / "pubmed20n0014_cases.xml",
         ROOT / "tests" / "fixtures" / "xml" / "pubmed21n1298_cases.xml"]
TAGS = ("PubmedArticle", "PubmedBookArticle")


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _peak_mb(who: int) -> float:
    return resource.getrusage(who).ru_maxrss / 1024  # kB on Linux


def run_engine(engine: str, files: list[str], jobs: int | None) -> dict[str, Any]:
    """Child side: parse, count, report."""
    if engine.startswith("cli"):
        return run_cli(engine, files, jobs)
    start = time.perf_counter()
    count = 0
    if engine == "pubmed_parser":
        import pubmed_parser

        for path in files:
            count += sum(1 for _ in pubmed_parser.parse_medline_xml(path))
    elif engine in ("cytoreview", "cytoreview --no-roles"):
        from cytoreview.filepool import parse_files
        from cytoreview.model import Article

        roles = engine == "cytoreview"
        for item in parse_files(files, jobs=jobs, roles=roles):
            count += isinstance(item, Article)
    elif engine == "lxml iterparse":
        from lxml import etree

        for path in files:
            with open(path, "rb") as probe:
                packed = probe.read(2) == b"\x1f\x8b"
            with gzip.open(path) if packed else open(path, "rb") as fh:
                for _, elem in etree.iterparse(fh, tag=TAGS, resolve_entities=False,
                                               no_network=True, load_dtd=False):
                    count += 1
                    elem.clear()
                    while elem.getprevious() is not None:
                        del elem.getparent()[0]
    else:
        raise SystemExit(f"unknown engine {engine!r}")
    return {"records": count, "seconds": time.perf_counter() - start}


def run_cli(engine: str, files: list[str], jobs: int | None) -> dict[str, Any]:
    """Child side of the CLI rows: ``cytoreview parse FILES -f jsonl -o OUT`` run in this
    process (so its peak RSS and its workers' are this run's own)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.jsonl"
        argv = ["cytoreview", "parse", *files, "-f", "jsonl", "-o", str(out), "--quiet"]
        if jobs:
            argv += ["--jobs", str(jobs)]
        if engine.endswith("--no-roles"):
            argv.append("--no-roles")
        start = time.perf_counter()
        from cytoreview.cli import main  # its imports count, as pubmed_parser's do

        sys.argv = argv
        try:
            main()
        except SystemExit as done:
            if done.code:
                raise SystemExit(f"{engine} failed with exit code {done.code}") from None
        seconds = time.perf_counter() - start
        with open(out, "rb") as fh:
            records = sum(1 for _ in fh)
    return {"records": records, "seconds": seconds}


def measure(engine: str, files: list[str], jobs: int | None) -> dict[str, Any]:
    """Parent side: one fresh process per measurement."""
    cmd = [sys.executable, __file__, "--child", engine, *files]
    if jobs:
        cmd += ["--jobs", str(jobs)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode:
        raise SystemExit(f"{engine} failed: {proc.stderr.strip()[-500:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def child(engine: str, files: list[str], jobs: int | None) -> None:
    result = run_engine(engine, files, jobs)
    result["cpu"] = _cpu(resource.RUSAGE_SELF) + _cpu(resource.RUSAGE_CHILDREN)
    result["rss"] = _peak_mb(resource.RUSAGE_SELF)
    result["worker_rss"] = _peak_mb(resource.RUSAGE_CHILDREN)
    print(json.dumps(result))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("files", nargs="*")
    ap.add_argument("--smoke", action="store_true", help="tiny fixtures, a few seconds")
    ap.add_argument("--jobs", type=int, default=None, help="worker processes (default: all cores)")
    ap.add_argument("--repeat", type=int, default=1, help="best of N runs per engine")
    ap.add_argument("--cli", action="store_true", help="also time the cytoreview parse command")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child(args.child, args.files, args.jobs)
        return 0
    if args.files:
        files = list(args.files)
    elif args.smoke:
        # pubmed_parser reads gzip only; compressed copies of the fixtures suit every engine.
        tmp = Path(tempfile.mkdtemp(prefix="cytoreview-bench-"))
        files = []
        for src in SMOKE:
            dst = tmp / (src.name + ".gz")
            dst.write_bytes(gzip.compress(src.read_bytes()))
            files.append(str(dst))
    else:
        files = [str(f) for f in DEFAULT]
    engines = ["pubmed_parser", "cytoreview", "cytoreview --no-roles", "lxml iterparse"]
    if args.cli:
        engines += ["cli", "cli --no-roles"]
    print(f"files: {', '.join(Path(f).name for f in files)}; cores: {os.cpu_count()}; "
          f"jobs: {args.jobs or 'all cores'}; best of {args.repeat}")
    results: dict[str, dict[str, Any]] = {}
    for engine in engines:
        runs = [measure(engine, files, args.jobs) for _ in range(max(1, args.repeat))]
        best = min(runs, key=lambda r: r["seconds"])
        best["rss"] = max((r["rss"] or 0) for r in runs) or None
        best["worker_rss"] = max((r["worker_rss"] or 0) for r in runs) or None
        results[engine] = best
    base = results["pubmed_parser"]["seconds"]
    print(f"{'engine':<24}{'records':>9}{'seconds':>9}{'records/s':>11}{'CPU s':>8}"
          f"{'peak RSS':>10}{'worker':>9}{'vs pubmed_parser':>18}")
    for engine, r in results.items():
        rss = f"{r['rss']:.0f} MB" if r["rss"] else "-"
        worker = f"{r['worker_rss']:.0f} MB" if r["worker_rss"] else "-"
        print(f"{engine:<24}{r['records']:>9}{r['seconds']:>9.2f}"
              f"{r['records'] / r['seconds']:>11.0f}{r['cpu']:>8.1f}{rss:>10}{worker:>9}"
              f"{base / r['seconds']:>17.2f}x")
    if args.smoke and not args.files:
        shutil.rmtree(Path(files[0]).parent, ignore_errors=True)
    counts = {r["records"] for e, r in results.items() if e != "lxml iterparse"}
    if len(counts) != 1:
        print(f"record counts differ between engines: {counts}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
