"""The local E-utilities stand-in itself, exercised over real HTTP with httpx."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from lxml import etree

from cytoreview.testing import EutilsServer, RecordStore, find_data_files, load_store
from cytoreview.testing.eutils_server import DEFAULT_FAULT_KINDS, FAULT_KINDS

ROOT = Path(__file__).resolve().parents[1]
DATA = find_data_files(ROOT)
SEED_DOI_001 = "10.1097/01.cco.0000142070.45097.68"
SEED_DOI_000 = "10.1517/14712598.4.10.1595"
UNKNOWN_DOI_004 = "10.2174/156800909790192392"
# A real 2021 record (pubmed21n1298) whose own DOI is 10.1039/c8pp00201k and whose ReferenceList
# cites 10.1039/b707734c: the reference's DOI must never lead to it.
SHARED_PMID = "30310913"
SHARED_DOI = "10.1039/c8pp00201k"
SHARED_REFERENCE_DOI = "10.1039/b707734c"
PARSER = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=True)


@pytest.fixture(scope="module")
def seed_store() -> RecordStore:
    return load_store(DATA["seeds"])


TRAIN_2021 = ROOT.parent / "shared" / "data" / "pubmed21n1298.train.xml.gz"


@pytest.fixture(scope="module")
def full_store() -> RecordStore:
    """Seeds plus the 16,599 real 2021 records: the same files, in the same order, as the
    session store of conftest.py, so load_store's cache loads them once per session."""
    if not TRAIN_2021.is_file():
        pytest.skip("../shared/data is not beside the repository")
    return load_store([*DATA["seeds"], TRAIN_2021])


@pytest.fixture
def make_server() -> Iterator[Callable[..., EutilsServer]]:
    servers: list[EutilsServer] = []

    def make(**kwargs: Any) -> EutilsServer:
        srv = EutilsServer(**kwargs).start()
        servers.append(srv)
        return srv

    yield make
    for srv in servers:
        srv.close()


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=10) as c:
        yield c


def pmids_of(body: bytes) -> list[str]:
    root = etree.fromstring(body, PARSER)
    assert root.tag == "PubmedArticleSet"
    return [str(el.findtext("MedlineCitation/PMID")) for el in root.iterfind("PubmedArticle")]


def esearch_json(client: httpx.Client, srv: EutilsServer, **params: str) -> dict[str, Any]:
    r = client.get(srv.url + "esearch.fcgi", params={"db": "pubmed", "retmode": "json", **params})
    assert r.status_code == 200, r.text
    result: dict[str, Any] = r.json()["esearchresult"]
    return result


# ---------------------------------------------------------------------- store and seeds
def test_seed_store_holds_the_three_seed_articles(seed_store: RecordStore) -> None:
    assert sorted(seed_store.records) == ["15461571", "15627015", "2215513"]
    assert seed_store.pmid_for_doi(SEED_DOI_001.upper()) == "15627015"
    assert seed_store.pmid_for_doi(SEED_DOI_000) == "15461571"
    assert seed_store.doi_for_pmid("2215513") is None
    assert seed_store.pmid_for_doi(UNKNOWN_DOI_004) is None


