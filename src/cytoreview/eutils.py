"""The NCBI E-utilities client: one throttled send path, with retry, for every request.

NCBI's rules, all enforced in :meth:`EutilsClient.send`:

* at most 3 requests/s, 10 with an API key, counted across retries, across every client in the
  process and across every cytoreview process of the user (:class:`RateLimiter`);
* ``tool`` and ``email`` on every request, ``api_key`` when given;
* capped exponential backoff with jitter on 429, 5xx, connection errors and bodies that are
  truncated, not XML/JSON, or carry an ``<ERROR>``;
* efetch by GET for at most 200 IDs, by POST above that.

The HTTP transport is injectable (``httpx.MockTransport`` in unit tests).
"""

from __future__ import annotations

import copy
import json
import os
import random
import re
import struct
import tempfile
import threading
import time
import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Literal
from urllib.parse import urljoin, urlsplit

import httpx

try:
    import fcntl
except ImportError:  # Windows: the limiter is process-wide only
    fcntl = None  # type: ignore[assignment]

from . import __version__
from .errors import (
    CytoreviewError,
    InvalidInput,
    QueryRejected,
    ServiceError,
    ServiceUnavailable,
)

DEFAULT_EUTILS_URL = "https://eutils.ncbi.nlm.nih.gov/entrez/eutils/"
DEFAULT_IDCONV_URL = "https://pmc.ncbi.nlm.nih.gov/tools/idconv/api/v1/articles/"
#: Where a non-NCBI E-utilities base (a mirror, the local stand-in) serves the ID converter.
IDCONV_PATH = "/pmc/utils/idconv/v1.0/"
GET_MAX_IDS = 200
TOOL = "cytoreview"

Expect = Literal["xml", "json"]


@dataclass(frozen=True)
class Settings:
    """Where and how to talk to NCBI. :meth:`from_env` reads the INTERFACE.md variables.

    ``eutils_url`` gets its trailing ``/`` if it lacks one (``urljoin`` would otherwise drop
    its last segment). ``idconv_url`` left empty follows ``eutils_url`` (see
    :attr:`converter_url`), also through ``dataclasses.replace``."""

    eutils_url: str = DEFAULT_EUTILS_URL
    idconv_url: str = ""  # the PMC ID Converter; "" = NCBI's for NCBI, else the same host's
    api_key: str | None = None
    email: str | None = None
    timeout: float = 30.0
    connect_timeout: float = 10.0
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    # Connection refusals are rarely transient; a few quick tries keep a dead URL's message fast.
    max_connect_attempts: int = 3

    def __post_init__(self) -> None:
        if not self.eutils_url.endswith("/"):
            object.__setattr__(self, "eutils_url", self.eutils_url + "/")

    @property
    def converter_url(self) -> str:
        """The PMC ID Converter to use: ``idconv_url`` if set; otherwise NCBI's for NCBI's
        E-utilities and ``/pmc/utils/idconv/v1.0/`` on the same host for any other (a mirror,
        the local stand-in), so PMCIDs never go to NCBI behind a mirror's back."""
        if self.idconv_url:
            return self.idconv_url
        if self.eutils_url == DEFAULT_EUTILS_URL:
            return DEFAULT_IDCONV_URL
        return urljoin(self.eutils_url, IDCONV_PATH)

    @property
    def rate(self) -> float:
        return 10.0 if self.api_key else 3.0

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        # A mistyped URL would be retried for every batch of a long list before failing.
        for name in ("CYTOREVIEW_EUTILS_URL", "CYTOREVIEW_IDCONV_URL"):
            url = env.get(name)
            if url and not re.match(r"https?://[^/\s]+(?:/\S*)?$", url):
                raise InvalidInput(f"{name}={url!r} is not an http(s) URL")
        values: dict[str, Any] = {
            "eutils_url": env.get("CYTOREVIEW_EUTILS_URL") or DEFAULT_EUTILS_URL,
            "idconv_url": env.get("CYTOREVIEW_IDCONV_URL") or "",
            "api_key": env.get("NCBI_API_KEY") or None,
            "email": env.get("NCBI_EMAIL") or None,
        }
        values.update(overrides)
        return cls(**values)


