"""Fetch 3,000 PMIDs at NCBI's speed limit: cytoreview vs Biopython's idiomatic chunked loop.

All run, one after the other, against the same local E-utilities stand-in started in its own
process (as NCBI is not in ours), with NCBI's rate limit (10 requests/s with an API key) and
250 ms latency per answer:

* cytoreview as a library (``Fetcher.run`` in this process, fresh cache): records parsed and
  annotated, in the cache;
* cytoreview as a command, end to end: ``cytoreview batch IDS -f jsonl -o OUT`` in a new
  process, from its start (imports included) to the output file written, with a timeline;
* Biopython's chunked loop (``Entrez.efetch`` on 200 PMIDs, ``Entrez.read``).

Printed: wall time, records, requests, 429s, the ratios, and the rate-limit floor: NCBI's
limit spaces cytoreview's n requests at least 1/rate apart and the last answer takes the
latency, so no client can finish them in less than (n - 1)/rate + latency. Also counts what
metapub's one-PMID-per-call fetcher would send.

    python benchmarks/fetch.py             # 3,000 PMIDs, 250 ms latency
    python benchmarks/fetch.py --smoke     # 100 PMIDs, 50 ms: a few seconds, for CI
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from cytoreview.cache import Cache
from cytoreview.eutils import EutilsClient, RateLimiter, Settings
from cytoreview.fetcher import Fetcher
from cytoreview.ids import Identifier
from cytoreview.testing.records import find_data_files, load_store

API_KEY = "benchmark-api-key"
NCBI_EUTILS = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"


class StandIn:
    """The stand-in server in a child process; counts answers by status from its request log."""

    def __init__(self, files: list[Path], latency: float):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "cytoreview.testing.eutils_server", "--verbose",
             "--latency", str(latency), "--data", *map(str, files)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert self.proc.stdout and self.proc.stderr
        self.url = self.proc.stdout.readline().strip()
        if not self.url.startswith("http"):
            raise SystemExit(f"stand-in did not start: {self.proc.stderr.read()}")
        self.statuses: list[int] = []
        #: Per answer: (perf_counter here when it went out, seconds the server took on it).
        self.answers: list[tuple[float, float]] = []
        threading.Thread(target=self._read_log, daemon=True).start()

    def _read_log(self) -> None:
        assert self.proc.stderr
        for line in self.proc.stderr:
            match = re.search(r"-> (\d{3}).*\((\d+) ms\)", line)
            if match:
                self.answers.append((time.perf_counter(), int(match.group(2)) / 1000))
                self.statuses.append(int(match.group(1)))

    def counts(self, since: int = 0) -> tuple[int, int]:
        time.sleep(0.3)  # let the log catch up
        seen = self.statuses[since:]
        return len(seen), seen.count(429)

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


def run_cytoreview(server: StandIn, pmids: list[str]) -> tuple[float, int]:
    settings = Settings(eutils_url=server.url, api_key=API_KEY, email="bench@example.org")
    with tempfile.TemporaryDirectory() as tmp, Cache(Path(tmp)) as cache, \
            EutilsClient(settings, limiter=RateLimiter(settings.rate)) as client:
        started = time.perf_counter()
        result = Fetcher(client, cache).run([Identifier("pmid", p, p) for p in pmids])
        elapsed = time.perf_counter() - started
    return elapsed, len(result.articles)


def run_cli(server: StandIn, pmids: list[str]) -> tuple[float, int, list[float]]:
    """``cytoreview batch`` in a new process: seconds from its start to its exit (output
    written), records written, and when (from its start) the first request arrived and the
    last answer went out."""
    with tempfile.TemporaryDirectory() as tmp:
        listing, output = Path(tmp, "ids.txt"), Path(tmp, "out.jsonl")
        listing.write_text("\n".join(pmids) + "\n", encoding="utf-8")
        env = {**os.environ, "CYTOREVIEW_EUTILS_URL": server.url, "NCBI_API_KEY": API_KEY,
               "NCBI_EMAIL": "bench@example.org", "CYTOREVIEW_CACHE_DIR": str(Path(tmp, "c"))}
        seen = len(server.answers)
        started = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "cytoreview", "batch", str(listing),
                               "-f", "jsonl", "-o", str(output), "--quiet"],
                              env=env, capture_output=True, text=True)
        elapsed = time.perf_counter() - started
        if done.returncode != 0:
            raise SystemExit(f"cytoreview batch failed ({done.returncode}): {done.stderr}")
        records = len(output.read_text(encoding="utf-8").splitlines())
    time.sleep(0.3)  # let the log catch up
    answers = server.answers[seen:]
    first = min(out - took for out, took in answers) - started
    last = max(out for out, _ in answers) - started
    return elapsed, records, [first, last]


def run_biopython(server: StandIn, pmids: list[str]) -> tuple[float, int]:
    from Bio import Entrez

    original_open = Entrez._open

    def redirected(request):  # type: ignore[no-untyped-def]
        # Only the host changes: Biopython's own throttling and retries stay as they are.
        request.full_url = request.full_url.replace(NCBI_EUTILS, server.url)
        return original_open(request)

    # Biopython keeps its throttle's clock on the function object it finds as Entrez._open.
    redirected.previous = getattr(original_open, "previous", 0.0)  # type: ignore[attr-defined]
    Entrez._open = redirected
    Entrez.api_key = API_KEY
    Entrez.email = "bench@example.org"
    Entrez.tool = "biopython-benchmark"
    records = 0
    try:
        started = time.perf_counter()
        for start in range(0, len(pmids), 200):
            handle = Entrez.efetch(db="pubmed", id=pmids[start : start + 200], retmode="xml")
            records += len(Entrez.read(handle)["PubmedArticle"])
            handle.close()
        elapsed = time.perf_counter() - started
    finally:
        Entrez._open = original_open
    return elapsed, records


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pmids", type=int, default=3000)
    parser.add_argument("--latency", type=float, default=0.25)
    parser.add_argument("--smoke", action="store_true", help="100 PMIDs, 50 ms latency")
    args = parser.parse_args()
    if args.smoke:
        args.pmids, args.latency = 100, 0.05

    found = find_data_files()
    files = found["seeds"] + found["shared"][-1:]
    pmids = sorted(load_store(files).records, key=int)[: args.pmids]
    if len(pmids) < args.pmids:
        print(f"only {len(pmids)} records available", file=sys.stderr)

    server = StandIn(files, args.latency)
    try:
        ours, ours_records = run_cytoreview(server, pmids)
        ours_requests, ours_429 = server.counts()
        time.sleep(1.1)  # a fresh rate-limit window for the next run
        cli, cli_records, (first, last) = run_cli(server, pmids)
        cli_requests, cli_429 = server.counts(since=ours_requests)
        time.sleep(1.1)
        theirs, theirs_records = run_biopython(server, pmids)
        theirs_requests, theirs_429 = server.counts(since=ours_requests + cli_requests)
    finally:
        server.close()

    rate = 10.0
    floor = (ours_requests - 1) / rate + args.latency
    print(f"{len(pmids):,} PMIDs, {args.latency * 1000:.0f} ms latency, NCBI limit "
          f"{rate:.0f} requests/s (API key), load average {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    print(f"{'':18} {'seconds':>8} {'records':>8} {'requests':>9} {'429s':>5}")
    rows = [("cytoreview (lib)", ours, ours_records, ours_requests, ours_429),
            ("cytoreview batch", cli, cli_records, cli_requests, cli_429),
            ("biopython", theirs, theirs_records, theirs_requests, theirs_429)]
    for name, seconds, records, requests, throttled in rows:
        print(f"{name:18} {seconds:8.2f} {records:8,} {requests:9} {throttled:5}")
    print(f"speed-up over Biopython's chunked loop: {theirs / ours:.2f}x (library), "
          f"{theirs / cli:.2f}x (command, end to end)")
    print(f"rate-limit floor for cytoreview's {ours_requests} requests: {floor:.2f} s = "
          f"{ours_requests - 1} gaps of {1 / rate:.1f} s + one {args.latency * 1000:.0f} ms "
          f"answer; library at {ours / floor:.2f}x, command at {cli / floor:.2f}x")
    print(f"command timeline: first request at {first:.2f} s (start-up), last answer at "
          f"{last:.2f} s, output written at {cli:.2f} s (parsing tail {cli - last:.2f} s)")
    print(f"metapub's one-PMID-per-call fetcher: {len(pmids):,} requests, at least "
          f"{len(pmids) / rate:,.0f} s at this limit")
    ok = (ours_records == cli_records == len(pmids)) and ours_429 == cli_429 == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
