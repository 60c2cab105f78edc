"""A local stand-in for NCBI E-utilities and the PMC ID Converter, for tests, benchmarks and demos.

A real HTTP server (stdlib ``ThreadingHTTPServer``) on 127.0.0.1 serving real PubMed records::

    store = load_store(["data/seeds/seeds.xml", "../shared/data/pubmed21n1298.train.xml.gz"])
    with EutilsServer(store=store) as srv:
        httpx.get(srv.url + "efetch.fcgi", params={"db": "pubmed", "id": "15461571"})
        srv.count("efetch")

Endpoints (under ``srv.url``, i.e. ``http://127.0.0.1:PORT/entrez/eutils/``): ``esearch.fcgi``,
``efetch.fcgi`` and ``epost.fcgi`` (GET or POST form bodies); the PMC ID Converter at
``srv.idconv_url`` (``/pmc/utils/idconv/v1.0/``, also ``/tools/idconv/api/v1/articles/``).

Behaviour copied from NCBI: unknown PMIDs are silently absent from efetch; esearch reports terms
that match nothing in its ErrorList; the rate limit (3 requests in any 1-second window per
``api_key``, or per client address without one; 10 with an ``api_key``) is answered with 429,
``Retry-After: 1`` and NCBI's JSON body. Knobs: ``latency``, random faults (``fault_rate``,
``fault_kinds``, ``fault_seed``), a scripted fault queue (:meth:`EutilsServer.script`),
``fail_pmids`` (efetch batches containing one of them always answer 500) and ``history_ttl``
(history sets expire, as NCBI's do). Every request is logged in :attr:`EutilsServer.requests`.

Run ``python -m cytoreview.testing.eutils_server --help`` for the demo CLI.
"""

from __future__ import annotations

import argparse
import contextlib
import random
import signal
import socket
import struct
import sys
import threading
import time
import traceback
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from .endpoints import Endpoints, Response, error200, json_bytes, split_ids
from .records import RecordStore, find_data_files, load_store

__all__ = [
    "DEFAULT_FAULT_KINDS",
    "FAULT_KINDS",
    "EutilsServer",
    "RequestRecord",
    "main",
]

FAULT_KINDS = (
    "500", "502", "503", "504", "429", "truncated", "html", "empty", "error200", "reset",
    "stall", "partial",
)  # fmt: skip
"""Every fault the server can inject. ``partial`` (headers promise the whole body, half is sent,
then the connection closes) is extra: it is not in the default random mix."""
DEFAULT_FAULT_KINDS = FAULT_KINDS[:-1]

EUTILS_PREFIX = "/entrez/eutils/"
IDCONV_PATH = "/pmc/utils/idconv/v1.0/"
IDCONV_PATH_NEW = "/tools/idconv/api/v1/articles/"

HTML_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html><head><title>NCBI - WWW Error Blocked Diagnostic</title></head>"
    "<body><h1>Service unavailable</h1><p>The server is temporarily unable to service your "
    "request. Please try again later.</p></body></html>\n"
)
MAX_BODY = 16 * 1024 * 1024


@dataclass(frozen=True)
class RequestRecord:
    """One request as the server saw it."""

    time: float  # time.time() on arrival
    method: str
    path: str
    endpoint: str  # "esearch", "efetch", "epost", "idconv" or "other"
    params: dict[str, str]  # query string and form body merged (incl. tool, email, api_key)
    n_ids: int | None  # IDs asked for (efetch: id list or history slice; idconv: ids)
    ids: tuple[str, ...]
    status: int | None  # None when the connection was dropped without an answer
    fault: str | None  # the injected fault, if any
    rate_limited: bool  # a real 429 from the rate limiter (not an injected one)
    client: str
    duration: float  # seconds from arrival to the end of the answer

    @property
    def api_key(self) -> str | None:
        return self.params.get("api_key")

    @property
    def tool(self) -> str | None:
        return self.params.get("tool")

    @property
    def email(self) -> str | None:
        return self.params.get("email")


@dataclass
class _Exchange:
    """One request while it is being answered."""

    method: str
    path: str
    endpoint: str
    params: dict[str, str] = field(default_factory=dict)
    ids: list[str] = field(default_factory=list)
    fault: str | None = None
    rate_limited: bool = False
    client: str = ""
    arrival: float = field(default_factory=time.time)
    t0: float = field(default_factory=time.perf_counter)
    logged: bool = False