class RateLimiter:
    """Spaces request starts at least ``1/rate`` seconds apart, process-wide and, through a
    :class:`SlotFile`, across the user's cytoreview processes.

    Spacing (rather than bursts) keeps every 1-second window at or under the limit; ``margin``
    (10%) absorbs the jitter between our send times and NCBI's arrival times, which a loaded
    machine or network can bunch up. A 429 costs more than the 10%.

    A slot is taken when a request actually starts, not booked ahead: a thread that wakes late
    (a busy machine, the GIL) pushes the next requests back rather than bunching up with them,
    so the spacing holds between real start times.
    """

    _shared: ClassVar[dict[float, RateLimiter]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, rate: float, margin: float = 0.1,
                 clock: Callable[[], float] = time.monotonic,
                 slot_file: SlotFile | None = None):
        self.rate = rate
        self.interval = 1.0 / rate * (1.0 + margin)
        self._clock = clock
        self._next = 0.0
        self._lock = threading.Lock()
        self._file = slot_file

    @classmethod
    def shared(cls, rate: float) -> RateLimiter:
        """The one limiter of this process for ``rate``, coordinated with other processes."""
        with cls._shared_lock:
            if rate not in cls._shared:
                cls._shared[rate] = cls(rate, slot_file=SlotFile.for_rate(rate))
            return cls._shared[rate]

    def reserve(self) -> float:
        """Take the slot if it is free now (returns 0: start the request at once), else return
        how long to wait before asking again."""
        with self._lock:
            now = self._clock()
            if now < self._next:
                return self._next - now
            if self._file is not None:
                wait, now = self._file.take(self._clock, self.interval)
                if wait > 0:
                    return wait
            self._next = now + self.interval
            return 0.0


class SlotFile:
    """The next free request slot, shared by processes through an ``flock``-ed 8-byte file.

    NCBI counts requests per API key (or per address), not per process: two cytoreview commands
    running at once, or a batch beside a search, must share one budget. The file holds the
    ``time.monotonic()`` (one system-wide clock) at which the next request may start. Where
    there is no ``fcntl`` or the file cannot be opened, the limiter is process-wide only.
    """

    def __init__(self, path: str):
        self.path = path
        self._fd: int | None = None
        self._broken = False

    @classmethod
    def for_rate(cls, rate: float) -> SlotFile | None:
        if fcntl is None:
            return None
        folder = os.path.join(tempfile.gettempdir(), f"cytoreview-{os.getuid()}")
        return cls(os.path.join(folder, f"rate-{rate:g}"))

    def _open(self) -> int | None:
        if self._fd is None and not self._broken:
            try:
                os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            except OSError:
                self._broken = True
        return self._fd

    def take(self, clock: Callable[[], float], interval: float) -> tuple[float, float]:
        """Take the slot now (returns 0 and the time taken) or return how long until it is
        free. The clock is read under the lock: a time read before waiting for it could be
        older than the slot another process has just taken."""
        fd = self._open()
        if fd is None or fcntl is None:
            return 0.0, clock()
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            now = clock()
            raw = os.pread(fd, 8, 0)
            nxt = struct.unpack("d", raw)[0] if len(raw) == 8 else 0.0
            # A value further ahead than one interval was not written by a live limiter on this
            # boot's clock: take the slot rather than wait on it.
            if nxt <= now or nxt > now + interval:
                os.pwrite(fd, struct.pack("d", now + interval), 0)
                return 0.0, now
            return nxt - now, now
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)


class Cancelled(CytoreviewError):
    """The client was cancelled (Ctrl-C) while a request waited or retried."""


class _Borrowed(httpx.BaseTransport):
    """Another client's transport, used but never closed (closing is its owner's job)."""

    def __init__(self, inner: httpx.BaseTransport):
        self._inner = inner

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self._inner.handle_request(request)


@dataclass
class Stats:
    """What the client did: for progress bars, benchmarks and the closing summary."""

    requests: int = 0
    retries: int = 0
    throttled: int = 0  # 429s received
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, **counts: int) -> None:
        with self.lock:
            for name, value in counts.items():
                setattr(self, name, getattr(self, name) + value)


