"""Two batch processes sharing one cache both finish with correct output (issues 5 and 7)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from cytoreview.testing.eutils_server import EutilsServer


def test_two_batches_share_one_cache(eutils: EutilsServer, tmp_path: Path) -> None:
    pmids = sorted(eutils.store.records, key=int)[:900]
    lists = {"a": pmids[:600], "b": pmids[300:]}  # 300 records in common
    eutils.configure(rate_limit=False, latency=0.1)
    procs = {}
    for name, ids in lists.items():
        listing = tmp_path / f"{name}.txt"
        listing.write_text("\n".join(ids), encoding="utf-8")
        procs[name] = subprocess.Popen(
            [sys.executable, "-m", "cytoreview", "batch", str(listing), "-f", "jsonl", "-o",
             str(tmp_path / f"{name}.jsonl"), "--quiet"],
            env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for name, proc in procs.items():
        _, err = proc.communicate(timeout=180)
        assert proc.returncode == 0, (name, err)
        lines = (tmp_path / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()
        assert [json.loads(line)["pmid"] for line in lines] == lists[name]
    rerun = subprocess.run(
        [sys.executable, "-m", "cytoreview", "batch", str(tmp_path / "a.txt"), "--offline",
         "-f", "json"], env=dict(os.environ), capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert len(json.loads(rerun.stdout)) == 600
