"""The E-utilities client against httpx.MockTransport: NCBI's rules in the one send path."""

from __future__ import annotations

import dataclasses
import json
import multiprocessing
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from cytoreview.errors import ServiceError, ServiceUnavailable
from cytoreview.eutils import EutilsClient, RateLimiter, Settings, SlotFile

BASE = "http://eutils.test/entrez/eutils/"
SET = b'<?xml version="1.0"?>\n<PubmedArticleSet><PubmedArticle/></PubmedArticleSet>\n'


class CountingLimiter(RateLimiter):
    def __init__(self) -> None:
        super().__init__(rate=1000)
        self.reservations = 0

    def reserve(self) -> float:
        self.reservations += 1
        return 0.0


def make_client(handler: Callable[[httpx.Request], httpx.Response], **settings: object
                ) -> tuple[EutilsClient, CountingLimiter, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return handler(request)

    limiter = CountingLimiter()
    options: dict[str, object] = {"eutils_url": BASE, "backoff_base": 0.001,
                                  "backoff_cap": 0.002, **settings}
    client = EutilsClient(Settings(**options),  # type: ignore[arg-type]
                          transport=httpx.MockTransport(record), limiter=limiter)
    return client, limiter, seen


def params_of(request: httpx.Request) -> dict[str, str]:
    if request.method == "POST":
        query = parse_qs(request.content.decode())
    else:
        query = parse_qs(request.url.query.decode())
    return {k: v[0] for k, v in query.items()}


def test_every_request_carries_tool_email_and_key() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(200, content=SET),
                                  email="me@lab.org", api_key="SECRET123")
    client.efetch(["1", "2"])
    params = params_of(seen[0])
    assert params["tool"] == "cytoreview"
    assert params["email"] == "me@lab.org"
    assert params["api_key"] == "SECRET123"
    assert params["id"] == "1,2"


def test_get_up_to_200_ids_post_beyond() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(200, content=SET))
    client.efetch([str(i) for i in range(1, 201)])
    client.efetch([str(i) for i in range(1, 202)])
    assert [r.method for r in seen] == ["GET", "POST"]
    assert len(params_of(seen[1])["id"].split(",")) == 201