@dataclass(frozen=True)
class SearchResult:
    count: int
    ids: list[str]
    webenv: str | None = None
    query_key: str | None = None
    not_found: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


class _Retry(Exception):
    def __init__(self, reason: str, retry_after: float | None = None):
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


_CLOSING = {"efetch": b"</PubmedArticleSet>", "esearch": b"</eSearchResult>"}
_ERROR_TAG = re.compile(rb"<ERROR>(.*?)</ERROR>", re.DOTALL)
#: esearch ERRORs worth another try ("Search Backend failed: ..."); any other is about the
#: query itself ("Empty term and query_key - nothing todo", "... search term was expected").
_TRANSIENT = re.compile(
    r"backend|timeout|timed out|temporar|unavailable|try again|busy|internal|connection",
    re.IGNORECASE,
)


class EutilsClient:
    """A thread-safe E-utilities client. Use as a context manager, or call :meth:`close`."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        limiter: RateLimiter | None = None,
    ):
        self.settings = settings or Settings.from_env()
        self.limiter = limiter or RateLimiter.shared(self.settings.rate)
        self.stats = Stats()
        self._transport = transport
        self._cancel = threading.Event()
        self._siblings: weakref.WeakSet[EutilsClient] = weakref.WeakSet()
        self._siblings_lock = threading.Lock()
        self._http = self._new_http(transport)

    def _new_http(self, transport: httpx.BaseTransport | None) -> httpx.Client:
        timeout = httpx.Timeout(self.settings.timeout, connect=self.settings.connect_timeout)
        return httpx.Client(
            transport=transport,
            timeout=timeout,
            headers={"User-Agent": f"{TOOL}/{__version__} (+https://pypi.org/project/cytoreview/)"},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )

    def __enter__(self) -> EutilsClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.close_connections()

    def close_connections(self) -> None:
        """Close this client's own connection pool (all a :meth:`sibling` holds of its own)."""
        self._http.close()

    def sibling(self) -> EutilsClient:
        """A client for one run: a copy of this one (a subclass stays that subclass; settings,
        rate limiter, statistics and transport shared) with its own connections and its own
        :meth:`cancel`. A run cancelled by Ctrl-C or an exception stops only its sibling, so
        a library caller's client stays usable; cancelling this client still stops every
        sibling in flight, and a sibling of a cancelled client starts cancelled."""
        other = copy.copy(self)
        other._cancel = threading.Event()
        other._siblings = weakref.WeakSet()
        other._siblings_lock = threading.Lock()
        # The caller's own transport is used, never closed: closing it is the caller's job
        # (so cancelling cannot cut a request in flight there, only stop the next one).
        other._http = other._new_http(
            None if self._transport is None else _Borrowed(self._transport))
        with self._siblings_lock:
            self._siblings.add(other)
        if self._cancel.is_set():
            other.cancel()
        return other

    def cancel(self) -> None:
        """Make waiting, retrying and in-flight requests give up promptly (used on Ctrl-C).
        For good: a cancelled client (and every sibling) raises :class:`Cancelled` from then
        on."""
        self._cancel.set()
        # Closing the pool's connections ends requests in flight with a transport error.
        self._http.close()
        with self._siblings_lock:
            siblings = list(self._siblings)
        for sibling in siblings:
            sibling.cancel()

    # -- the one send path ---------------------------------------------------------------------

    def _common_params(self) -> dict[str, str]:
        params = {"tool": TOOL}
        if self.settings.email:
            params["email"] = self.settings.email
        if self.settings.api_key:
            params["api_key"] = self.settings.api_key
        return params

    def _sleep(self, seconds: float) -> None:
        if seconds > 0 and self._cancel.wait(seconds):
            raise Cancelled("cancelled")
        if self._cancel.is_set():
            raise Cancelled("cancelled")

    def _backoff(self, attempt: int, retry_after: float | None) -> float:
        delay: float = min(self.settings.backoff_cap,
                           self.settings.backoff_base * 2.0 ** (attempt - 1))
        delay *= 0.5 + random.random() / 2  # jitter: parallel clients must not retry in step
        return max(delay, retry_after or 0.0)

    def send(
        self,
        url: str,
        params: Mapping[str, str],
        *,
        method: Literal["GET", "POST"] = "GET",
        expect: Expect = "xml",
        closing: bytes | None = None,
        attempts: int | None = None,
    ) -> bytes:
        """Send one request through the rate limiter, retrying what NCBI's advice says to retry.

        ``closing`` is the end tag a complete XML body must end with (truncation check).
        Messages name ``url`` without its query, so the API key never appears in them.
        """
        full = {**params, **self._common_params()}
        max_attempts = attempts or self.settings.max_attempts
        connect_failures = 0
        attempt = 0
        while True:
            attempt += 1
            while (wait := self.limiter.reserve()) > 0:
                self._sleep(wait)
            self.stats.add(requests=1)
            try:
                if self._cancel.is_set():
                    raise Cancelled("cancelled")
                if method == "POST":
                    response = self._http.post(url, data=full)
                else:
                    response = self._http.get(url, params=full)
                return self._check(response, expect, closing)
            except _Retry as exc:
                failure = exc.reason
                retry_after = exc.retry_after
            except httpx.ConnectError as exc:
                connect_failures += 1
                if connect_failures >= self.settings.max_connect_attempts:
                    raise ServiceUnavailable(url, _reason(exc)) from exc
                failure, retry_after = _reason(exc), None
            # Timeouts, resets, protocol errors; a body that does not decode (gzip), a
            # redirect loop; an OSError from a caller's transport: retried, then named.
            except (httpx.RequestError, OSError) as exc:
                failure, retry_after = _reason(exc), None
                timed_out = isinstance(exc, httpx.TimeoutException)
                if attempt >= max_attempts and timed_out:
                    raise ServiceUnavailable(url, failure) from exc
            if attempt >= max_attempts:
                raise ServiceError(f"{url}: {failure} (gave up after {attempt} attempts)")
            self.stats.add(retries=1)
            self._sleep(self._backoff(attempt, retry_after))

    def _check(self, response: httpx.Response, expect: Expect, closing: bytes | None) -> bytes:
        status = response.status_code
        if status == 429:
            self.stats.add(throttled=1)
            raise _Retry("rate limit exceeded (HTTP 429)", _retry_after(response))
        if status >= 500:
            raise _Retry(f"HTTP {status}", _retry_after(response))
        if status >= 400:
            raise ServiceError(f"{response.url.copy_with(query=None)}: HTTP {status}")
        body = response.content
        if expect == "json":
            try:
                data = json.loads(body)
            except ValueError:
                raise _Retry("response is not JSON") from None
            if not isinstance(data, dict):
                raise _Retry("unexpected JSON answer (not an object)")
            search = data.get("esearchresult")
            query_error = search.get("ERROR") if isinstance(search, dict) else None
            if query_error and not _TRANSIENT.search(str(query_error)):
                raise QueryRejected(f"NCBI cannot read the query: {str(query_error)[:200]}")
            error = data.get("error") or query_error
            if not error and data.get("status") == "error":
                # The PMC ID Converter's failure: {"status": "error", "message": ...}; taken as
                # an answer, every PMCID of the request was "not known to PMC".
                error = data.get("message") or "status: error"
            if error:
                raise _Retry(f"error from NCBI: {str(error)[:200]}")
            return body
        stripped = body.strip()
        if not stripped.startswith(b"<"):
            raise _Retry("empty response" if not stripped else "response is not XML")
        if stripped[:200].lower().find(b"<html") >= 0:
            raise _Retry("response is an HTML page, not XML")
        error = _ERROR_TAG.search(stripped[-2000:] if len(stripped) > 2000 else stripped)
        if error:
            raise _Retry(f"error from NCBI: {error.group(1).decode('utf-8', 'replace')[:200]}")
        if closing and not stripped.endswith(closing):
            raise _Retry("truncated response")
        return body

    # -- E-utilities -----------------------------------------------------------------------------

    def _eutil(self, name: str) -> str:
        return urljoin(self.settings.eutils_url, name)

    def esearch(
        self, term: str, *, retmax: int = 20, retstart: int = 0, usehistory: bool = False
    ) -> SearchResult:
        """Search PubMed. ``not_found`` lists phrases NCBI reports in its ErrorList."""
        params = {"db": "pubmed", "term": term, "retmode": "json",
                  "retmax": str(retmax), "retstart": str(retstart)}
        if usehistory:
            params["usehistory"] = "y"
        method: Literal["GET", "POST"] = "POST" if len(term) > 1500 else "GET"
        body = self.send(self._eutil("esearch.fcgi"), params, method=method, expect="json")
        return _search_result(body, self._eutil("esearch.fcgi"))

    def efetch(self, pmids: Sequence[str], *, attempts: int | None = None) -> bytes:
        """PubMed XML for ``pmids`` (GET up to 200, POST above). Unknown PMIDs are absent."""
        params = {"db": "pubmed", "id": ",".join(pmids), "retmode": "xml"}
        method: Literal["GET", "POST"] = "GET" if len(pmids) <= GET_MAX_IDS else "POST"
        return self.send(self._eutil("efetch.fcgi"), params, method=method,
                         closing=_CLOSING["efetch"], attempts=attempts)

    def efetch_history(self, webenv: str, query_key: str, retstart: int, retmax: int, *,
                       attempts: int | None = None) -> bytes:
        """PubMed XML for ``retmax`` records of a history set (esearch ``usehistory=y``) from
        position ``retstart``. The set's order is the server's: match records by PMID."""
        params = {"db": "pubmed", "WebEnv": webenv, "query_key": query_key,
                  "retstart": str(retstart), "retmax": str(retmax), "retmode": "xml"}
        return self.send(self._eutil("efetch.fcgi"), params, closing=_CLOSING["efetch"],
                         attempts=attempts)

    def idconv(self, pmcids: Sequence[str]) -> dict[str, str | None]:
        """Map PMCIDs to PMIDs through the PMC ID Converter (None: not known or no PMID)."""
        out: dict[str, str | None] = {}
        for start in range(0, len(pmcids), GET_MAX_IDS):
            chunk = pmcids[start : start + GET_MAX_IDS]
            body = self.send(self.settings.converter_url,
                             {"ids": ",".join(chunk), "format": "json", "idtype": "pmcid"},
                             expect="json")
            records = json.loads(body).get("records") or []
            if not isinstance(records, list):
                raise ServiceError(f"{self.settings.converter_url}: unexpected answer")
            for record in records:
                if not isinstance(record, dict):
                    continue
                pmcid = str(record.get("pmcid") or record.get("requested-id") or "").upper()
                pmid = record.get("pmid")
                if pmcid:
                    out[pmcid] = str(pmid) if pmid and "errmsg" not in record else None
        return out


