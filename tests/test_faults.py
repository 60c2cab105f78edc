"""Faults from a busy public service: nothing is lost, and what cannot be had is named (issue 7).

Runs against the local stand-in with its fault injection: 5xx, 429 bursts, truncated XML, HTML
and empty 200s, <ERROR> inside a 200, connection resets and stalls.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cytoreview import fetch_worker
from cytoreview.cache import Cache
from cytoreview.cli import app
from cytoreview.errors import ServiceError, ServiceUnavailable
from cytoreview.eutils import EutilsClient, RateLimiter, Settings
from cytoreview.fetcher import Fetcher
from cytoreview.ids import Identifier
from cytoreview.testing.eutils_server import DEFAULT_FAULT_KINDS, EutilsServer

_real_digest_in_worker = fetch_worker.digest_in_worker


def _pmids(server: EutilsServer, n: int) -> list[str]:
    return sorted(server.store.records, key=int)[:n]


def _client(server: EutilsServer, **settings: object) -> EutilsClient:
    options: dict[str, object] = {"eutils_url": server.url, "idconv_url": server.idconv_url,
                                  "api_key": "fault-suite", "backoff_base": 0.05, **settings}
    config = Settings(**options)  # type: ignore[arg-type]
    return EutilsClient(config, limiter=RateLimiter(config.rate))


@pytest.mark.slow
def test_3000_pmids_through_30_percent_faults_of_every_kind(
    eutils: EutilsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pmids = _pmids(eutils, 3000)
    listing = tmp_path / "ids.txt"
    listing.write_text("\n".join(pmids), encoding="utf-8")
    monkeypatch.setenv("NCBI_API_KEY", "fault-suite")
    eutils.configure(fault_rate=0.3, fault_kinds=DEFAULT_FAULT_KINDS, fault_seed=7,
                     stall_seconds=2.0)
    result = CliRunner().invoke(app, ["batch", str(listing), "-f", "jsonl", "--quiet"])
    assert result.exit_code == 0, result.stderr
    assert [json.loads(line)["pmid"] for line in result.stdout.splitlines()] == pmids
    faults = {r.fault for r in eutils.requests if r.fault}
    assert len(faults) >= 6, faults  # the run really met many kinds of fault
    assert eutils.count(status=429) == sum(1 for r in eutils.requests if r.fault == "429")


def test_a_batch_that_keeps_failing_is_halved_to_the_bad_records(eutils: EutilsServer) -> None:
    pmids = _pmids(eutils, 400)
    bad = {pmids[17], pmids[300]}
    eutils.configure(fail_pmids=bad)
    with _client(eutils) as client:
        result = Fetcher(client).run([Identifier("pmid", p, p) for p in pmids])
    assert [a.pmid for a in result.articles] == [p for p in pmids if p not in bad]
    assert sorted(f.input for f in result.failures) == sorted(bad)
    assert all("HTTP 500" in f.reason for f in result.failures)


def _closed_port_url() -> str:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/pmc/utils/idconv/v1.0/"


def _mixed_ids(server: EutilsServer, n_dois: int) -> tuple[list[str], list[str], str]:
    pmids = _pmids(server, 5)
    dois = sorted(server.store.doi_to_pmids)[:n_dois]
    pmcid = sorted(server.store.pmcid_to_pmid)[0]
    return pmids, dois, pmcid


def test_an_unreachable_pmc_id_converter_costs_only_the_pmcids(eutils: EutilsServer) -> None:
    # The converter is another host than E-utilities: its outage must not fail the PMIDs and
    # DOIs of the same list (it failed every input as "service unreachable").
    pmids, dois, pmcid = _mixed_ids(eutils, 3)
    idents = [Identifier("pmid", p, p) for p in pmids] + [Identifier("doi", d, d) for d in dois]
    idents.append(Identifier("pmcid", pmcid, pmcid))
    with _client(eutils, idconv_url=_closed_port_url()) as client:
        result = Fetcher(client).run(idents)
    assert not result.fatal
    expected = pmids + [eutils.store.pmid_for_doi(d) for d in dois]
    assert [a.pmid for a in result.articles] == expected
    assert [f.input for f in result.failures] == [pmcid]


def test_a_failed_doi_search_costs_only_its_own_dois(eutils: EutilsServer) -> None:
    from cytoreview.fetcher import DOIS_PER_SEARCH

    _, dois, pmcid = _mixed_ids(eutils, DOIS_PER_SEARCH + 20)
    eutils.script(["500"] * 6, endpoint="esearch")  # every attempt of the first search
    idents = [Identifier("doi", d, d) for d in dois] + [Identifier("pmcid", pmcid, pmcid)]
    with _client(eutils) as client:
        result = Fetcher(client).run(idents)
    assert sorted(f.input for f in result.failures) == sorted(dois[:DOIS_PER_SEARCH])
    assert all("HTTP 500" in f.reason for f in result.failures)
    later = [eutils.store.pmid_for_doi(d) for d in dois[DOIS_PER_SEARCH:]]
    assert [a.pmid for a in result.articles] == [*later, eutils.store.pmcid_to_pmid[pmcid]]


def test_permanent_failure_is_named_with_exit_1(eutils: EutilsServer) -> None:
    pmids = _pmids(eutils, 6)
    eutils.configure(fail_pmids={pmids[2]})
    result = CliRunner().invoke(app, ["fetch", *pmids, "-f", "json", "--quiet"])
    assert result.exit_code == 1
    assert [r["pmid"] for r in json.loads(result.stdout)] == pmids[:2] + pmids[3:]
    assert f"cytoreview: {pmids[2]}: not retrieved" in result.stderr
    assert "Traceback" not in result.stderr


def test_retries_count_against_the_rate_limit(eutils: EutilsServer) -> None:
    eutils.script(["503", "503", "truncated", "error200", None, None], endpoint="efetch")
    with _client(eutils, api_key=None) as client:
        result = Fetcher(client, batch_size=50).run(
            [Identifier("pmid", p, p) for p in _pmids(eutils, 100)])
    assert len(result.articles) == 100
    assert eutils.count(status=429) == 0  # 3 requests/s, retries included, never exceeded
    assert eutils.count("efetch") == 6


def test_stalled_server_times_out_with_the_url_named(eutils: EutilsServer) -> None:
    eutils.configure(fault_rate=1.0, fault_kinds=["stall"], stall_seconds=3.0)
    with _client(eutils, timeout=0.5, max_attempts=2) as client, \
            pytest.raises(ServiceUnavailable) as info:
        client.efetch(["15461571"])
    assert str(info.value) == f"cannot reach {eutils.url}efetch.fcgi: timed out"


@pytest.mark.parametrize("kind", ["html", "empty", "truncated", "error200", "reset", "502"])
def test_a_fault_that_never_ends_is_reported_not_crashed(eutils: EutilsServer, kind: str
                                                         ) -> None:
    eutils.configure(fault_rate=1.0, fault_kinds=[kind])
    with _client(eutils, max_attempts=3) as client, pytest.raises(ServiceError) as info:
        client.efetch(["15461571"])
    assert f"{eutils.url}efetch.fcgi" in str(info.value)
    assert "\n" not in str(info.value)


def _die_once(data: bytes, batch: list[str], roles: bool, render: str | None) -> object:
    """Stands in for the worker's digest: the first call kills its worker process."""
    marker = Path(os.environ["CYTOREVIEW_TEST_DIE_ONCE"])
    try:
        marker.touch(exist_ok=False)
    except FileExistsError:
        return _real_digest_in_worker(data, batch, roles, render)
    os._exit(1)