class _Dropped(Exception):
    """The connection is to be closed without (a complete) answer."""


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    owner: EutilsServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hang up, stalls are interrupted by close(): nothing to report.
        return


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cytoreview-eutils-standin/1.0"
    timeout = 60
    server: _HTTPServer
    exchange: _Exchange

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in two writes: without this, Nagle + delayed ACK add 40 ms.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.owner._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.owner._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        return  # the server logs each exchange itself (EutilsServer._record)

    def do_GET(self) -> None:
        self.server.owner._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.owner._handle(self, "POST")


class EutilsServer:
    """The local E-utilities stand-in. See the module docstring.

    ``store``: a loaded :class:`RecordStore` (share one across servers), or ``files`` to load
    (cached per process by :func:`load_store`). Not listening until :meth:`start` or ``with``.

    Knobs (constructor keywords, changeable while running with :meth:`configure`):
    ``latency`` seconds added to every answer; ``rate_limit`` on/off, ``rate_window`` (1 s),
    ``limit_without_key`` (3) and ``limit_with_key`` (10); ``valid_api_keys`` (None: any key is
    valid, else others get NCBI's 400 "API key invalid"); ``fault_rate`` in [0, 1] of answers get
    a fault drawn from ``fault_kinds`` (default :data:`DEFAULT_FAULT_KINDS`) with a
    ``random.Random(fault_seed)``, only on ``fault_endpoints``; ``stall_seconds`` (5) for the
    "stall" fault; ``fail_pmids``: an efetch asking for any of them answers 500, every time;
    ``history_ttl`` seconds a history set (``WebEnv``) lives after its last use (None: for
    ever; 0: expired at once, so efetch by ``WebEnv`` gets NCBI's "Unable to obtain query").

    Attributes: ``url`` (E-utilities base, ends in ``/``), ``idconv_url``, ``root_url``,
    ``port``, ``store``, ``requests`` (a snapshot list of :class:`RequestRecord`),
    ``in_flight`` and ``peak_in_flight``, ``running``. Methods: ``start()``, ``close()``,
    ``configure(**knobs)``, ``script(kinds, endpoint=None)``, ``reset()``, ``forget_history()``,
    ``count(endpoint=None, status=None, *, method=, fault=, rate_limited=)``,
    ``requested_ids(endpoint="efetch", status=None)``.
    """

    def __init__(
        self,
        files: Iterable[str | Path] | None = None,
        *,
        store: RecordStore | None = None,
        port: int = 0,
        latency: float = 0.0,
        rate_limit: bool = True,
        rate_window: float = 1.0,
        limit_without_key: int = 3,
        limit_with_key: int = 10,
        valid_api_keys: Iterable[str] | None = None,
        fault_rate: float = 0.0,
        fault_kinds: Sequence[str] | None = None,
        fault_seed: int = 0,
        fault_endpoints: Iterable[str] = ("esearch", "efetch", "epost", "idconv"),
        stall_seconds: float = 5.0,
        fail_pmids: Iterable[str | int] = (),
        history_ttl: float | None = None,
        verbose: bool = False,
    ) -> None:
        if store is None:
            store = load_store(files) if files is not None else RecordStore()
        elif files is not None:
            raise ValueError("give either files or store, not both")
        self.store = store
        self.eutils = Endpoints(store)
        self.port = port
        self.verbose = verbose
        self._lock = threading.Lock()
        self._log: list[RequestRecord] = []
        self._windows: dict[str, deque[float]] = {}
        self._scripts: dict[str | None, deque[str | None]] = {}
        self._conns: set[socket.socket] = set()
        self._stop = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.in_flight = 0
        self.peak_in_flight = 0
        # knobs (set through configure so they are validated in one place)
        self.latency = 0.0
        self.rate_limit = True
        self.rate_window = 1.0
        self.limit_without_key = 3
        self.limit_with_key = 10
        self.valid_api_keys: frozenset[str] | None = None
        self.fault_rate = 0.0
        self.fault_kinds: tuple[str, ...] = DEFAULT_FAULT_KINDS
        self.fault_seed = 0
        self.fault_endpoints: frozenset[str] = frozenset()
        self.stall_seconds = 5.0
        self.fail_pmids: frozenset[str] = frozenset()
        self._rng = random.Random(0)
        self.configure(
            latency=latency,
            rate_limit=rate_limit,
            rate_window=rate_window,
            limit_without_key=limit_without_key,
            limit_with_key=limit_with_key,
            valid_api_keys=valid_api_keys,
            fault_rate=fault_rate,
            fault_kinds=fault_kinds if fault_kinds is not None else DEFAULT_FAULT_KINDS,
            fault_seed=fault_seed,
            fault_endpoints=fault_endpoints,
            stall_seconds=stall_seconds,
            fail_pmids=fail_pmids,
            history_ttl=history_ttl,
        )

    # ------------------------------------------------------------------ configuration
    _UNSET: Any = object()

    def configure(
        self,
        *,
        latency: float = _UNSET,
        rate_limit: bool = _UNSET,
        rate_window: float = _UNSET,
        limit_without_key: int = _UNSET,
        limit_with_key: int = _UNSET,
        valid_api_keys: Iterable[str] | None = _UNSET,
        fault_rate: float = _UNSET,
        fault_kinds: Sequence[str] = _UNSET,
        fault_seed: int = _UNSET,
        fault_endpoints: Iterable[str] = _UNSET,
        stall_seconds: float = _UNSET,
        fail_pmids: Iterable[str | int] = _UNSET,
        history_ttl: float | None = _UNSET,
    ) -> EutilsServer:
        """Change knobs at run time (only those given). Returns self."""
        u = self._UNSET
        with self._lock:
            if latency is not u:
                if latency < 0:
                    raise ValueError("latency must be >= 0")
                self.latency = float(latency)
            if rate_limit is not u:
                self.rate_limit = bool(rate_limit)
            if rate_window is not u:
                self.rate_window = float(rate_window)
            if limit_without_key is not u:
                self.limit_without_key = int(limit_without_key)
            if limit_with_key is not u:
                self.limit_with_key = int(limit_with_key)
            if valid_api_keys is not u:
                self.valid_api_keys = None if valid_api_keys is None else frozenset(valid_api_keys)
            if fault_rate is not u:
                if not 0.0 <= fault_rate <= 1.0:
                    raise ValueError("fault_rate must be within [0, 1]")
                self.fault_rate = float(fault_rate)
            if fault_kinds is not u:
                kinds = tuple(str(k) for k in fault_kinds)
                bad = [k for k in kinds if k not in FAULT_KINDS]
                if bad or not kinds:
                    raise ValueError(f"unknown fault kinds {bad}; choose from {FAULT_KINDS}")
                self.fault_kinds = kinds
            if fault_seed is not u:
                self.fault_seed = int(fault_seed)
                self._rng = random.Random(self.fault_seed)
            if fault_endpoints is not u:
                self.fault_endpoints = frozenset(fault_endpoints)
            if stall_seconds is not u:
                self.stall_seconds = float(stall_seconds)
            if fail_pmids is not u:
                self.fail_pmids = frozenset(str(p) for p in fail_pmids)
            if history_ttl is not u:
                if history_ttl is not None and history_ttl < 0:
                    raise ValueError("history_ttl must be >= 0 or None")
                self.eutils.history_ttl = history_ttl
        return self

    def script(self, faults: Iterable[str | None], endpoint: str | None = None) -> EutilsServer:
        """Queue faults for the next requests, in order (``None`` = answer normally).

        With ``endpoint`` (e.g. ``"efetch"``) the queue applies only to that endpoint's requests;
        such a queue is used before the general one. A request refused by the rate limiter does
        not consume an entry. Scripted faults take precedence over random ones.
        """
        items = list(faults)
        for k in items:
            if k is not None and k not in FAULT_KINDS:
                raise ValueError(f"unknown fault kind {k!r}; choose from {FAULT_KINDS}")
        with self._lock:
            self._scripts.setdefault(endpoint, deque()).extend(items)
        return self

    def forget_history(self) -> None:
        """Drop every history set (``WebEnv``), as NCBI does when they expire."""
        self.eutils.forget_history()

    def reset(self) -> None:
        """Clear the request log, the scripted faults, the rate-limit windows and the peak
        concurrency, and re-seed the random faults. Knobs and the history server are kept."""
        with self._lock:
            self._log.clear()
            self._scripts.clear()
            self._windows.clear()
            self._rng = random.Random(self.fault_seed)
            self.peak_in_flight = self.in_flight

    # ------------------------------------------------------------------ log
    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the request log, oldest first."""
        with self._lock:
            return list(self._log)

    def count(
        self,
        endpoint: str | None = None,
        status: int | None = None,
        *,
        method: str | None = None,
        fault: str | None = None,
        rate_limited: bool | None = None,
    ) -> int:
        """How many logged requests match every filter given."""
        return len(
            [
                r
                for r in self.requests
                if (endpoint is None or r.endpoint == endpoint)
                and (status is None or r.status == status)
                and (method is None or r.method == method)
                and (fault is None or r.fault == fault)
                and (rate_limited is None or r.rate_limited == rate_limited)
            ]
        )

    def requested_ids(self, endpoint: str = "efetch", status: int | None = None) -> list[str]:
        """Every ID asked for at ``endpoint`` (in request order, repeats kept), e.g. to check
        that a resumed batch asks only for what it does not have."""
        return [
            i
            for r in self.requests
            if r.endpoint == endpoint and (status is None or r.status == status)
            for i in r.ids
        ]

    # ------------------------------------------------------------------ lifecycle
    def start(self) -> EutilsServer:
        if self._httpd is not None:
            return self
        self._stop.clear()
        httpd = _HTTPServer(("127.0.0.1", self.port), _Handler)
        httpd.owner = self
        self._httpd = httpd
        self.port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"eutils-standin-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop promptly: interrupt stalls and latency waits, drop open connections."""
        httpd = self._httpd
        if httpd is None:
            return
        self._httpd = None
        self._stop.set()
        httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> EutilsServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def running(self) -> bool:
        return self._httpd is not None

    @property
    def root_url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("the server is not running: use start() or a with block")
        return f"http://127.0.0.1:{self.port}/"

    @property
    def url(self) -> str:
        """The E-utilities base URL (for ``CYTOREVIEW_EUTILS_URL``), ending in ``/``."""
        return self.root_url.rstrip("/") + EUTILS_PREFIX

    @property
    def idconv_url(self) -> str:
        return self.root_url.rstrip("/") + IDCONV_PATH

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    # ------------------------------------------------------------------ request handling
    def _handle(self, h: _Handler, method: str) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)
        split = urlsplit(h.path)
        ex = _Exchange(method=method, path=split.path, endpoint=self._endpoint(split.path))
        h.exchange = ex
        try:
            try:
                pairs = parse_qsl(split.query, keep_blank_values=True)
                if method == "POST":
                    length = int(h.headers.get("Content-Length") or 0)
                    if length > MAX_BODY:
                        raise ValueError("request body too large")
                    body = h.rfile.read(length) if length > 0 else b""
                    pairs += parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
                for k, v in pairs:
                    params = ex.params
                    params[k] = f"{params[k]},{v}" if k in params and k in ("id", "ids") else v
            except ValueError as exc:
                self._send(h, Response(400, f"bad request: {exc}\n".encode(), "text/plain"))
                return
            resp = self._answer(h, ex)
            if self.latency > 0 and self._stop.wait(self.latency):
                raise _Dropped
            self._deliver(h, ex, resp)
        except _Dropped:
            self._drop(h)
        except OSError:
            h.close_connection = True
        except Exception:  # a bug in the stand-in: say so loudly instead of hanging up
            traceback.print_exc(file=sys.stderr)
            if not ex.logged:
                with contextlib.suppress(OSError):
                    body = b"stand-in internal error (see the test's stderr)\n"
                    self._send(h, Response(500, body, "text/plain"))
            h.close_connection = True
        finally:
            self._record(ex, None)
            with self._lock:
                self.in_flight -= 1

    def _record(self, ex: _Exchange, status: int | None) -> None:
        """Log the exchange once, just before its answer goes out (so a client that has its
        answer always finds the request in the log)."""
        if ex.logged:
            return
        ex.logged = True
        rec = RequestRecord(
            time=ex.arrival,
            method=ex.method,
            path=ex.path,
            endpoint=ex.endpoint,
            params=ex.params,
            n_ids=len(ex.ids) if ex.endpoint in ("efetch", "epost", "idconv") else None,
            ids=tuple(ex.ids),
            status=status,
            fault=ex.fault,
            rate_limited=ex.rate_limited,
            client=ex.client,
            duration=time.perf_counter() - ex.t0,
        )
        with self._lock:
            self._log.append(rec)
        if self.verbose:
            stamp = time.strftime("%H:%M:%S", time.localtime(rec.time))
            millis = int(rec.time * 1000) % 1000
            extra = (
                " rate-limited" if rec.rate_limited else f" fault={rec.fault}" if rec.fault else ""
            )
            ids = f" ids={rec.n_ids}" if rec.n_ids is not None else ""
            # Logged as the answer goes out: arrival stamp, and how long the answer took.
            print(f"{stamp}.{millis:03d} {rec.method} {rec.endpoint}{ids} -> {rec.status}{extra}"
                  f" ({rec.duration * 1000:.0f} ms)", file=sys.stderr, flush=True)  # fmt: skip

    @staticmethod
    def _endpoint(path: str) -> str:
        if path.startswith(EUTILS_PREFIX):
            name = path[len(EUTILS_PREFIX) :]
            if name in ("esearch.fcgi", "efetch.fcgi", "epost.fcgi"):
                return name.split(".")[0]
        if path.rstrip("/") in (IDCONV_PATH.rstrip("/"), IDCONV_PATH_NEW.rstrip("/")):
            return "idconv"
        return "other"

    def _answer(self, h: _Handler, ex: _Exchange) -> Response:
        """The normal response; sets the exchange's fault, rate_limited and ids."""
        endpoint, params = ex.endpoint, ex.params
        ex.client = h.client_address[0]
        if endpoint == "other":
            return Response(404, b"<html><body>404 Not Found</body></html>\n", "text/html")
        # What was asked for, logged even when the request is refused below.
        ex.ids = split_ids(params.get("ids" if endpoint == "idconv" else "id", ""))
        key = params.get("api_key") or None
        if key is not None and self.valid_api_keys is not None and key not in self.valid_api_keys:
            body = {"error": "API key invalid", "api-key": key, "type": "invalid",
                    "status": "unknown"}  # fmt: skip
            return Response(400, json_bytes(body), "application/json")
        limited = self._rate_limited(key, ex.client)
        if limited is not None:
            ex.rate_limited = True
            return limited
        ex.fault = self._pick_fault(endpoint)
        if endpoint == "esearch":
            return self.eutils.esearch(params)
        if endpoint == "efetch":
            resp, ex.ids = self.eutils.efetch(params)
            if ex.fault is None and self.fail_pmids.intersection(ex.ids):
                ex.fault = "500"
            return resp
        if endpoint == "epost":
            resp, ex.ids = self.eutils.epost(params)
            return resp
        resp, ex.ids = self.eutils.idconv(params)
        return resp

    def _rate_limited(self, key: str | None, client: str) -> Response | None:
        if not self.rate_limit:
            return None
        who = key or client
        limit = self.limit_with_key if key else self.limit_without_key
        now = time.monotonic()
        with self._lock:
            window = self._windows.setdefault(who, deque())
            while window and window[0] <= now - self.rate_window:
                window.popleft()
            if len(window) < limit:
                window.append(now)
                return None
            count = len(window) + 1
        body = {"error": "API rate limit exceeded", "api-key": who, "count": str(count),
                "limit": str(limit)}  # fmt: skip
        return Response(429, json_bytes(body), "application/json", {"Retry-After": "1"})

    def _pick_fault(self, endpoint: str) -> str | None:
        with self._lock:
            for queue_key in (endpoint, None):
                queue = self._scripts.get(queue_key)
                if queue:
                    return queue.popleft()
            if (
                self.fault_rate > 0
                and endpoint in self.fault_endpoints
                and self._rng.random() < self.fault_rate
            ):
                return self._rng.choice(self.fault_kinds)
        return None

    # ------------------------------------------------------------------ delivery and faults
    def _deliver(self, h: _Handler, ex: _Exchange, resp: Response) -> None:
        fault, params = ex.fault, ex.params
        if fault is None:
            self._send(h, resp)
        elif fault in ("500", "502", "503", "504"):
            code = int(fault)
            body = f"<html><body><h1>{code} {_REASONS[code]}</h1></body></html>\n".encode()
            self._send(h, Response(code, body, "text/html"))
        elif fault == "429":
            who = params.get("api_key") or ex.client
            limit = self.limit_with_key if params.get("api_key") else self.limit_without_key
            doc = {"error": "API rate limit exceeded", "api-key": who, "count": str(limit + 1),
                   "limit": str(limit)}  # fmt: skip
            self._send(h, Response(429, json_bytes(doc), "application/json", {"Retry-After": "1"}))
        elif fault == "truncated":
            self._send(h, Response(200, resp.body[: len(resp.body) // 2], resp.content_type))
        elif fault == "html":
            self._send(h, Response(200, HTML_ERROR_PAGE.encode(), "text/html"))
        elif fault == "empty":
            self._send(h, Response(200, b"", resp.content_type))
        elif fault == "error200":
            self._send(h, error200(ex.endpoint, params))
        elif fault == "reset":
            raise _Dropped
        elif fault == "stall":
            if self._stop.wait(self.stall_seconds):
                raise _Dropped
            self._send(h, resp)
        elif fault == "partial":
            self._record(ex, None)
            h.close_connection = True
            h.send_response(200)
            h.send_header("Content-Type", resp.content_type)
            h.send_header("Content-Length", str(len(resp.body)))
            h.send_header("Connection", "close")
            h.end_headers()
            h.wfile.write(resp.body[: len(resp.body) // 2])
            h.wfile.flush()
            raise _Dropped
        else:
            raise AssertionError(fault)

    def _send(self, h: _Handler, resp: Response) -> None:
        self._record(h.exchange, resp.status)
        h.send_response(resp.status)
        h.send_header("Content-Type", resp.content_type)
        h.send_header("Content-Length", str(len(resp.body)))
        for k, v in resp.headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(resp.body)
        h.wfile.flush()

    def _drop(self, h: _Handler) -> None:
        """Close the connection with a TCP reset, without an answer."""
        self._record(h.exchange, None)
        h.close_connection = True
        try:
            h.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            h.connection.close()
        except OSError:
            pass


_REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
            504: "Gateway Timeout"}  # fmt: skip


# ---------------------------------------------------------------------- demo CLI
def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m cytoreview.testing.eutils_server",
        description="Run the local NCBI E-utilities stand-in until Ctrl-C. Prints its base URL "
        "(for CYTOREVIEW_EUTILS_URL) on stdout.",
    )
    ap.add_argument("--data", nargs="+", metavar="FILE",
                    help="PubMed XML files (.xml, .xml.gz); default: data/seeds/seeds.xml and "
                    "../shared/data/*.xml.gz of this checkout")  # fmt: skip
    ap.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any free)")
    ap.add_argument("--latency", type=float, default=0.0, help="seconds added to each answer")
    ap.add_argument("--no-rate-limit", action="store_true", help="switch NCBI's rate limit off")
    ap.add_argument("--fault-rate", type=float, default=0.0, help="share of answers faulted (0-1)")
    ap.add_argument("--fault-kinds", default=",".join(DEFAULT_FAULT_KINDS),
                    help=f"comma-separated, from {','.join(FAULT_KINDS)}")  # fmt: skip
    ap.add_argument("--fault-seed", type=int, default=0)
    ap.add_argument("--stall-seconds", type=float, default=5.0)
    ap.add_argument("--fail-pmids", default="", help="comma-separated PMIDs whose efetch fails")
    ap.add_argument("--history-ttl", type=float, default=None, metavar="SECONDS",
                    help="forget history sets (WebEnv) unused this long (default: never)")
    ap.add_argument("--verbose", "-v", action="store_true", help="log each request on stderr")
    args = ap.parse_args(argv)
    if args.data:
        files = [Path(f) for f in args.data]
    else:
        found = find_data_files()
        files = found["seeds"] + found["shared"]
    missing = [str(f) for f in files if not f.is_file()]
    if missing:
        ap.error(f"no such file: {', '.join(missing)}")
    try:
        kinds = [k.strip() for k in args.fault_kinds.split(",") if k.strip()]
        started = time.perf_counter()
        store = RecordStore.load(files)
        print(f"loaded {len(store)} records from {len(files)} file(s) in "
              f"{time.perf_counter() - started:.1f} s", file=sys.stderr)  # fmt: skip
        srv = EutilsServer(
            store=store,
            port=args.port,
            latency=args.latency,
            rate_limit=not args.no_rate_limit,
            fault_rate=args.fault_rate,
            fault_kinds=kinds,
            fault_seed=args.fault_seed,
            stall_seconds=args.stall_seconds,
            fail_pmids=[p.strip() for p in args.fail_pmids.split(",") if p.strip()],
            history_ttl=args.history_ttl,
            verbose=args.verbose,
        )
    except (ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    with srv:
        print(srv.url, flush=True)
        print(f"PMC ID converter: {srv.idconv_url}", file=sys.stderr, flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
