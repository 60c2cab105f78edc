"""`cytoreview search`: a PubMed query through esearch, then fetched and summarized."""

from __future__ import annotations

import json
import re

import httpx
from typer.testing import CliRunner

from cytoreview.cli import app
from cytoreview.eutils import EutilsClient, RateLimiter, Settings
from cytoreview.fetcher import Fetcher, History
from cytoreview.ids import Identifier
from cytoreview.service import search
from cytoreview.testing.eutils_server import EutilsServer
from cytoreview.testing.query import run_query


def _mentions(record: dict[str, object], pattern: str) -> bool:
    text = " ".join([str(record["title"]), str(record["abstract"]),
                     *map(str, record["mesh_terms"]), *map(str, record["keywords"])])  # type: ignore[call-overload]
    return re.search(pattern, text, re.IGNORECASE) is not None


def test_search_returns_summarized_records_that_match(eutils: EutilsServer) -> None:
    expected = run_query(eutils.store, "interleukin-2").pmids
    assert len(expected) >= 10  # the stand-in's share of PubMed's IL-2 literature
    result = CliRunner().invoke(app, ["search", "interleukin-2", "--max", "30", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert {r["pmid"] for r in records} == set(sorted(expected, key=int)[-30:])
    for record in records:
        assert _mentions(record, r"interleukin[- ]2\b"), record["pmid"]
        assert record["abstract"] == "" or record["sentences"]
        assert set(record["summary"]) >= {"purpose", "findings", "conclusions"}
    esearch = [r for r in eutils.requests if r.endpoint == "esearch"]
    assert len(esearch) == 1 and esearch[0].params["retmax"] == "30"


def test_search_says_when_pubmed_has_more(eutils: EutilsServer) -> None:
    result = CliRunner().invoke(app, ["search", "interleukin-2", "--max", "5", "-f", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5
    assert "showing the first 5" in result.stderr


def test_search_without_results_says_so(eutils: EutilsServer) -> None:
    result = CliRunner().invoke(app, ["search", "qqqzzzxxyy", "-f", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert "no PubMed results" in result.stderr


def test_offline_search_replays_the_last_online_run_without_asking_ncbi(
        eutils: EutilsServer) -> None:
    runner = CliRunner()
    result = runner.invoke(app, ["search", "interleukin-2", "--offline", "-f", "json"])
    assert result.exit_code == 1
    assert "interleukin-2" in result.stderr and "not in the cache" in result.stderr
    assert not eutils.requests

    online = runner.invoke(app, ["search", "interleukin-2", "--max", "5", "-f", "jsonl"])
    assert online.exit_code == 0, online.stderr
    sent = len(eutils.requests)
    offline = runner.invoke(app, ["search", "interleukin-2", "--max", "5", "--offline",
                                  "-f", "jsonl"])
    assert offline.exit_code == 0, offline.stderr
    assert offline.stdout == online.stdout
    assert "showing the first 5" in offline.stderr
    assert "last online run" not in offline.stderr
    # More than that run kept: the five, and a word on why not more.
    more = runner.invoke(app, ["search", "interleukin-2", "--max", "8", "--offline",
                               "-f", "jsonl"])
    assert (more.exit_code, more.stdout) == (0, online.stdout)
    assert "all that the last online run kept" in more.stderr
    assert len(eutils.requests) == sent


def _newest(eutils: EutilsServer, query: str, n: int) -> list[str]:
    """The first ``n`` PMIDs of ``query`` in PubMed's (and the stand-in's) order."""
    return sorted(run_query(eutils.store, query).pmids, key=int, reverse=True)[:n]


def _jsonl_pmids(output: str) -> list[str]:
    return [json.loads(line)["pmid"] for line in output.splitlines()]


def test_large_search_is_fetched_in_pages_of_its_history_set(eutils: EutilsServer) -> None:
    expected = _newest(eutils, "cancer", 700)
    result = CliRunner().invoke(app, ["search", "cancer", "--max", "700", "-f", "jsonl", "-q"])
    assert result.exit_code == 0, result.stderr
    assert _jsonl_pmids(result.stdout) == expected
    (esearch,) = [r for r in eutils.requests if r.endpoint == "esearch"]
    assert (esearch.params["usehistory"], esearch.params["retmax"]) == ("y", "700")
    efetch = [r for r in eutils.requests if r.endpoint == "efetch"]
    assert all("id" not in r.params and r.params["WebEnv"] and r.params["query_key"] == "1"
               for r in efetch)
    assert sorted(int(r.params["retstart"]) for r in efetch) == [0, 200, 400, 600]
    assert max(r.n_ids or 0 for r in efetch) <= 200
    assert eutils.count(status=429) == 0


def test_bigger_search_fetches_only_what_the_smaller_one_did_not(eutils: EutilsServer) -> None:
    # As after a Ctrl-C: what is cached is never asked for again, whole pages of the set that
    # are missing come from the history server, the rest by ID.
    first = CliRunner().invoke(app, ["search", "cancer", "--max", "300", "-f", "jsonl", "-q"])
    assert first.exit_code == 0, first.stderr
    cached = set(_jsonl_pmids(first.stdout))
    eutils.reset()
    again = CliRunner().invoke(app, ["search", "cancer", "--max", "700", "-f", "jsonl", "-q"])
    assert again.exit_code == 0, again.stderr
    assert _jsonl_pmids(again.stdout) == _newest(eutils, "cancer", 700)
    asked = eutils.requested_ids("efetch", status=200)
    assert not cached & set(asked)
    assert sorted(asked) == sorted(set(_newest(eutils, "cancer", 700)) - cached)
    by_page = [r for r in eutils.requests if r.endpoint == "efetch" and "WebEnv" in r.params]
    assert sorted(int(r.params["retstart"]) for r in by_page) == [400, 600]


def test_expired_history_set_is_fetched_by_id_instead(eutils: EutilsServer) -> None:
    eutils.configure(history_ttl=0)  # NCBI forgot the set before the first page was asked
    result = CliRunner().invoke(app, ["search", "cancer", "--max", "450", "-f", "jsonl", "-q"])
    assert result.exit_code == 0, result.stderr
    assert _jsonl_pmids(result.stdout) == _newest(eutils, "cancer", 450)
    by_id = [r for r in eutils.requests if r.endpoint == "efetch" and "id" in r.params]
    assert sorted(i for r in by_id for i in r.ids) == sorted(_newest(eutils, "cancer", 450))


def test_history_pages_are_matched_by_pmid_not_position(eutils: EutilsServer) -> None:
    # The set changed on NCBI's side between the search and the fetch (new records shift
    # every page): each record still goes to its own PMID, and what a page lacks is asked by ID.
    wanted = _newest(eutils, "cancer", 600)
    with EutilsClient(Settings.from_env()) as client:
        found = client.esearch("cancer", retmax=600, usehistory=True)
        assert found.ids == wanted and found.webenv and found.query_key
        newer = sorted(eutils.store.records, key=int)[:150]
        eutils.eutils._history[found.webenv][0][:0] = newer  # 150 records in front
        result = Fetcher(client, roles=False).run(
            [Identifier("pmid", p, p) for p in wanted],
            History(found.webenv, found.query_key, tuple(found.ids)))
    assert [a.pmid for a in result.articles] == wanted
    assert not result.failures
    assert not set(newer) & {a.pmid for a in result.articles}


def test_search_note_when_pubmed_has_more_than_esearch_gives() -> None:
    asked: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(request)
        if "esearch" in request.url.path:
            ids = [str(40_000_000 - i) for i in range(int(request.url.params["retmax"]))]
            body = {"esearchresult": {"count": "123456", "idlist": ids,
                                      "webenv": "MCID_1", "querykey": "1"}}
            return httpx.Response(200, json=body)
        return httpx.Response(200, content=b"<PubmedArticleSet></PubmedArticleSet>")

    settings = Settings(eutils_url="http://eutils.test/", api_key="k")
    with EutilsClient(settings, transport=httpx.MockTransport(answer),
                      limiter=RateLimiter(1000)) as client:
        result = search("cancer", max_results=20_000, client=client, roles=False)
    assert result.note == ("PubMed has 123,456 results for 'cancer'; showing the first 9,999 "
                           "(esearch returns at most 9,999)")
    assert asked[0].url.params["retmax"] == "9999"
    pages = [r for r in asked if "efetch" in r.url.path and "WebEnv" in r.url.params]
    assert len(pages) == 50  # and, as the pages came back empty, 9,999 PMIDs asked by ID
    assert len(result.failures) == 9999


def test_a_query_ncbi_cannot_read_is_a_usage_error_asked_once(eutils: EutilsServer) -> None:
    result = CliRunner().invoke(app, ["search", "(cancer AND", "-f", "json"])
    assert result.exit_code == 2
    assert "cannot read the query" in result.stderr and "Traceback" not in result.stderr
    assert "'(cancer AND'" in result.stderr.splitlines()[0]
    assert len([r for r in eutils.requests if r.endpoint == "esearch"]) == 1  # not retried


def test_an_empty_query_is_refused_before_any_request(eutils: EutilsServer) -> None:
    result = CliRunner().invoke(app, ["search", "  ", "-f", "json"])
    assert result.exit_code == 2 and "the query is empty" in result.stderr
    assert eutils.requests == []


def test_a_backend_error_is_still_retried(eutils: EutilsServer) -> None:
    eutils.script(["error200", None], endpoint="esearch")  # "Search Backend failed: ..."
    result = CliRunner().invoke(app, ["search", "interleukin-2", "--max", "3", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    assert len([r for r in eutils.requests if r.endpoint == "esearch"]) == 2


def test_terms_pubmed_does_not_know_are_named(eutils: EutilsServer) -> None:
    # PubMed drops an unknown term and searches the rest: a typo widens the search silently.
    result = CliRunner().invoke(
        app, ["search", "interleukin-2 AND zzzqqqxx", "--max", "3", "-f", "json"]
    )
    assert result.exit_code == 0, result.stderr
    assert "PubMed left out what it does not know: zzzqqqxx" in result.stderr


def test_offline_with_refresh_or_without_cache_is_a_usage_error(eutils: EutilsServer) -> None:
    for flags in (["--offline", "--refresh"], ["--offline", "--no-cache"]):
        for command in (["search", "interleukin-2"], ["fetch", "15461571"]):
            result = CliRunner().invoke(app, [*command, *flags, "-f", "json"])
            assert result.exit_code == 2, (command, flags, result.stderr)
            assert "--offline" in result.stderr and "Traceback" not in result.stderr
    assert eutils.requests == []
