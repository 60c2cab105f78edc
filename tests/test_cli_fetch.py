"""End to end: the ``cytoreview`` command against the local E-utilities stand-in."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytoreview import fetcher
from cytoreview.cli import app
from cytoreview.testing.eutils_server import EutilsServer

SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"
WYSOCKI, EKLUND, PARKINSON = "15461571", "15627015", "2215513"
EKLUND_DOI = "10.1097/01.cco.0000142070.45097.68"
CARPI_DOI = "10.2174/156800909790192392"  # seed 004: not in PubMed as far as we know


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args), input=input)
    return result.exit_code, result.stdout, result.stderr


def test_three_seeds_in_two_requests_with_nlm_roles(eutils: EutilsServer) -> None:
    code, out, err = run("fetch", WYSOCKI, EKLUND_DOI, PARKINSON, "--format", "json")
    assert code == 0, err
    records = json.loads(out)
    assert [r["pmid"] for r in records] == [WYSOCKI, EKLUND, PARKINSON]
    # One esearch for the DOI, one efetch for all three PMIDs.
    assert eutils.count() == 2
    assert (eutils.count("esearch"), eutils.count("efetch")) == (1, 1)
    eklund = records[1]
    assert eklund["doi"] == EKLUND_DOI
    roles = [s["role"] for s in eklund["sentences"]]
    assert roles[0] == "purpose" and roles[-1] == "conclusions" and "findings" in roles
    assert {s["source"] for s in eklund["sentences"]} == {"nlm"}
    assert eklund["summary"]["purpose"].startswith("Highlighted in this review")
    for record in records:
        for sentence in record["sentences"]:
            text = record["abstract"][sentence["start"]:sentence["end"]]
            assert text and text == text.strip()
            assert 0.0 <= sentence["confidence"] <= 1.0


def test_requests_identify_the_tool(eutils: EutilsServer) -> None:
    run("fetch", WYSOCKI)
    assert eutils.requests
    for request in eutils.requests:
        assert (request.tool, request.email) == ("cytoreview", "reviewer@example.org")


def test_table_view_shows_the_purpose_row(eutils: EutilsServer) -> None:
    code, out, _ = run("fetch", WYSOCKI)
    assert code == 0
    assert "Human cancer gene therapy with cytokine gene-modified cells" in out
    assert "Purpose" in out and "Findings" in out and "Conclusions" in out
    assert "This article reviews" in out


def test_unknown_doi_is_named_and_the_rest_is_output(eutils: EutilsServer) -> None:
    code, out, err = run("fetch", PARKINSON, CARPI_DOI, "--format", "jsonl")
    assert code == 1
    assert [json.loads(line)["pmid"] for line in out.splitlines()] == [PARKINSON]
    assert CARPI_DOI in err and "not found" in err
    assert len(err.strip().splitlines()) == 1


def test_unknown_pmid_is_named(eutils: EutilsServer) -> None:
    code, out, err = run("fetch", WYSOCKI, "99999999", "-f", "json")
    assert code == 1
    assert [r["pmid"] for r in json.loads(out)] == [WYSOCKI]
    assert "99999999: PMID not found" in err


def test_invalid_identifier_is_a_usage_error_before_any_request(eutils: EutilsServer) -> None:
    code, out, err = run("fetch", WYSOCKI, "abc")
    assert code == 2
    assert out == ""
    assert err.strip() == "cytoreview: 'abc': not a PMID, DOI, PMCID or PubMed/doi.org URL"
    assert eutils.count() == 0


def test_pmcid_through_the_id_converter(eutils: EutilsServer) -> None:
    pmcid, pmid = sorted(eutils.store.pmcid_to_pmid.items())[0]
    code, out, err = run("fetch", pmcid, "-f", "json")
    assert code == 0, err
    assert [r["pmid"] for r in json.loads(out)] == [pmid]


def test_second_run_is_served_from_the_cache(eutils: EutilsServer) -> None:
    run("fetch", WYSOCKI, EKLUND_DOI, "-f", "json")
    first = eutils.count()
    code, out, _ = run("fetch", WYSOCKI, EKLUND_DOI, "-f", "json")
    assert code == 0
    assert len(json.loads(out)) == 2
    assert eutils.count() == first  # nothing asked of NCBI the second time
    code, out, _ = run("fetch", WYSOCKI, "--offline", "-f", "json")
    assert code == 0 and len(json.loads(out)) == 1
    code, _, err = run("fetch", PARKINSON, "--offline", "-f", "json")
    assert code == 1 and "not in the cache" in err


def test_batch_reads_an_id_list_and_names_bad_lines(eutils: EutilsServer, tmp_path: Path
                                                    ) -> None:
    listing = tmp_path / "ids.txt"
    listing.write_text(f"# my review\n{WYSOCKI}\n\nnot an id\n{PARKINSON}  # Parkinson\n")
    code, out, err = run("batch", str(listing), "-f", "json")
    assert [r["pmid"] for r in json.loads(out)] == [WYSOCKI, PARKINSON]
    assert f"{listing}:4" in err and "'not an id'" in err
    assert code == 1


def test_batch_of_the_seed_list_from_stdin(eutils: EutilsServer) -> None:
    code, out, err = run("batch", "-", "-f", "jsonl",
                         input=(SEEDS / "ids.txt").read_text(encoding="utf-8"))
    assert code == 1  # seed 004's DOI is not in PubMed
    assert [json.loads(line)["pmid"] for line in out.splitlines()] == [
        WYSOCKI, EKLUND, PARKINSON]
    assert CARPI_DOI in err


def test_empty_id_list_says_so_and_sends_nothing(eutils: EutilsServer, tmp_path: Path) -> None:
    listing = tmp_path / "ids.txt"
    listing.write_text("# to do: add the IL-15 papers\n\n")
    code, out, err = run("batch", str(listing), "-f", "json")
    assert (code, json.loads(out)) == (0, [])
    assert f"{listing}: no identifiers" in err
    assert eutils.requests == []


def test_a_doi_pubmed_has_twice_takes_the_first_indexed_and_says_so(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    # Two 1979 letters share one DOI. The newest was taken, without a word.
    from cytoreview.testing.records import load_store

    fixture = Path(__file__).parent / "fixtures" / "xml" / "one_doi_two_records.xml"
    with EutilsServer(store=load_store([fixture]), rate_limit=False) as server:
        env = {**os.environ, "CYTOREVIEW_EUTILS_URL": server.url, "NO_COLOR": "1",
               "CYTOREVIEW_CACHE_DIR": str(tmp_path / "cache")}
        proc = subprocess.run(
            [sys.executable, "-m", "cytoreview", "fetch", "10.1093/AJCN/32.2.277", "-f", "jsonl"],
            capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["pmid"] for line in proc.stdout.splitlines()] == ["420122"]
    assert proc.stderr.strip() == (
        "cytoreview: warning: 10.1093/AJCN/32.2.277: 2 PubMed records have this DOI; "
        "using PMID 420122, not 420123")


def test_missing_id_list_is_a_usage_error(eutils: EutilsServer, tmp_path: Path) -> None:
    code, _, err = run("batch", str(tmp_path / "nope.txt"))
    assert code == 2
    assert err.strip() == f"cytoreview: {tmp_path / 'nope.txt'}: no such file"


def test_output_file_is_complete_or_absent(eutils: EutilsServer, tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    code, out, _ = run("fetch", WYSOCKI, "-f", "json", "-o", str(target))
    assert code == 0 and out == ""
    assert [r["pmid"] for r in json.loads(target.read_text(encoding="utf-8"))] == [WYSOCKI]
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_api_key_never_appears_in_output_or_messages(eutils: EutilsServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    secret = "0123456789abcdefSECRETKEY"
    monkeypatch.setenv("NCBI_API_KEY", secret)
    for fmt in ("json", "md", "csv", "ris", "bibtex", "table"):
        code, out, err = run("fetch", WYSOCKI, CARPI_DOI, "-f", fmt)
        assert code == 1
        assert secret not in out and secret not in err
    assert all(r.api_key == secret for r in eutils.requests)
    cache_files = list((tmp_path / "cache").iterdir())
    assert cache_files
    assert all(secret.encode() not in f.read_bytes() for f in cache_files)


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_refused_connection_is_one_line_naming_the_url(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/entrez/eutils/"
    env = {**os.environ, "CYTOREVIEW_EUTILS_URL": url, "CYTOREVIEW_CACHE_DIR": str(tmp_path)}
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "cytoreview", "fetch", WYSOCKI],
                          capture_output=True, text=True, env=env, timeout=60)
    assert time.monotonic() - started < 30
    assert proc.returncode == 1
    lines = proc.stderr.strip().splitlines()
    assert any(url in line and "connection refused" in line for line in lines)
    assert "Traceback" not in proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
def test_big_batch_writes_what_the_cache_would_write(eutils: EutilsServer, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch,
                                                     fmt: str) -> None:
    # Enough records for the worker processes, which also render the output as records
    # arrive: the bytes must be those this process writes for the same records read back
    # from the cache.
    pmids = sorted(eutils.store.records, key=int)[:700]
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(pmids), encoding="utf-8")
    code, fetched, err = run("batch", str(listing), "-f", fmt, "--quiet")
    assert code == 0, err
    assert eutils.count("efetch") == 4
    code, cached, err = run("batch", str(listing), "-f", fmt, "--quiet", "--offline")
    assert code == 0, err
    monkeypatch.setattr(fetcher, "PROCESS_MIN_RECORDS", 10**9)  # everything in this process
    code, here, err = run("batch", str(listing), "-f", fmt, "--quiet", "--offline")
    assert code == 0, err
    assert fetched == cached == here
    if fmt == "jsonl":
        assert [json.loads(line)["pmid"] for line in fetched.splitlines()] == pmids


def test_cached_records_are_parsed_while_the_rest_is_fetched(eutils: EutilsServer,
                                                             tmp_path: Path) -> None:
    pmids = sorted(eutils.store.records, key=int)[:900]
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(pmids[:500]), encoding="utf-8")
    code, _, err = run("batch", str(listing), "-f", "jsonl", "--quiet")
    assert code == 0, err
    eutils.reset()
    listing.write_text("\n".join(pmids), encoding="utf-8")
    code, out, err = run("batch", str(listing), "-f", "jsonl", "--quiet")
    assert code == 0, err
    assert [json.loads(line)["pmid"] for line in out.splitlines()] == pmids
    assert sorted(eutils.requested_ids()) == sorted(pmids[500:])


@pytest.mark.skipif(sys.platform == "win32", reason="SIGINT to a subprocess")
@pytest.mark.parametrize("signal_name", ["SIGINT", "SIGTERM"])
def test_interrupt_during_a_stalled_request_exits_at_once(
    eutils: EutilsServer, signal_name: str
) -> None:
    # A request stalled by the server (no answer for a minute) held the exit for up to 30 s
    # after "interrupted" was printed, and a second Ctrl-C then printed a traceback.
    code, err, waited = _signal_while_stalled(eutils, "efetch", signal_name,
                                              "fetch", WYSOCKI, PARKINSON)
    assert code == 130
    assert waited < 5
    assert "interrupted" in err and "Traceback" not in err


def _signal_while_stalled(eutils: EutilsServer, endpoint: str, signal_name: str,
                          *args: str) -> tuple[int, str, float]:
    """Run the command until its request to ``endpoint`` stalls, send the signal: the exit
    code, stderr, and how long the command took to exit after the signal."""
    import signal

    eutils.configure(stall_seconds=60)
    eutils.script(["stall"] * 6, endpoint=endpoint)
    proc = subprocess.Popen([sys.executable, "-m", "cytoreview", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while not eutils.in_flight:  # the request, stalled
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(0.3)
        sent = time.monotonic()
        proc.send_signal(getattr(signal, signal_name))
        _, err = proc.communicate(timeout=60)
        return proc.returncode, err, time.monotonic() - sent
    finally:
        proc.kill()
        proc.wait()


def test_an_output_that_cannot_be_written_fails_before_any_request(
    eutils: EutilsServer, tmp_path: Path
) -> None:
    missing = tmp_path / "no" / "such" / "out.jsonl"
    code, _, err = run("fetch", WYSOCKI, "-f", "jsonl", "-o", str(missing))
    assert code == 2 and f"{missing}: cannot write (no folder" in err
    code, _, err = run("fetch", WYSOCKI, "-f", "jsonl", "-o", str(tmp_path))
    assert code == 2 and "is a directory" in err  # refused by the option itself
    assert eutils.requests == []
    code, _, err = run("parse", str(SEEDS / "seeds.xml"), "-o", str(tmp_path / "x" / "y.md"))
    assert code == 2 and "cannot write" in err


@pytest.mark.parametrize("fmt", ["table", "jsonl", "json"])
def test_a_reader_that_stops_early_still_learns_what_failed(eutils: EutilsServer,
                                                            fmt: str) -> None:
    # `fetch ... | head -3` under pipefail: the output stops quietly, but an ID that was not
    # found is still named and still makes the exit code 1 (it was 0 for a while).
    proc = subprocess.Popen([sys.executable, "-m", "cytoreview", "fetch", WYSOCKI, "99999998",
                             "-f", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 1
    assert "99999998" in err and "Traceback" not in err and "internal error" not in err


def test_an_interrupt_while_dois_are_searched_writes_the_records_already_had(
    eutils: EutilsServer, tmp_path: Path
) -> None:
    # All PMIDs cached, one DOI to look up, and esearch stalls: Ctrl-C wrote nothing at all
    # and named nothing.
    assert run("fetch", WYSOCKI, PARKINSON, "-f", "json")[0] == 0  # cached now
    out = tmp_path / "out.jsonl"
    code, err, _ = _signal_while_stalled(eutils, "esearch", "SIGTERM", "fetch", WYSOCKI,
                                         EKLUND_DOI, PARKINSON, "-f", "jsonl", "-o", str(out))
    assert code == 130, err
    assert [json.loads(line)["pmid"] for line in out.read_text().splitlines()] == [
        WYSOCKI, PARKINSON]
    assert "not fetched: " + EKLUND_DOI in err


def test_an_interrupted_run_without_a_cache_does_not_promise_one(eutils: EutilsServer) -> None:
    code, err, _ = _signal_while_stalled(eutils, "efetch", "SIGTERM", "fetch", WYSOCKI,
                                         "--no-cache")
    assert code == 130
    assert "nothing was cached (--no-cache)" in err and "are cached" not in err


def test_a_warning_during_the_progress_bar_comes_after_it_as_one_line(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Printed while the bar was live, it went through Rich's redirect of stderr and was
    # wrapped at the terminal's width (two lines at 60 columns).
    import io
    import warnings

    from rich.console import Console

    from cytoreview.errors import CytoreviewWarning
    from cytoreview.output import ProgressBar

    screen = io.StringIO()
    shown: list[tuple[str, bool]] = []
    bar = ProgressBar(Console(file=screen, force_terminal=True, width=60))
    def show(message: object, *_: object) -> None:
        shown.append((str(message), bar._progress.live.is_started))

    monkeypatch.setattr(warnings, "showwarning", show)
    with bar:
        warnings.warn("10.1/x: 2 PubMed records have this DOI; using PMID 1, not 2 " * 2,
                      CytoreviewWarning, stacklevel=1)
        assert shown == []
    assert shown == [("10.1/x: 2 PubMed records have this DOI; using PMID 1, not 2 " * 2, False)]
    assert "PubMed records" not in screen.getvalue()