def test_seed_ids_file_covers_the_seed_pages() -> None:
    lines = (ROOT / "data" / "seeds" / "ids.txt").read_text(encoding="utf-8").splitlines()
    ids = [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    assert ids == ["15461571", SEED_DOI_001, "2215513", UNKNOWN_DOI_004]
    comments = "\n".join(ln for ln in lines if ln.lstrip().startswith("#"))
    assert "002" in comments and "no PMID, DOI or PMCID" in comments


def test_structured_seed_keeps_its_labels(seed_store: RecordStore) -> None:
    root = etree.fromstring(seed_store.records["15627015"], PARSER)
    sections = [(a.get("Label"), a.get("NlmCategory")) for a in root.iter("AbstractText")]
    assert sections == [
        ("PURPOSE OF REVIEW", "OBJECTIVE"),
        ("RECENT FINDINGS", "RESULTS"),
        ("SUMMARY", "CONCLUSIONS"),
    ]


def test_deleted_citations_are_not_served(full_store: RecordStore) -> None:
    assert full_store.deleted
    assert not full_store.deleted & set(full_store.records)


# ---------------------------------------------------------------------- esearch
def test_doi_search_finds_seed_and_real_record_and_names_the_unknown(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=full_store)
    term = " OR ".join(f'"{d}"[doi]' for d in (SEED_DOI_001, SHARED_DOI.upper(), UNKNOWN_DOI_004))
    res = esearch_json(client, srv, term=term)
    assert sorted(res["idlist"]) == sorted(["15627015", SHARED_PMID])
    assert res["count"] == "2"
    assert res["errorlist"]["phrasesnotfound"] == [UNKNOWN_DOI_004]


def test_reference_doi_never_resolves_to_the_citing_record(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    raw = full_store.records[SHARED_PMID]
    assert SHARED_REFERENCE_DOI.encode() in raw.lower()  # it is cited by the record...
    srv = make_server(store=full_store)
    res = esearch_json(client, srv, term=f'"{SHARED_REFERENCE_DOI}"[doi]')
    assert res["idlist"] == []  # ...but it is not the record's DOI
    assert res["count"] == "0"
    assert res["errorlist"]["phrasesnotfound"] == [SHARED_REFERENCE_DOI]
    assert res["warninglist"]["outputmessages"] == ["No items found."]


def test_esearch_xml_with_error_list(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    term = f"{SEED_DOI_000}[doi] OR {UNKNOWN_DOI_004}[doi]"
    r = client.get(srv.url + "esearch.fcgi", params={"db": "pubmed", "term": term})
    assert r.status_code == 200
    root = etree.fromstring(r.content, PARSER)
    assert root.tag == "eSearchResult"
    assert root.findtext("Count") == "1"
    assert [i.text for i in root.iterfind("IdList/Id")] == ["15461571"]
    assert root.findtext("ErrorList/PhraseNotFound") == UNKNOWN_DOI_004


def test_esearch_pmid_pmcid_and_free_text(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=full_store, rate_limit=False)
    assert esearch_json(client, srv, term="2215513[pmid] OR 15461571[uid]")["idlist"] == [
        "15461571",
        "2215513",
    ]
    assert esearch_json(client, srv, term="PMC529317[pmcid]")["idlist"] == ["15550987"]
    # free text: every hit contains all words, case-insensitively; a phrase must be adjacent
    res = esearch_json(client, srv, term="Interleukin-2 CANCER therapy", retmax="500")
    hits = res["idlist"]
    assert "15627015" in hits and "2215513" not in hits  # 2215513 says "malignancy"
    assert int(res["count"]) == len(hits)
    assert hits == sorted(hits, key=int, reverse=True)  # most recent (highest PMID) first
    for pmid in hits:
        text = full_store.texts[pmid]
        assert "interleukin" in text and "cancer" in text and "therapy" in text
    phrase = esearch_json(client, srv, term='"lessons from the clinical trials"')
    assert phrase["idlist"] == ["2215513"]
    reversed_phrase = esearch_json(client, srv, term='"trials clinical the from lessons"')
    assert reversed_phrase["idlist"] == []
    narrowed = esearch_json(client, srv, term="interleukin-2 NOT melanoma", retmax="500")
    assert "2215513" in narrowed["idlist"] and "15627015" not in narrowed["idlist"]


def test_esearch_paging_and_history_then_efetch(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=full_store, rate_limit=False)
    full = esearch_json(client, srv, term="cancer", retmax="10000")["idlist"]
    assert len(full) > 100
    page = esearch_json(client, srv, term="cancer", retstart="5", retmax="7")
    assert page["idlist"] == full[5:12] and page["retstart"] == "5" and page["retmax"] == "7"
    hist = esearch_json(client, srv, term="cancer", usehistory="y", retmax="0")
    assert hist["idlist"] == [] and hist["count"] == str(len(full))
    assert hist["querykey"] == "1" and hist["webenv"].startswith("MCID_")
    params = {"db": "pubmed", "retmode": "xml", "WebEnv": hist["webenv"], "query_key": "1"}
    r = client.get(srv.url + "efetch.fcgi", params={**params, "retstart": "3", "retmax": "4"})
    assert r.status_code == 200 and pmids_of(r.content) == full[3:7]
    assert srv.requests[-1].n_ids == 4
    again = esearch_json(client, srv, term="therapy", usehistory="y", WebEnv=hist["webenv"])
    assert again["querykey"] == "2" and again["webenv"] == hist["webenv"]
    bad = client.get(srv.url + "efetch.fcgi", params={**params, "WebEnv": "MCID_nope"})
    assert bad.status_code == 200 and b"<ERROR>" in bad.content


def test_history_sets_expire_like_ncbis(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=full_store, rate_limit=False)
    hist = esearch_json(client, srv, term="cancer", usehistory="y", retmax="0")
    params = {"db": "pubmed", "retmode": "xml", "WebEnv": hist["webenv"], "query_key": "1",
              "retmax": "2"}
    assert len(pmids_of(client.get(srv.url + "efetch.fcgi", params=params).content)) == 2
    srv.forget_history()
    gone = client.get(srv.url + "efetch.fcgi", params=params)
    assert gone.status_code == 200 and b"Unable to obtain query #1" in gone.content
    srv.configure(history_ttl=0)
    hist = esearch_json(client, srv, term="cancer", usehistory="y", retmax="0")
    expired = client.get(srv.url + "efetch.fcgi", params={**params, "WebEnv": hist["webenv"]})
    assert b"Unable to obtain query #1" in expired.content
    srv.configure(history_ttl=60)
    hist = esearch_json(client, srv, term="cancer", usehistory="y", retmax="0")
    kept = client.post(srv.url + "efetch.fcgi", data={**params, "WebEnv": hist["webenv"]})
    assert len(pmids_of(kept.content)) == 2
    with pytest.raises(ValueError):
        srv.configure(history_ttl=-1)

def test_empty_term_is_an_error_inside_a_200(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    r = client.get(srv.url + "esearch.fcgi", params={"db": "pubmed", "term": "", "retmode": "json"})
    assert r.status_code == 200 and "ERROR" in r.json()["esearchresult"]


# ---------------------------------------------------------------------- efetch
def test_efetch_keeps_order_and_drops_unknown_ids(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    r = client.get(
        srv.url + "efetch.fcgi",
        params={"db": "pubmed", "id": "2215513,99999999,15461571,15627015", "retmode": "xml"},
    )
    assert r.status_code == 200
    assert r.content.startswith(b"<?xml")
    assert b"<!DOCTYPE PubmedArticleSet" in r.content
    assert pmids_of(r.content) == ["2215513", "15461571", "15627015"]
    empty = client.get(
        srv.url + "efetch.fcgi", params={"db": "pubmed", "id": "1", "retmode": "xml"}
    )
    assert empty.status_code == 200 and pmids_of(empty.content) == []
    rec = srv.requests[0]
    assert (rec.endpoint, rec.method, rec.n_ids, rec.status) == ("efetch", "GET", 4, 200)


def test_efetch_post_with_many_ids_is_logged_as_post(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=full_store)
    ids = sorted(full_store.records, key=int)[:450]
    r = client.post(
        srv.url + "efetch.fcgi",
        data={"db": "pubmed", "id": ",".join(ids), "retmode": "xml", "tool": "cytoreview"},
    )
    assert r.status_code == 200
    assert pmids_of(r.content) == ids
    rec = srv.requests[0]
    assert (rec.method, rec.n_ids, rec.tool) == ("POST", 450, "cytoreview")
    assert srv.count("efetch", method="POST") == 1 and srv.count("efetch", method="GET") == 0


def test_request_log_records_tool_email_and_key(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    client.get(
        srv.url + "efetch.fcgi",
        params={
            "db": "pubmed",
            "id": "2215513",
            "tool": "cytoreview",
            "email": "a@b.org",
            "api_key": "K1",
        },
    )
    (rec,) = srv.requests
    assert (rec.tool, rec.email, rec.api_key, rec.ids) == (
        "cytoreview",
        "a@b.org",
        "K1",
        ("2215513",),
    )
    assert srv.count() == 1 and srv.count("efetch", 200) == 1 and srv.count("esearch") == 0
    srv.reset()
    assert srv.requests == [] and srv.count() == 0


# ---------------------------------------------------------------------- PMC ID converter
def test_idconv_json(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=full_store)
    assert srv.idconv_url.endswith("/pmc/utils/idconv/v1.0/")
    assert "/entrez/eutils/" not in srv.idconv_url
    r = client.get(srv.idconv_url, params={"ids": "PMC529317,PMC9", "format": "json"})
    assert r.status_code == 200
    doc = r.json()
    assert doc["status"] == "ok"
    assert doc["records"][0] == {
        "pmcid": "PMC529317",
        "pmid": "15550987",
        "doi": "10.1371/journal.pbio.0020408",
    }
    assert doc["records"][1] == {"pmcid": "PMC9", "status": "error", "errmsg": "invalid article id"}
    assert srv.requests[0].endpoint == "idconv" and srv.requests[0].n_ids == 2


# ---------------------------------------------------------------------- rate limit
def test_fourth_request_within_a_second_gets_ncbis_429(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    params = {"db": "pubmed", "id": "2215513"}
    codes = [client.get(srv.url + "efetch.fcgi", params=params).status_code for _ in range(3)]
    r = client.get(srv.url + "efetch.fcgi", params=params)
    assert codes == [200, 200, 200]
    assert r.status_code == 429
    assert r.headers["Retry-After"] == "1"
    assert r.json() == {
        "error": "API rate limit exceeded",
        "api-key": "127.0.0.1",
        "count": "4",
        "limit": "3",
    }
    assert srv.count(status=429, rate_limited=True) == 1
    assert srv.requests[-1].n_ids == 1  # what a refused request asked for is still logged


def test_api_key_raises_the_limit_to_ten(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    params = {"db": "pubmed", "id": "2215513", "api_key": "SECRET"}
    codes = [client.get(srv.url + "efetch.fcgi", params=params).status_code for _ in range(11)]
    assert codes == [200] * 10 + [429]
    assert srv.requests[-1].rate_limited
    body = client.get(srv.url + "efetch.fcgi", params=params).json()
    assert body["api-key"] == "SECRET" and body["limit"] == "10"


def test_paced_requests_are_never_refused(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    params = {"db": "pubmed", "id": "2215513"}
    codes = []
    for _ in range(7):
        codes.append(client.get(srv.url + "efetch.fcgi", params=params).status_code)
        time.sleep(0.36)
    assert codes == [200] * 7
    assert srv.count(status=429) == 0


def test_rate_limit_can_be_switched_off(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store, rate_limit=False)
    params = {"db": "pubmed", "id": "2215513"}
    assert {client.get(srv.url + "efetch.fcgi", params=params).status_code for _ in range(8)} == {
        200
    }


# ---------------------------------------------------------------------- faults
def _efetch(client: httpx.Client, srv: EutilsServer) -> httpx.Response:
    return client.get(
        srv.url + "efetch.fcgi", params={"db": "pubmed", "id": "2215513,15627015", "retmode": "xml"}
    )


@pytest.mark.parametrize("code", [500, 502, 503, 504])
def test_scripted_http_errors(
    code: int,
    seed_store: RecordStore,
    make_server: Callable[..., EutilsServer],
    client: httpx.Client,
) -> None:
    srv = make_server(store=seed_store, rate_limit=False)
    srv.script([str(code), None])
    assert _efetch(client, srv).status_code == code
    ok = _efetch(client, srv)
    assert ok.status_code == 200 and pmids_of(ok.content) == ["2215513", "15627015"]
    assert [r.fault for r in srv.requests] == [str(code), None]


def test_injected_429_looks_like_ncbis(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store, rate_limit=False)
    srv.script(["429"])
    r = _efetch(client, srv)
    assert r.status_code == 429 and r.headers["Retry-After"] == "1"
    assert r.json()["error"] == "API rate limit exceeded"
    assert srv.count(status=429, rate_limited=False, fault="429") == 1


def test_truncated_html_empty_and_error200_bodies(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store, rate_limit=False)
    whole = _efetch(client, srv).content
    srv.script(["truncated", "html", "empty", "error200"])
    truncated, html, empty, error200 = (_efetch(client, srv) for _ in range(4))
    assert truncated.status_code == 200 and truncated.content == whole[: len(whole) // 2]
    with pytest.raises(etree.XMLSyntaxError):
        etree.fromstring(truncated.content, PARSER)
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert html.content.lstrip().lower().startswith(b"<!doctype html")
    assert empty.status_code == 200 and empty.content == b""
    assert error200.status_code == 200
    root = etree.fromstring(error200.content, PARSER)
    assert root.tag == "eFetchResult" and root.findtext("ERROR")
    # esearch's error-inside-200 is its JSON ERROR
    srv.script(["error200"], endpoint="esearch")
    res = client.get(
        srv.url + "esearch.fcgi", params={"db": "pubmed", "term": "x", "retmode": "json"}
    )
    assert res.status_code == 200 and "ERROR" in res.json()["esearchresult"]


def test_reset_and_partial_drop_the_connection(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store, rate_limit=False)
    srv.script(["reset", "partial"])
    with pytest.raises(httpx.TransportError):
        _efetch(client, srv)
    with pytest.raises(httpx.TransportError):
        _efetch(client, srv)
    assert _efetch(client, srv).status_code == 200
    assert [(r.fault, r.status) for r in srv.requests] == [
        ("reset", None),
        ("partial", None),
        (None, 200),
    ]


def test_stall_delays_the_answer(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store, rate_limit=False, stall_seconds=0.6)
    srv.script(["stall"])
    start = time.perf_counter()
    r = _efetch(client, srv)
    assert time.perf_counter() - start >= 0.55
    assert r.status_code == 200 and pmids_of(r.content) == ["2215513", "15627015"]
    with pytest.raises(httpx.ReadTimeout):
        srv.script(["stall"])
        client.get(srv.url + "efetch.fcgi", params={"db": "pubmed", "id": "1"}, timeout=0.2)


def test_every_fault_kind_is_known_and_scriptable(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer]
) -> None:
    assert set(DEFAULT_FAULT_KINDS) == {
        "500",
        "502",
        "503",
        "504",
        "429",
        "truncated",
        "html",
        "empty",
        "error200",
        "reset",
        "stall",
    }
    assert set(FAULT_KINDS) - set(DEFAULT_FAULT_KINDS) == {"partial"}
    srv = make_server(store=seed_store)
    with pytest.raises(ValueError):
        srv.script(["bogus"])
    with pytest.raises(ValueError):
        srv.configure(fault_kinds=["bogus"])


def test_random_faults_are_deterministic_per_seed(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    kinds = ["500", "503", "html", "empty", "truncated", "error200"]

    def run(seed: int) -> list[str | None]:
        srv = make_server(
            store=seed_store, rate_limit=False, fault_rate=0.3, fault_kinds=kinds, fault_seed=seed
        )
        for _ in range(40):
            _efetch(client, srv)
        return [r.fault for r in srv.requests]

    first, second, other = run(7), run(7), run(8)
    assert first == second and first != other
    assert 4 <= sum(f is not None for f in first) <= 22
    assert {f for f in first if f} <= set(kinds)


def test_fail_pmids_fail_every_batch_containing_them(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    ids = sorted(full_store.records, key=int)[:8]
    srv = make_server(store=full_store, rate_limit=False, fail_pmids={ids[5]})

    def fetch(batch: list[str]) -> int:
        r = client.post(srv.url + "efetch.fcgi", data={"db": "pubmed", "id": ",".join(batch)})
        return r.status_code

    assert [fetch(ids) for _ in range(3)] == [500, 500, 500]
    assert fetch(ids[:4]) == 200 and fetch(ids[4:]) == 500
    assert fetch(ids[4:6]) == 500 and fetch(ids[4:5]) == 200 and fetch(ids[5:6]) == 500
    assert srv.count("efetch", 500, fault="500") == 6


def test_latency_is_added_to_each_answer(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store, rate_limit=False, latency=0.25)
    start = time.perf_counter()
    _efetch(client, srv)
    assert time.perf_counter() - start >= 0.25
    assert srv.requests[-1].duration >= 0.25
    srv.configure(latency=0)
    _efetch(client, srv)
    assert srv.requests[-1].duration < 0.25


def test_concurrent_requests_are_served_in_parallel(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer]
) -> None:
    srv = make_server(store=seed_store, rate_limit=False, latency=0.5)
    results: list[int] = []
    barrier = threading.Barrier(4, timeout=10)

    def one() -> None:
        with httpx.Client(timeout=10) as c:
            barrier.wait()
            results.append(_efetch(c, srv).status_code)

    threads = [threading.Thread(target=one) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=15)
    assert results == [200] * 4
    assert srv.peak_in_flight >= 2


# ---------------------------------------------------------------------- lifecycle
def test_close_is_prompt_even_with_a_stalled_request(seed_store: RecordStore) -> None:
    srv = EutilsServer(store=seed_store, rate_limit=False, stall_seconds=60).start()
    srv.script(["stall"])
    outcome: list[object] = []

    def stalled() -> None:
        try:
            with httpx.Client(timeout=30) as c:
                outcome.append(_efetch(c, srv).status_code)
        except httpx.HTTPError as exc:
            outcome.append(exc)

    t = threading.Thread(target=stalled)
    t.start()
    deadline = time.monotonic() + 5
    while srv.in_flight == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.perf_counter()
    srv.close()
    assert time.perf_counter() - start < 2
    t.join(timeout=5)
    assert not t.is_alive()
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.HTTPError)
    assert not srv.running
    srv.close()  # idempotent
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{srv.port}/entrez/eutils/efetch.fcgi", timeout=2)


def test_url_shape_and_unknown_paths(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    assert srv.url.startswith("http://127.0.0.1:") and srv.url.endswith("/entrez/eutils/")
    assert client.get(srv.url + "nothing.fcgi").status_code == 404


def test_cli_serves_the_given_files(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    seeds = str(DATA["seeds"][0])
    proc = subprocess.Popen(
        [sys.executable, "-m", "cytoreview.testing.eutils_server", "--data", seeds],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/entrez/eutils/")
        r = httpx.get(url + "efetch.fcgi", params={"db": "pubmed", "id": "15627015"}, timeout=5)
        assert pmids_of(r.content) == ["15627015"]
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_json_bodies_are_valid_json(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    r = client.get(
        srv.url + "esearch.fcgi",
        params={"db": "pubmed", "term": "interleukin-2", "retmode": "json"},
    )
    doc = json.loads(r.content)
    assert doc["header"]["type"] == "esearch"
    assert doc["esearchresult"]["idlist"] == ["15627015", "2215513"]


def test_esearch_by_post_epost_and_requested_ids(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store)
    r = client.post(
        srv.url + "esearch.fcgi",
        data={"db": "pubmed", "term": f'"{SEED_DOI_001}"[doi]', "retmode": "json"},
    )
    assert r.json()["esearchresult"]["idlist"] == ["15627015"]
    posted = client.post(srv.url + "epost.fcgi", data={"db": "pubmed", "id": "2215513,15461571,7"})
    root = etree.fromstring(posted.content, PARSER)
    webenv, key = root.findtext("WebEnv"), root.findtext("QueryKey")
    fetched = client.get(
        srv.url + "efetch.fcgi",
        params={"db": "pubmed", "WebEnv": webenv, "query_key": key, "retmode": "xml"},
    )
    assert pmids_of(fetched.content) == ["2215513", "15461571"]
    assert srv.requested_ids("epost") == ["2215513", "15461571", "7"]
    assert srv.requested_ids() == ["2215513", "15461571"]


def test_idconv_xml_by_default_and_invalid_api_keys(
    seed_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=seed_store, valid_api_keys={"GOOD"})
    r = client.get(srv.idconv_url, params={"ids": "PMC1"})
    root = etree.fromstring(r.content, PARSER)
    assert root.tag == "pmcids" and root.find("record").get("status") == "error"
    bad = client.get(srv.url + "efetch.fcgi", params={"id": "2215513", "api_key": "BAD"})
    assert bad.status_code == 400 and bad.json()["error"] == "API key invalid"
    good = client.get(srv.url + "efetch.fcgi", params={"id": "2215513", "api_key": "GOOD"})
    assert good.status_code == 200


def test_opt_in_disk_cache_gives_the_same_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from cytoreview.testing import records

    monkeypatch.setattr(records, "_PARALLEL_MIN_BYTES", 0)
    monkeypatch.setenv(records.CACHE_ENV, str(tmp_path))
    first = RecordStore.load(DATA["seeds"], jobs=1)
    (pickled,) = tmp_path.glob("seeds.xml.*.pickle")
    again = RecordStore.load(DATA["seeds"], jobs=1)
    assert again.records == first.records and again.doi_to_pmids == first.doi_to_pmids
    assert pickled.is_file()


def test_esearch_returns_at_most_the_first_9999_ids(
    full_store: RecordStore, make_server: Callable[..., EutilsServer], client: httpx.Client
) -> None:
    srv = make_server(store=full_store, rate_limit=False)
    # quoted, a stop word is searched (15,000+ of the 2021 records contain "of")
    res = esearch_json(client, srv, term='"of"', retstart="9990", retmax="100")
    assert int(res["count"]) > 9999
    assert len(res["idlist"]) == 9
    beyond = esearch_json(client, srv, term='"of"', retstart="9999")
    assert "ERROR" in beyond and "9,999" in beyond["ERROR"]


OWN_VS_CITED = b"""<?xml version="1.0"?>
<PubmedArticleSet>
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">900001</PMID>
    <Article PubModel="Electronic">
      <ArticleTitle>Own DOI only in ELocationID.</ArticleTitle>
      <ELocationID EIdType="doi" ValidYN="Y">10.9999/OWN.1</ELocationID>
    </Article>
    <CommentsCorrectionsList>
      <CommentsCorrections RefType="CommentOn">
        <RefSource>Other J. 2020</RefSource><PMID Version="1">900002</PMID>
      </CommentsCorrections>
    </CommentsCorrectionsList>
  </MedlineCitation>
  <PubmedData>
    <ArticleIdList><ArticleId IdType="pubmed">900001</ArticleId>
      <ArticleId IdType="pmc">PMC77</ArticleId></ArticleIdList>
    <ReferenceList><Reference><Citation>Cited.</Citation>
      <ArticleIdList><ArticleId IdType="doi">10.9999/cited.2</ArticleId>
        <ArticleId IdType="pmc">PMC88</ArticleId></ArticleIdList>
    </Reference></ReferenceList>
  </PubmedData>
</PubmedArticle>
<PubmedBookArticle>
  <BookDocument><PMID Version="1">900003</PMID>
    <ArticleIdList><ArticleId IdType="doi">10.9999/book.3</ArticleId></ArticleIdList>
    <ArticleTitle>A chapter.</ArticleTitle>
  </BookDocument>
  <PubmedBookData><ArticleIdList><ArticleId IdType="pubmed">900003</ArticleId></ArticleIdList>
  </PubmedBookData>
</PubmedBookArticle>
</PubmedArticleSet>
"""


def test_store_indexes_only_the_records_own_identifiers() -> None:
    store = RecordStore()
    assert store.add_xml(OWN_VS_CITED) == 2
    assert store.pmid_for_doi("10.9999/own.1") == "900001"
    assert store.pmid_for_doi("10.9999/cited.2") is None
    assert store.pmid_for_pmcid("PMC77") == "900001" and store.pmid_for_pmcid("PMC88") is None
    assert store.pmid_for_doi("10.9999/BOOK.3") == "900003"
    assert "900002" not in store


def test_a_test_that_reaches_beyond_this_machine_fails_at_once() -> None:
    # conftest refuses every connection but loopback: a test that forgot the stand-in (and
    # so would call the real NCBI) fails on the spot instead of depending on the network.
    import socket

    started = time.monotonic()
    with pytest.raises(OSError, match=r"only connect to 127\.0\.0\.1"):
        socket.create_connection(("192.0.2.1", 80), timeout=10)
    with pytest.raises(httpx.ConnectError, match=r"only connect to 127\.0\.0\.1"):
        httpx.get("http://192.0.2.1/entrez/eutils/esearch.fcgi", timeout=10)
    # A host name is refused before its DNS query goes out.
    with pytest.raises(OSError, match=r"only connect to 127\.0\.0\.1, not eutils\.example\.org"):
        socket.getaddrinfo("eutils.example.org", 443)
    with pytest.raises(httpx.ConnectError, match=r"only connect to 127\.0\.0\.1"):
        httpx.get("https://eutils.example.org/entrez/eutils/esearch.fcgi", timeout=10)
    assert time.monotonic() - started < 1