@pytest.mark.parametrize(
    "bad",
    [
        httpx.Response(429, json={"error": "API rate limit exceeded", "count": "4",
                                  "limit": "3"}),
        httpx.Response(500), httpx.Response(502), httpx.Response(503), httpx.Response(504),
        httpx.Response(200, content=SET[: len(SET) // 2]),  # truncated
        httpx.Response(200, content=b"<html><body>Service unavailable</body></html>"),
        httpx.Response(200, content=b""),
        httpx.Response(200, content=b"<eFetchResult><ERROR>Unable to obtain query #1"
                                    b"</ERROR></eFetchResult>"),
    ],
    ids=["429", "500", "502", "503", "504", "truncated", "html", "empty", "error200"],
)
def test_retries_transient_failures_and_counts_every_attempt(bad: httpx.Response) -> None:
    answers = [bad, bad, httpx.Response(200, content=SET)]
    client, limiter, seen = make_client(lambda r: answers.pop(0))
    assert client.efetch(["1"]) == SET
    assert len(seen) == 3
    # Retries go through the limiter too: NCBI counts them.
    assert limiter.reservations == 3
    assert client.stats.retries == 2


def test_gives_up_naming_the_url_but_never_the_key() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(503), api_key="SECRET123",
                                  max_attempts=4)
    with pytest.raises(ServiceError) as info:
        client.efetch(["1"])
    assert len(seen) == 4
    assert BASE + "efetch.fcgi" in str(info.value)
    assert "SECRET123" not in str(info.value)


def test_client_errors_are_not_retried() -> None:
    client, _, seen = make_client(lambda r: httpx.Response(400, text="bad request"))
    with pytest.raises(ServiceError, match="HTTP 400"):
        client.efetch(["1"])
    assert len(seen) == 1


def test_refused_connection_names_the_url() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    client, _, seen = make_client(refuse)
    with pytest.raises(ServiceUnavailable) as info:
        client.esearch("x")
    assert str(info.value) == f"cannot reach {BASE}esearch.fcgi: connection refused"
    assert len(seen) == 3


def test_esearch_reads_ids_history_and_phrases_not_found() -> None:
    body = {"header": {}, "esearchresult": {
        "count": "2", "retmax": "2", "retstart": "0", "idlist": ["15627015", "15461571"],
        "querykey": "1", "webenv": "MCID_1",
        "errorlist": {"phrasesnotfound": ["10.2174/156800909790192392"], "fieldsnotfound": []}}}
    client, _, seen = make_client(lambda r: httpx.Response(200, json=body))
    result = client.esearch('"10.1/x"[doi] OR "10.2/y"[doi]', retmax=6, usehistory=True)
    assert result.ids == ["15627015", "15461571"]
    assert (result.count, result.webenv, result.query_key) == (2, "MCID_1", "1")
    assert result.not_found == ["10.2174/156800909790192392"]
    params = params_of(seen[0])
    assert (params["term"], params["retmax"], params["usehistory"]) == (
        '"10.1/x"[doi] OR "10.2/y"[doi]', "6", "y")


def test_idconv_maps_pmcids_and_marks_unknown() -> None:
    body = {"status": "ok", "records": [
        {"pmcid": "PMC3531190", "pmid": "23193287", "doi": "10.1093/nar/gks1195"},
        {"pmcid": "PMC9999999", "status": "error", "errmsg": "invalid article id"}]}
    client, _, seen = make_client(lambda r: httpx.Response(200, json=body),
                                  idconv_url="http://idconv.test/v1/")
    assert client.idconv(["PMC3531190", "PMC9999999"]) == {
        "PMC3531190": "23193287", "PMC9999999": None}
    assert str(seen[0].url).startswith("http://idconv.test/v1/?")


def test_limiter_spaces_request_starts_to_the_rate() -> None:
    now = [100.0]
    limiter = RateLimiter(rate=3, margin=0.0, clock=lambda: now[0])
    assert limiter.reserve() == 0.0  # the first request starts at once
    assert limiter.reserve() == pytest.approx(1 / 3)  # the next one waits its turn
    now[0] += 0.2
    assert limiter.reserve() == pytest.approx(1 / 3 - 0.2)
    now[0] += 0.5  # the waiting thread woke late: its request starts now ...
    assert limiter.reserve() == 0.0
    now[0] += 0.1  # ... and the one after keeps its distance from that start
    assert limiter.reserve() == pytest.approx(1 / 3 - 0.1)


def _take_slots(path: str, count: int, starts: Any) -> None:
    limiter = RateLimiter(rate=20, margin=0.0, slot_file=SlotFile(path))
    for _ in range(count):
        while (wait := limiter.reserve()) > 0:
            time.sleep(wait)
        starts.put(time.monotonic())


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork and fcntl")
def test_two_processes_share_one_request_budget(tmp_path: Path) -> None:
    # NCBI counts per key, not per process: two commands at once must together keep the pace.
    ctx = multiprocessing.get_context("fork")
    starts = ctx.Queue()
    began = time.monotonic()
    workers = [ctx.Process(target=_take_slots, args=(str(tmp_path / "rate"), 5, starts))
               for _ in range(2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(30)
    taken = sorted(starts.get(timeout=5) for _ in range(10))
    # Ten slots at 20/s cannot all start within less than nine intervals of the first one
    # (each process alone would be done after four).
    assert taken[-1] - began >= 9 / 20 * 0.99


def test_settings_from_environment() -> None:
    env = {"CYTOREVIEW_EUTILS_URL": "http://127.0.0.1:8080/entrez/eutils",
           "NCBI_API_KEY": "k", "NCBI_EMAIL": "a@b.c"}
    settings = Settings.from_env(env)
    assert settings.eutils_url == "http://127.0.0.1:8080/entrez/eutils/"
    assert settings.converter_url == "http://127.0.0.1:8080/pmc/utils/idconv/v1.0/"
    assert (settings.api_key, settings.email, settings.rate) == ("k", "a@b.c", 10.0)
    default = Settings.from_env({})
    assert default.eutils_url == "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
    assert default.rate == 3.0
    assert json.dumps(default.api_key) == "null"


def test_settings_built_in_code_mean_what_the_environment_would() -> None:
    # A library caller's mirror: without the slash every request went to .../entrez/efetch.fcgi
    # (404), and PMCIDs still went to NCBI's own converter.
    mirror = Settings(eutils_url="http://127.0.0.1:8080/entrez/eutils")
    assert mirror.eutils_url == "http://127.0.0.1:8080/entrez/eutils/"
    assert mirror.converter_url == "http://127.0.0.1:8080/pmc/utils/idconv/v1.0/"
    assert Settings.from_env({}, eutils_url="http://127.0.0.1:8080/e/").converter_url == (
        "http://127.0.0.1:8080/pmc/utils/idconv/v1.0/")
    assert dataclasses.replace(Settings(), eutils_url="http://127.0.0.1:8080/e/").converter_url \
        == "http://127.0.0.1:8080/pmc/utils/idconv/v1.0/"
    assert Settings().converter_url.startswith("https://pmc.ncbi.nlm.nih.gov/")
    assert Settings(idconv_url="http://x.org/c/").converter_url == "http://x.org/c/"


def test_dns_failure_names_the_url() -> None:
    def unresolvable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno -2] Name or service not known")

    client, _, _ = make_client(unresolvable)
    with pytest.raises(ServiceUnavailable) as info:
        client.efetch(["1"])
    assert str(info.value) == f"cannot reach {BASE}efetch.fcgi: host name not found"


@pytest.mark.parametrize("name", ["CYTOREVIEW_EUTILS_URL", "CYTOREVIEW_IDCONV_URL"])
def test_a_mistyped_service_url_is_a_usage_error_before_any_request(name: str) -> None:
    # It was retried six times per batch: minutes for a long list before anything was said.
    from cytoreview.errors import InvalidInput

    with pytest.raises(InvalidInput, match=name):
        Settings.from_env({name: "stand-in.example/entrez/eutils/"})
    assert Settings.from_env({name: "http://127.0.0.1:8080"})  # a bare host is a URL


def _raise(exc: Exception) -> Callable[[httpx.Request], httpx.Response]:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc
    return handler


@pytest.mark.parametrize("handler", [
    _raise(httpx.DecodingError("bad gzip body")),
    _raise(httpx.TooManyRedirects("redirect loop")),
    _raise(OSError("the caller's transport broke")),
], ids=["decoding", "redirects", "oserror"])
def test_low_level_failures_are_retried_then_a_service_error(
        handler: Callable[[httpx.Request], httpx.Response]) -> None:
    from cytoreview.errors import ServiceError

    client, _, seen = make_client(handler, max_attempts=3)
    with pytest.raises(ServiceError, match="gave up after 3 attempts"):
        client.efetch(["1"])
    assert len(seen) == 3


@pytest.mark.parametrize("body", [
    b"[]", b'{"esearchresult": {"count": "many", "idlist": []}}',
    b'{"esearchresult": {"count": "1", "idlist": 5}}', b'{"esearchresult": []}',
], ids=["list", "count", "idlist", "result-list"])
def test_an_esearch_answer_of_the_wrong_shape_is_a_service_error(body: bytes) -> None:
    from cytoreview.errors import ServiceError

    client, _, _ = make_client(lambda r: httpx.Response(200, content=body), max_attempts=2)
    with pytest.raises(ServiceError):
        client.esearch("cancer")


def test_an_id_converter_answer_of_the_wrong_shape_is_a_service_error() -> None:
    from cytoreview.errors import ServiceError

    for body in (b"[]", b'{"records": "none"}'):
        client, _, _ = make_client(lambda r, b=body: httpx.Response(200, content=b),
                                   max_attempts=2)
        with pytest.raises(ServiceError):
            client.idconv(["PMC1"])
