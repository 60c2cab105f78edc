"""One fetch job (:class:`Fetcher`): resolution, cache, pipelined efetch batches, worker
processes, and matching records to inputs. :mod:`cytoreview.service` is its front door.

How a big job runs (``PROCESS_MIN_RECORDS`` or more records): worker processes are forked
first and warm up (role model, first-call costs) while the first requests are on the wire;
fetch threads send requests at the limiter's pace and hand each answer over without waiting
for it to be parsed; each worker (:mod:`cytoreview.fetch_worker`) parses, annotates, caches
and (for the CLI's json, jsonl and csv) renders its records, so the parent only decodes
records and writes bytes. Cached records are parsed by the workers too, reading the cache
themselves, while the missing ones are fetched. A search for more than one batch keeps its
result set on NCBI's history server and fetches whole missing pages of it by
``WebEnv``/``query_key``.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import sys
import threading
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    BrokenExecutor,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from dataclasses import dataclass, field
from typing import Any

from . import fetch_worker
from .cache import Cache
from .errors import (
    CytoreviewWarning,
    ExitStatus,
    Interrupted,
    ServiceError,
    ServiceUnavailable,
    UnreadableFile,
)
from .eutils import GET_MAX_IDS, Cancelled, EutilsClient
from .ids import Identifier
from .model import Article
from .procs import forking
from .wire import decode_articles

#: Jobs with at least this many records to parse (fetched or cached) parse and annotate them
#: in worker processes.
PROCESS_MIN_RECORDS = 600
#: Attempts per half when a failing batch is split (the full batch had all of its attempts).
SPLIT_ATTEMPTS = 2
#: DOIs OR-ed into one esearch term: a few kB of query, one request instead of a hundred.
DOIS_PER_SEARCH = 100
#: Attempts for a page of a history set: a set NCBI no longer has ("Unable to obtain query")
#: does not come back with retrying, and the page's PMIDs can always be fetched by ID instead.
HISTORY_ATTEMPTS = 2
#: What NCBI says in a 200 when a history set has expired (or its WebEnv was never known).
HISTORY_GONE = "Unable to obtain query"
#: Publication types of records about another record, which may carry that record's DOI.
_NOTICES = frozenset({"Published Erratum", "Retraction of Publication", "Comment",
                      "Expression of Concern"})


@dataclass(frozen=True)
class History:
    """A result set on NCBI's history server (esearch ``usehistory=y``): its ``WebEnv`` and
    ``query_key``, and its PMIDs in the order the server holds them (the pages' order)."""

    webenv: str
    query_key: str
    pmids: tuple[str, ...]


@dataclass(frozen=True)
class _Job:
    """One efetch: the PMIDs wanted, by ID list or, with ``retstart``, as the page of the
    history set that starts there (its records are still matched by PMID, never position).
    ``lone``: a history page that timed out after answers, asked for by ID; if it times out
    too, it fails alone (the stall it follows is its own, not the service going quiet)."""

    batch: tuple[str, ...]
    attempts: int | None = None
    retstart: int | None = None
    lone: bool = False


class _PageTimedOut(ServiceError):
    """A history page timed out after answers: asked for by ID, as a lone job."""


@dataclass(frozen=True)
class Failure:
    """An input that produced no record, and why (one line, for stderr)."""

    input: str
    reason: str


@dataclass
class FetchResult:
    """Articles in input order (one per distinct PMID) and the inputs that failed."""

    articles: list[Article] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    from_cache: int = 0
    fetched: int = 0
    requests: int = 0
    fatal: str | None = None  # a service-wide failure (e.g. connection refused), said once
    note: str | None = None  # e.g. "PubMed has 12,345 results; showing the first 9,999"
    #: Output (UTF-8) of records rendered by worker processes, by PMID, in the format the fetch
    #: was asked to ``render`` (see :func:`cytoreview.export.render_records`); other records
    #: are not in it.
    rendered: dict[str, bytes] = field(default_factory=dict)

    @property
    def exit_status(self) -> ExitStatus:
        return ExitStatus.PARTIAL if self.failures else ExitStatus.SUCCESS


#: Called with (records done, records wanted, requests sent) as work completes.
Progress = Callable[[int, int, int], None]


class Fetcher:
    """One fetch job. Keeps partial state so an interrupt can hand back what it has."""

    def __init__(
        self,
        client: EutilsClient,
        cache: Cache | None = None,
        *,
        refresh: bool = False,
        offline: bool = False,
        roles: bool = True,
        render: str | None = None,
        batch_size: int = GET_MAX_IDS,
        workers: int = 6,
        progress: Progress | None = None,
    ):
        self.client = client
        self.cache = cache
        self.refresh = refresh
        self.offline = offline
        self.roles = roles
        self.render = render
        self.batch_size = batch_size
        self.workers = workers
        self.progress = progress
        self._records: dict[str, Article] = {}
        self._errors: dict[str, str] = {}  # pmid -> why it could not be fetched
        self._lock = threading.Lock()
        self._wanted = 0
        self._procs: ProcessPoolExecutor | None = None
        self._threads: ThreadPoolExecutor | None = None
        self._pending: dict[Future[Any], tuple[str, _Job]] = {}
        self._history: History | None = None
        self._resolved: dict[Identifier, list[str]] = {}
        self._asked: set[str] = set()  # PMIDs of batches whose records are stored
        # An answer came since the last batch that timed out: one more timing out is that
        # batch's trouble; two in a row, with nothing between, is E-utilities gone quiet.
        self._answered_since_stall = False
        # NCBI no longer has the history set: the pages still to come are asked for by ID at
        # once, not after two failed requests each.
        self._history_gone = False
        self._pages_by_id: set[int] = set()  # pages (by retstart) that went by ID instead
        self.result = FetchResult()

    # -- public ---------------------------------------------------------------------------------

    def run(self, identifiers: Sequence[Identifier], history: History | None = None
            ) -> FetchResult:
        """Fetch ``identifiers``. With ``history`` (the result set they came from), records
        not in the cache are fetched in pages of that set where a whole page is missing."""
        self._history = history
        resolved = self._resolved
        try:
            self._resolve(identifiers)
            self._load(list(dict.fromkeys(p for group in resolved.values() for p in group)))
        except KeyboardInterrupt:
            # Also while DOIs were being searched: the PMIDs known so far are written.
            self.client.cancel()
            pmids = list(dict.fromkeys(p for group in resolved.values() for p in group))
            # A batch may have reached the cache while its worker was still annotating it.
            self._read_cache([p for p in pmids if p not in self._records], refetch=False)
            result = self._assemble(identifiers, resolved)
            done = {a.pmid for a in result.articles}
            remaining = [str(i) for i in identifiers
                         if not set(resolved.get(i, [])) & done and not self._is_unknown(i)
                         and not (i.kind == "pmid" and i.value in self._asked)]
            raise Interrupted(result, remaining, cached=self.cache is not None) from None
        return self._assemble(identifiers, resolved)

    # -- resolution ------------------------------------------------------------------------------

    def _resolve(self, identifiers: Sequence[Identifier]) -> dict[Identifier, list[str]]:
        """Candidate PMIDs per identifier, in ``self._resolved`` as they become known (an
        interrupt keeps what was resolved). DOI candidates are confirmed after fetching."""
        out = self._resolved
        dois = [i for i in identifiers if i.kind == "doi"]
        pmcids = [i for i in identifiers if i.kind == "pmcid"]
        for ident in identifiers:
            out[ident] = [ident.value] if ident.kind == "pmid" else []
        known = (self.cache.resolve(f"{i.kind}:{i.value}" for i in dois + pmcids)
                 if self.cache and not self.refresh else {})
        for ident in dois + pmcids:
            if f"{ident.kind}:{ident.value}" in known:
                out[ident] = [known[f"{ident.kind}:{ident.value}"]]
        todo_dois = [i for i in dois if not out[i]]
        todo_pmcids = [i for i in pmcids if not out[i]]
        if self.offline or not (todo_dois or todo_pmcids):
            return out
        # A failure costs only the identifiers it was about: the PMIDs still come, and so do
        # the DOIs of other searches.
        for start in range(0, len(todo_dois), DOIS_PER_SEARCH):
            chunk = todo_dois[start : start + DOIS_PER_SEARCH]
            term = " OR ".join(f'"{i.value}"[doi]' for i in chunk)
            try:
                found = self.client.esearch(term, retmax=len(chunk) * 3)
            except ServiceUnavailable as exc:
                # E-utilities itself is out of reach: efetch would be too.
                self.result.fatal = str(exc)
                return out
            except ServiceError as exc:
                self._fail(chunk, exc)
                continue
            for ident in chunk:
                out[ident] = found.ids  # confirmed per DOI once the records are here
        if todo_pmcids:
            try:
                # The PMC ID Converter is another host: out of reach, it fails only PMCIDs.
                mapping = self.client.idconv([i.value for i in todo_pmcids])
            except ServiceError as exc:
                self._fail(todo_pmcids, exc)
                return out
            for ident in todo_pmcids:
                pmid = mapping.get(ident.value)
                out[ident] = [pmid] if pmid else []
                if not pmid:
                    self._errors.setdefault(f"pmcid:{ident.value}", "PMCID not known to PMC")
        return out

    def _fail(self, identifiers: Sequence[Identifier], exc: ServiceError) -> None:
        for ident in identifiers:
            self._errors.setdefault(f"{ident.kind}:{ident.value}", str(exc))

    def _is_unknown(self, ident: Identifier) -> bool:
        return f"{ident.kind}:{ident.value}" in self._errors

    # -- loading ---------------------------------------------------------------------------------

    def _load(self, pmids: list[str]) -> None:
        self._wanted = len(pmids)
        cached: list[str] = []
        missing = pmids
        if self.cache is not None and not self.refresh:
            have = self.cache.cached(pmids)
            cached = [p for p in pmids if p in have]
            missing = [p for p in pmids if p not in have]
        fetching = bool(missing) and not self.offline and not self.result.fatal
        # Forked first, while this process has one thread; the workers load the role model
        # while the first requests are on the wire.
        self._procs = self._process_pool(len(cached) + (len(missing) if fetching else 0))
        self._pending = {}
        try:
            # Requests go out first; cached records are parsed while they are on the wire.
            if fetching:
                for job in self._plan(missing):
                    self._submit_fetch(job)
            if self._procs is not None and cached:
                for start in range(0, len(cached), self.batch_size):
                    chunk = tuple(cached[start : start + self.batch_size])
                    future = self._procs.submit(fetch_worker.digest_cached_in_worker,
                                                list(chunk), self.roles, self.render)
                    self._pending[future] = ("cached", _Job(chunk))
            else:
                self.result.from_cache += self._read_cache(cached)
            self._report()
            while self._pending:
                # A timeout keeps the main thread responsive to Ctrl-C.
                done, _ = wait(set(self._pending), timeout=0.2, return_when=FIRST_COMPLETED)
                for future in done:
                    self._settle(future)
        except BaseException:
            # Ctrl-C must not wait for requests in flight (a stalled one could take minutes):
            # cancel the queue, make waiting workers give up, and leave without joining.
            self.client.cancel()
            if self._threads is not None:
                self._threads.shutdown(wait=False, cancel_futures=True)
            if self._procs is not None:
                self._procs.shutdown(wait=False, cancel_futures=True)
            raise
        if self._threads is not None:
            self._threads.shutdown()
        if self._procs is not None:
            self._procs.shutdown()

    def _plan(self, missing: list[str]) -> list[_Job]:
        """Batches of ``missing``: pages of the history set that hold nothing but missing
        records (cached records are never fetched again), ID lists for the rest."""
        size = self.batch_size
        history = self._history
        if history is None:
            return [_Job(tuple(missing[i : i + size])) for i in range(0, len(missing), size)]
        todo = set(missing)
        pages: list[_Job] = []
        for start in range(0, len(history.pmids), size):
            page = history.pmids[start : start + size]
            if todo.issuperset(page):
                pages.append(_Job(page, HISTORY_ATTEMPTS, start))
                todo.difference_update(page)
        rest = [p for p in missing if p in todo]
        return pages + [_Job(tuple(rest[i : i + size])) for i in range(0, len(rest), size)]

    def _process_pool(self, records: int) -> ProcessPoolExecutor | None:
        """Worker processes for parsing and roles, when the job is big enough to repay them."""
        cores = os.cpu_count() or 1
        if records < PROCESS_MIN_RECORDS or cores < 2 or not sys.platform.startswith("linux"):
            return None
        # fork: workers start in milliseconds, before any fetch thread exists. Each loads the
        # role model itself (in parallel, during the first requests' latency) unless this
        # process already has it.
        cache_dir = str(self.cache.directory) if self.cache is not None else None
        procs = ProcessPoolExecutor(max_workers=cores, mp_context=mp.get_context("fork"),
                                    initializer=fetch_worker.warm_worker,
                                    initargs=(self.roles, cache_dir))
        try:
            with forking():
                procs.submit(int)  # start them now, while this process has one thread
        except BaseException:
            # A Ctrl-C held during the fork comes here, before the caller has the pool to
            # shut down: its workers kept the exit waiting for 10 s.
            procs.shutdown(wait=False, cancel_futures=True)
            raise
        return procs

    # Each pending future is one step of one job: "fetch" runs in a thread (the request, and
    # for small jobs the parsing too); "digest" in a worker process. Fetch threads never wait
    # for parsing, so requests keep going out at the rate limit while earlier answers are
    # parsed and annotated on every core.

    def _submit_fetch(self, job: _Job) -> None:
        if self._threads is None:
            self._threads = ThreadPoolExecutor(max_workers=self.workers,
                                               thread_name_prefix="efetch")
        future = self._threads.submit(self._fetch_batch, job)
        self._pending[future] = ("fetch", job)

    def _fetch_batch(self, job: _Job) -> bytes | tuple[list[Article], dict[str, bytes]] | None:
        """One efetch; parsed here too when there are no worker processes. None: give up
        quietly (cancelled, or the service is unreachable)."""
        if self.result.fatal:
            return None
        if job.retstart is not None and self._history_gone:
            # From here on (and in _settle) an ID batch like any other: on a timeout or an
            # error it is not asked for by ID a second time, as a failed page would be.
            with self._lock:
                self._pages_by_id.add(job.retstart)
            job = _Job(job.batch)
        try:
            if job.retstart is None or self._history is None:
                data = self.client.efetch(job.batch, attempts=job.attempts)
            else:
                try:
                    data = self.client.efetch_history(
                        self._history.webenv, self._history.query_key, job.retstart,
                        len(job.batch), attempts=job.attempts)
                except ServiceError as exc:
                    if HISTORY_GONE in str(exc):
                        self._history_gone = True
                    raise
        except Cancelled:
            with self._lock:  # a caller's cancel(): say so, not "not found in PubMed"
                for pmid in job.batch:
                    self._errors.setdefault(pmid, "cancelled")
            return None
        except ServiceUnavailable as exc:
            with self._lock:
                lone = exc.reason == "timed out" and (self._answered_since_stall or job.lone)
                self._answered_since_stall = False
            if not lone:
                self.result.fatal = str(exc)
                return None
            # Answers came since the last stall: this batch alone fails (not split: halves
            # that stall cost minutes each), the others go on. A history page goes through
            # _settle, which asks for its records by ID.
            if job.retstart is not None:
                raise _PageTimedOut(str(exc)) from exc
            with self._lock:
                self._errors.update((p, str(exc)) for p in job.batch)
            return None
        self._answered_since_stall = True
        if self._procs is not None:
            return data
        return fetch_worker.digest(data, job.batch, self.roles)

    def _settle(self, future: Future[Any]) -> None:
        """A step finished: start the next one, store the records, or split a failing batch.

        A body can end well and still be broken inside: that is NCBI's fault too, so parse
        errors split the batch like service errors. A batch that already failed in full is
        retried in halves with fewer attempts each: the halving, not the retrying, is what
        finds the record NCBI chokes on. A page of a history set that fails, or comes back
        without some of its records, is fetched by ID instead.
        """
        step, job = self._pending.pop(future)
        if job.retstart is not None and job.retstart in self._pages_by_id:
            job = _Job(job.batch)
        batch = job.batch
        try:
            outcome = future.result()
            if isinstance(outcome, bytes):  # an answer, to parse in a worker process
                if self._procs is not None:
                    digest = self._procs.submit(fetch_worker.digest_in_worker, outcome,
                                                list(batch), self.roles, self.render)
                    self._pending[digest] = ("digest", job)
                    return
                outcome = fetch_worker.digest(outcome, batch, self.roles)  # the worker pool is gone
        except BrokenExecutor:
            # A worker died (killed, out of memory): parse here from now on, and fetch this
            # batch again (its answer went down with the worker).
            if self._procs is not None:
                self._procs.shutdown(wait=False, cancel_futures=True)
                self._procs = None
            if step == "cached":
                self.result.from_cache += self._read_cache(batch)
            else:
                self._submit_fetch(job)
            return
        except (ServiceError, UnreadableFile) as exc:
            if step == "cached":  # the cache could not be read: NCBI still has the records
                self._refetch(list(batch))
                return
            if self.result.fatal:
                return
            if job.retstart is not None:
                self._submit_fetch(_Job(batch, lone=isinstance(exc, _PageTimedOut)))
            elif len(batch) > 1:
                middle = len(batch) // 2
                for half in (batch[:middle], batch[middle:]):
                    # A single record gets every attempt before it is declared lost.
                    self._submit_fetch(_Job(half, SPLIT_ATTEMPTS if len(half) > 1 else None))
            else:
                with self._lock:
                    self._errors[batch[0]] = str(exc)
            return
        if outcome is None:
            return
        if step in ("digest", "cached"):
            rows, texts = outcome
            articles, raw = decode_articles(rows), {}  # the worker cached them
            if texts is not None:
                pmids = (a.pmid for a in articles)
                with self._lock:
                    self.result.rendered.update(zip(pmids, texts, strict=True))
        else:
            articles, raw = outcome
        if step == "cached":
            with self._lock:
                self.result.from_cache += len(articles)
                self._records.update((a.pmid, a) for a in articles)
            got = {a.pmid for a in articles}
            # Gone since the cache was asked (`cache clear` meanwhile) or damaged: fetched.
            self._refetch([p for p in batch if p not in got])
            self._report()
            return
        self._store(articles, raw)
        got = {a.pmid for a in articles}
        if job.retstart is not None:
            # The set may have changed on NCBI's side since the search: what this page did not
            # bring is asked for by ID.
            lost = tuple(p for p in batch if p not in got)
            if lost:
                self._submit_fetch(_Job(lost))
        with self._lock:
            # Settled: what was asked and did not come is unknown to PubMed, not "not fetched".
            self._asked.update(batch if job.retstart is None else got)

    def _store(self, articles: list[Article], raw: dict[str, bytes]) -> None:
        if self.cache and raw:
            self.cache.put(raw)
        with self._lock:
            self.result.fetched += sum(a.pmid not in self._records for a in articles)
            for article in articles:
                self._records[article.pmid] = article
        self._report()

    def _read_cache(self, pmids: Sequence[str], refetch: bool = True) -> int:
        """Load cached records for ``pmids``; returns how many were found. With ``refetch``,
        those that are no longer there or are damaged are fetched instead."""
        if not self.cache or not pmids:
            return 0
        blobs = self.cache.get(pmids)
        articles = fetch_worker.parse_cached(blobs.values(), self.roles) if blobs else []
        got = {a.pmid for a in articles}
        with self._lock:
            for article in articles:
                self._records[article.pmid] = article
        if refetch:
            self._refetch([p for p in pmids if p not in got])
        return len(articles)

    def _refetch(self, pmids: list[str]) -> None:
        """Fetch records the cache was to give and did not (offline: they stay missing, and
        those still in the cache are named unreadable)."""
        if not pmids or self.result.fatal:
            return
        if self.offline:
            # Still in the cache, so unreadable: "not in the cache" would send the user
            # looking for a record that is there.
            there = self.cache.cached(pmids) if self.cache is not None else set()
            with self._lock:
                self._errors.update((p, "cached record unreadable (fetch it again online)")
                                    for p in there)
            return
        for start in range(0, len(pmids), self.batch_size):
            self._submit_fetch(_Job(tuple(pmids[start : start + self.batch_size])))

    def _report(self) -> None:
        self.result.requests = self.client.stats.requests
        if self.progress:
            self.progress(len(self._records), self._wanted, self.client.stats.requests)

    # -- assembly --------------------------------------------------------------------------------

    def _assemble(self, identifiers: Sequence[Identifier],
                  resolved: dict[Identifier, list[str]]) -> FetchResult:
        result = self.result
        result.requests = self.client.stats.requests
        seen: set[str] = set()
        aliases: dict[str, str] = {}
        for ident in identifiers:
            article = self._match(ident, resolved.get(ident, []))
            if article is None:
                result.failures.append(Failure(ident.raw, self._why(ident, resolved)))
                continue
            # A DOI whose other candidates could not be fetched is not remembered: one of them
            # may carry it too, and the next run should look again.
            candidates = resolved.get(ident, [])
            if ident.kind != "pmid" and not any(p in self._errors for p in candidates):
                aliases[f"{ident.kind}:{ident.value}"] = article.pmid
            if article.pmid not in seen:
                seen.add(article.pmid)
                result.articles.append(article)
        if self.cache and aliases:
            self.cache.remember(aliases)
        return result

    def _match(self, ident: Identifier, candidates: list[str]) -> Article | None:
        found = [self._records[p] for p in candidates if p in self._records]
        if ident.kind != "doi":
            return found[0] if found else None
        # A DOI search can also hit records that merely cite the DOI: only the record's own
        # DOI counts.
        own = [a for a in found if (a.doi or "").lower() == ident.value]
        if len(own) < 2:
            return own[0] if own else None
        # PubMed has the DOI twice (an erratum or retraction notice given the article's DOI,
        # a duplicate citation): the article itself, else the first indexed, and say so.
        own.sort(key=lambda a: (bool(_NOTICES.intersection(a.publication_types)), int(a.pmid)))
        others = ", ".join(a.pmid for a in own[1:])
        warnings.warn(f"{ident.raw}: {len(own)} PubMed records have this DOI; using PMID "
                      f"{own[0].pmid}, not {others}", CytoreviewWarning, stacklevel=2)
        return own[0]

    def _why(self, ident: Identifier, resolved: dict[Identifier, list[str]]) -> str:
        key = f"{ident.kind}:{ident.value}"
        if key in self._errors:
            return self._errors[key]
        for pmid in resolved.get(ident, []):
            if pmid in self._errors:
                return f"not retrieved: {self._errors[pmid]}"
        if self.result.fatal:
            return "not retrieved (service unreachable)"
        if self.offline:
            return "not in the cache (--offline)"
        return {"pmid": "PMID not found in PubMed", "doi": "DOI not found in PubMed",
                "pmcid": "PMCID not found in PubMed"}[ident.kind]