def test_a_worker_process_that_dies_loses_nothing(
    eutils: EutilsServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pmids = _pmids(eutils, 800)  # enough for the worker processes
    monkeypatch.setenv("CYTOREVIEW_TEST_DIE_ONCE", str(tmp_path / "died"))
    monkeypatch.setattr(fetch_worker, "digest_in_worker", _die_once)
    with _client(eutils) as client:
        result = Fetcher(client, roles=False).run([Identifier("pmid", p, p) for p in pmids])
    assert (tmp_path / "died").exists()
    assert [a.pmid for a in result.articles] == pmids
    assert not result.failures and result.fetched == len(pmids)


def test_a_client_survives_a_run_that_was_cancelled(eutils: EutilsServer) -> None:
    # A notebook: an exception (or Ctrl-C, "interrupt kernel") in the middle of one fetch used
    # to cancel the caller's client for good, and the next fetch on it reported real records
    # "not found".
    from cytoreview.service import fetch

    pmids = _pmids(eutils, 3)
    client = _client(eutils)

    def broken_progress(*_: object) -> None:
        raise ZeroDivisionError

    with pytest.raises(ZeroDivisionError):
        fetch(pmids, client=client, progress=broken_progress)
    result = fetch(pmids, client=client)
    assert result.failures == []
    assert [a.pmid for a in result.articles] == pmids
    assert client.stats.requests >= 2  # the runs' requests are counted on the caller's client
    client.close()


def test_one_identifier_may_be_given_alone_and_pmids_as_ints(eutils: EutilsServer) -> None:
    from cytoreview.errors import InvalidInput
    from cytoreview.service import fetch

    pmid = _pmids(eutils, 1)[0]
    with _client(eutils) as client:
        # A bare string used to be read character by character: PMIDs 1, 5, 4, ...
        assert [a.pmid for a in fetch(pmid, client=client).articles] == [pmid]
        assert [a.pmid for a in fetch(int(pmid), client=client).articles] == [pmid]
        assert [a.pmid for a in fetch([int(pmid)], client=client).articles] == [pmid]
        with pytest.raises(InvalidInput, match="must be a string or an int"):
            fetch([1.5], client=client)  # type: ignore[list-item]
        with pytest.raises(InvalidInput, match="not bytes"):
            fetch(pmid.encode(), client=client)  # type: ignore[arg-type]
        import numpy as np

        # A PMID column of a pandas frame holds numpy integers.
        column = np.array([int(pmid)])
        assert [a.pmid for a in fetch(column, client=client).articles] == [pmid]


class _ClearedAfterLooking(Cache):
    """`cytoreview cache clear` run by another process just after this fetch looked."""

    def cached(self, pmids: Sequence[str]) -> set[str]:
        found = super().cached(pmids)
        self.clear()
        return found


def _cached(server: EutilsServer, directory: Path, n: int) -> list[str]:
    """``n`` PMIDs of the stand-in, fetched once so that all are in the cache there."""
    from cytoreview.service import fetch

    pmids = _pmids(server, n)
    with _client(server) as client, Cache(directory) as cache:
        assert fetch(pmids, client=client, cache=cache, roles=False).failures == []
    return pmids


@pytest.mark.parametrize("count", [3, 700], ids=["in-process", "worker-processes"])
def test_records_gone_from_the_cache_meanwhile_are_fetched_again(
        eutils: EutilsServer, tmp_path: Path, count: int) -> None:
    # They were reported "PMID not found in PubMed" (3,009 of them in a helper's run).
    from cytoreview.service import fetch

    pmids = _cached(eutils, tmp_path / "c", count)
    with _client(eutils) as client, _ClearedAfterLooking(tmp_path / "c") as cache:
        result = fetch(pmids, client=client, cache=cache, roles=False)
    assert result.failures == []
    assert [a.pmid for a in result.articles] == pmids


@pytest.mark.parametrize("count", [3, 700], ids=["in-process", "worker-processes"])
def test_offline_a_damaged_cache_entry_is_named_unreadable(
        eutils: EutilsServer, tmp_path: Path, count: int) -> None:
    # With worker processes (600+ records) it read "not in the cache (--offline)": the user
    # went looking for a record that was there.
    import sqlite3

    from cytoreview.service import fetch

    pmids = _cached(eutils, tmp_path / "c", count)
    with sqlite3.connect(tmp_path / "c" / Cache.FILENAME) as db:
        db.execute("UPDATE records SET xml = substr(xml, 1, 100) WHERE pmid = ?", (pmids[1],))
    asked = len(eutils.requests)
    with _client(eutils) as client, Cache(tmp_path / "c") as cache:
        result = fetch(pmids, client=client, cache=cache, roles=False, offline=True)
    assert len(eutils.requests) == asked
    assert [(f.input, f.reason) for f in result.failures] == [
        (pmids[1], "not retrieved: cached record unreadable (fetch it again online)")]
    assert len(result.articles) == count - 1


def test_a_damaged_cache_entry_is_fetched_again(eutils: EutilsServer, tmp_path: Path) -> None:
    # It failed the whole command with exit 2 and no output.
    import sqlite3

    pmids = _pmids(eutils, 2)
    env = {"CYTOREVIEW_CACHE_DIR": str(tmp_path / "c")}
    runner = CliRunner()
    first = runner.invoke(app, ["fetch", *pmids, "-f", "jsonl"], env=env)
    assert first.exit_code == 0
    with sqlite3.connect(tmp_path / "c" / Cache.FILENAME) as db:
        (xml,) = db.execute("SELECT xml FROM records WHERE pmid = ?", (pmids[0],)).fetchone()
        db.execute("UPDATE records SET xml = ? WHERE pmid = ?", (bytes(xml)[:100], pmids[0]))
    asked = len(eutils.requests)
    again = runner.invoke(app, ["fetch", *pmids, "-f", "jsonl"], env=env)
    assert again.exit_code == 0, again.stderr
    assert [json.loads(line)["pmid"] for line in again.stdout.splitlines()] == pmids
    assert [r.endpoint for r in eutils.requests[asked:]] == ["efetch"]  # only the damaged one
    with sqlite3.connect(tmp_path / "c" / Cache.FILENAME) as db:
        db.execute("UPDATE records SET xml = ? WHERE pmid = ?", (bytes(xml)[:100], pmids[0]))
    offline = runner.invoke(app, ["fetch", *pmids, "-f", "jsonl", "--offline"], env=env)
    assert offline.exit_code == 1
    assert f"{pmids[0]}: not retrieved: cached record unreadable" in offline.stderr


def test_one_batch_that_times_out_is_not_the_service_gone(eutils: EutilsServer) -> None:
    # After answers, one batch that keeps timing out used to end the whole job as "service
    # unreachable" (every batch still waiting lost). Now it fails alone; two in a row with no
    # answer between still mean E-utilities has gone quiet, and the job stops.
    pmids = _pmids(eutils, 6)
    eutils.configure(stall_seconds=2.0)
    eutils.script([None, "stall", "stall", None], endpoint="efetch")
    with _client(eutils, timeout=0.4, max_attempts=2) as client:
        result = Fetcher(client, batch_size=2, workers=1, roles=False).run(
            [Identifier("pmid", p, p) for p in pmids])
    assert result.fatal is None
    assert [f.input for f in result.failures] == pmids[2:4]
    assert all("timed out" in f.reason for f in result.failures)
    assert [a.pmid for a in result.articles] == pmids[:2] + pmids[4:]


def test_two_batches_timing_out_in_a_row_stop_the_job(eutils: EutilsServer) -> None:
    pmids = _pmids(eutils, 8)
    eutils.configure(stall_seconds=2.0)
    eutils.script([None] + ["stall"] * 12, endpoint="efetch")
    with _client(eutils, timeout=0.4, max_attempts=2) as client:
        result = Fetcher(client, batch_size=2, workers=1, roles=False).run(
            [Identifier("pmid", p, p) for p in pmids])
        assert result.fatal is not None and "timed out" in result.fatal
        assert [a.pmid for a in result.articles] == pmids[:2]
        assert client.stats.requests == 5  # one answer, two batches of two attempts; no more


def test_a_failed_answer_of_the_pmc_id_converter_is_retried(eutils: EutilsServer) -> None:
    # {"status": "error", ...} was taken as an answer: every PMCID "not known to PMC".
    pmcid = "PMC529317"
    eutils.script(["error200"], endpoint="idconv")
    with _client(eutils) as client:
        assert client.idconv([pmcid])[pmcid]


def test_the_callers_client_still_rules_the_run(eutils: EutilsServer) -> None:
    # Each run works on a sibling of the caller's client; the caller's cancel() (a Stop
    # button, a watchdog thread) must still stop it, and a subclass's send() must still be
    # the one that sends.
    import threading

    from cytoreview.service import fetch

    class Counting(EutilsClient):
        sent = closed = 0

        def send(self, *args: Any, **kwargs: Any) -> bytes:
            Counting.sent += 1
            return super().send(*args, **kwargs)

        def close(self) -> None:  # would close what it shares with the caller (a log, say)
            Counting.closed += 1
            super().close()

    pmids = _pmids(eutils, 1400)
    config = Settings(eutils_url=eutils.url, api_key="fault-suite", backoff_base=0.05)
    with Counting(config, limiter=RateLimiter(config.rate)) as client:
        assert fetch(pmids[:3], client=client, roles=False).failures == []
        assert (Counting.sent, Counting.closed) == (1, 0)
        eutils.configure(latency=0.5)
        threading.Timer(0.3, client.cancel).start()
        result = fetch(pmids, client=client, roles=False)
        assert len(result.articles) < len(pmids)  # stopped, not run to the end
        # What was not had says why: it was cancelled, not "not found in PubMed".
        assert result.failures
        assert all(f.reason == "not retrieved: cancelled" for f in result.failures)
        later = fetch(pmids[:2], client=client, roles=False)  # a cancelled client stays so
        assert [f.reason for f in later.failures] == ["not retrieved: cancelled"] * 2


def test_an_interrupt_names_records_answered_but_not_yet_stored(
        eutils: EutilsServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # An answer had come back, Ctrl-C came while it was parsed: "0 input(s) not fetched",
    # and the records were lost without a word.
    from cytoreview.errors import Interrupted

    def interrupted_while_parsing(*_: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(fetch_worker, "digest", interrupted_while_parsing)
    pmids = _pmids(eutils, 3)
    with _client(eutils) as client, pytest.raises(Interrupted) as info:
        Fetcher(client, roles=False).run([Identifier("pmid", p, p) for p in pmids])
    assert info.value.remaining == pmids


def test_a_history_page_that_times_out_after_answers_is_asked_for_by_id(
        eutils: EutilsServer) -> None:
    from cytoreview.fetcher import History

    eutils.configure(stall_seconds=2.0)
    with _client(eutils, timeout=0.4, max_attempts=2) as client:
        found = client.esearch("cancer", retmax=6, usehistory=True)
        assert found.webenv and found.query_key and len(found.ids) == 6
        history = History(found.webenv, found.query_key, tuple(found.ids))
        eutils.script([None, "stall", "stall"], endpoint="efetch")
        result = Fetcher(client, batch_size=2, workers=1, roles=False).run(
            [Identifier("pmid", p, p) for p in found.ids], history=history)
    assert result.failures == []
    assert [a.pmid for a in result.articles] == found.ids


def test_a_history_page_asked_for_by_id_that_times_out_again_fails_alone(
        eutils: EutilsServer) -> None:
    # The page timed out after answers and was asked for by ID; when that timed out too, the
    # two stalls in a row read as the service gone and every page still waiting was lost.
    from cytoreview.fetcher import History

    eutils.configure(stall_seconds=2.0)
    with _client(eutils, timeout=0.4, max_attempts=2) as client:
        found = client.esearch("cancer", retmax=6, usehistory=True)
        history = History(found.webenv, found.query_key, tuple(found.ids))
        # The last page stalls (both attempts), then both attempts by ID stall too.
        eutils.script([None, None] + ["stall"] * 4, endpoint="efetch")
        result = Fetcher(client, batch_size=2, workers=1, roles=False).run(
            [Identifier("pmid", p, p) for p in found.ids], history=history)
    assert result.fatal is None
    assert [f.input for f in result.failures] == found.ids[4:]
    assert all("timed out" in f.reason for f in result.failures)
    assert [a.pmid for a in result.articles] == found.ids[:4]


def test_after_a_history_set_expires_the_other_pages_go_by_id_at_once(
        eutils: EutilsServer) -> None:
    # Each page of an expired set cost two failed requests before its PMIDs were asked by ID:
    # a 10,000-record search that outlived its WebEnv spent 100 requests (30 s) on nothing.
    from cytoreview.fetcher import History

    with _client(eutils) as client:
        found = client.esearch("cancer", retmax=6, usehistory=True)
        history = History(found.webenv, found.query_key, tuple(found.ids))
        eutils.forget_history()
        asked = len(eutils.requests)
        result = Fetcher(client, batch_size=2, workers=1, roles=False).run(
            [Identifier("pmid", p, p) for p in found.ids], history=history)
    assert result.failures == []
    assert [a.pmid for a in result.articles] == found.ids
    efetches = [r for r in eutils.requests[asked:] if r.endpoint == "efetch"]
    assert len(efetches) == 2 + 3  # the first page's two tries, then each page by ID


def test_a_page_asked_for_by_id_after_the_set_expired_is_an_id_batch(
        eutils: EutilsServer) -> None:
    # It was still treated as a page: when it failed by ID it was asked for by ID a second
    # time, with every attempt, before being split (23 requests where ID batches take 15).
    from cytoreview.fetcher import History

    with _client(eutils) as client:
        found = client.esearch("cancer", retmax=6, usehistory=True)
        eutils.configure(fail_pmids=[found.ids[3]])
        asked = len(eutils.requests)
        plain = Fetcher(client, batch_size=2, workers=1, roles=False).run(
            [Identifier("pmid", p, p) for p in found.ids])
        by_id = len(eutils.requests) - asked
        history = History(found.webenv, found.query_key, tuple(found.ids))
        eutils.forget_history()
        asked = len(eutils.requests)
        result = Fetcher(client, batch_size=2, workers=1, roles=False).run(
            [Identifier("pmid", p, p) for p in found.ids], history=history)
    assert [f.input for f in result.failures] == [f.input for f in plain.failures]
    assert [f.input for f in result.failures] == [found.ids[3]]
    # The first page's two tries by WebEnv, then the same requests as ID batches.
    assert len(eutils.requests) - asked == by_id + 2


def test_a_doi_is_not_remembered_while_another_of_its_records_could_not_be_fetched(
        tmp_path: Path) -> None:
    # Two records carry this DOI; 420122 failed once, 420123 was taken and the cache kept
    # DOI -> 420123 for good: healthy runs later never looked again, nor warned.
    import warnings

    from cytoreview.errors import CytoreviewWarning
    from cytoreview.service import fetch
    from cytoreview.testing.records import load_store

    fixture = Path(__file__).parent / "fixtures" / "xml" / "one_doi_two_records.xml"
    doi = "10.1093/ajcn/32.2.277"
    with EutilsServer(store=load_store([fixture]), rate_limit=False) as server:
        server.configure(fail_pmids=["420122"])
        with _client(server) as client, Cache(tmp_path / "c") as cache:
            first = fetch([doi], client=client, cache=cache, roles=False)
        assert [a.pmid for a in first.articles] == ["420123"]
        server.configure(fail_pmids=[])
        with _client(server) as client, Cache(tmp_path / "c") as cache, \
                warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            again = fetch([doi], client=client, cache=cache, roles=False)
    assert [a.pmid for a in again.articles] == ["420122"]
    assert [w.category for w in caught] == [CytoreviewWarning]
