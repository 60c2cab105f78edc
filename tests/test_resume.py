"""Ctrl-C and resume: an interrupted batch keeps what it fetched, and the rerun asks only for
what is missing (issue 5)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cytoreview.cache import Cache
from cytoreview.testing.eutils_server import EutilsServer


def test_interrupted_batch_resumes_with_only_missing_records(
    eutils: EutilsServer, tmp_path: Path
) -> None:
    pmids = sorted(eutils.store.records, key=int)[:1000]
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(pmids) + "\n", encoding="utf-8")
    output = tmp_path / "out.json"
    eutils.configure(latency=0.6)
    command = [sys.executable, "-m", "cytoreview", "batch", str(listing), "-f", "json",
               "-o", str(output), "--quiet"]

    proc = subprocess.Popen(command, env=dict(os.environ), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    cache = Cache.from_env()
    deadline = time.monotonic() + 60
    # The first request has completed once its records are in the cache.
    while cache.info().records == 0:
        assert time.monotonic() < deadline, "no efetch completed"
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.02)
    cache.close()
    interrupted_at = time.monotonic()
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert time.monotonic() - interrupted_at < 5, "Ctrl-C must stop within seconds"
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "interrupted" in err and "run the same command again" in err
    partial = json.loads(output.read_text(encoding="utf-8"))
    kept = {r["pmid"] for r in partial}
    assert 200 <= len(kept) < len(pmids)

    eutils.reset()
    eutils.configure(latency=0.0)
    done = subprocess.run(command, env=dict(os.environ), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    asked = [i for r in eutils.requests if r.endpoint == "efetch" and r.status == 200
             for i in r.ids]
    assert not set(asked) & kept, "the rerun asked again for records it already had"
    final = json.loads(output.read_text(encoding="utf-8"))
    assert [r["pmid"] for r in final] == pmids