def _search_result(body: bytes, url: str) -> SearchResult:
    data = json.loads(body)
    result = data.get("esearchresult")
    if not isinstance(result, dict):
        raise ServiceError(f"{url}: unexpected esearch answer")
    if "ERROR" in result:
        raise ServiceError(f"{url}: {result['ERROR']}")
    errors = result.get("errorlist") or {}
    warnings = result.get("warninglist") or {}
    try:
        return SearchResult(
            count=int(result.get("count", 0)),
            ids=[str(i) for i in result.get("idlist") or []],
            webenv=result.get("webenv"),
            query_key=result.get("querykey"),
            not_found=[*errors.get("phrasesnotfound", []), *errors.get("fieldsnotfound", [])],
            warnings=[*warnings.get("outputmessages", []),
                      *warnings.get("quotedphrasesnotfound", [])],
        )
    except (TypeError, ValueError, AttributeError) as exc:  # a count of "many", a list for a dict
        raise ServiceError(f"{url}: unexpected esearch answer ({exc})") from exc


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return min(float(value), 30.0) if value else None
    except ValueError:
        return None


def _reason(exc: Exception) -> str:
    if isinstance(exc, httpx.ConnectError):
        text = str(exc).lower()
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
            return "host name not found"
        return "connection refused" if "refused" in text else f"cannot connect ({exc})"
    if isinstance(exc, httpx.TimeoutException):
        return "timed out"
    return f"connection failed ({type(exc).__name__})"


def endpoint_name(url: str) -> str:
    """``esearch`` for ``.../esearch.fcgi``: for request counts and progress."""
    path = urlsplit(url).path.rstrip("/")
    return path.rsplit("/", 1)[-1].removesuffix(".fcgi") or path
