"""The library's front door: identifiers or a query in, summarized articles out.

:func:`fetch` and :func:`search` do what the CLI's ``fetch``, ``batch`` and ``search`` do:
resolve DOIs and PMCIDs, read the cache, fetch what is missing in pipelined batches at NCBI's
rate, confirm every DOI against the record's own DOI, match records to inputs by PMID, and
annotate sentence roles. Failures are collected per input; nothing fetched is ever dropped.

The work itself is :class:`cytoreview.fetcher.Fetcher`'s; this module checks the arguments,
runs the search, and lends the fetcher a client.
"""

from __future__ import annotations

import numbers
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from .cache import Cache
from .errors import InvalidInput, NotFound, QueryRejected
from .eutils import GET_MAX_IDS, EutilsClient, SearchResult
from .fetcher import (
    Failure,
    Fetcher,
    FetchResult,
    History,
    Progress,
)
from .ids import Identifier, parse_identifier, unique

# The fetch job's own names stay importable from here; its knobs (PROCESS_MIN_RECORDS,
# DOIS_PER_SEARCH, ...) are read in cytoreview.fetcher, and set there.
__all__ = ["MAX_SEARCH", "Failure", "FetchResult", "Fetcher", "History", "Progress", "fetch",
           "search"]

#: PubMed's esearch will not page past this many results.
MAX_SEARCH = 9999


def fetch(
    ids: Iterable[str | int | Identifier] | str | int,
    *,
    client: EutilsClient | None = None,
    cache: Cache | None = None,
    refresh: bool = False,
    offline: bool = False,
    roles: bool = True,
    progress: Progress | None = None,
    render: str | None = None,
) -> FetchResult:
    """Fetch and summarize records for PMIDs, DOIs, PMCIDs or URLs, in input order.

    ``ids`` may also be one identifier (``fetch("15461571")``); PMIDs may be ints (a pandas
    column). Invalid identifiers raise :class:`~cytoreview.errors.InvalidIdentifier` before any
    request. Settings come from the environment (``CYTOREVIEW_EUTILS_URL``, ``NCBI_API_KEY``,
    ...) unless a ``client`` is given; records are cached only when a ``cache`` is given. What
    could not be had is in ``result.failures`` (and ``result.fatal`` when E-utilities cannot
    be reached at all), never raised. ``render`` (one of
    :data:`cytoreview.export.RENDERED_FORMATS`): records parsed in worker processes also
    bring their output text, in ``result.rendered``.
    """
    _check_cache_options(cache, refresh, offline)
    if isinstance(ids, (bytes, bytearray)):
        raise InvalidInput(f"{ids!r}: identifiers are text, not bytes")
    # A lone string is one identifier, not an iterable of one-character PMIDs.
    items: Iterable[object] = (
        [ids] if isinstance(ids, (str, int, numbers.Integral)) else ids)
    identifiers = unique(i if isinstance(i, Identifier) else parse_identifier(_id_text(i))
                         for i in items)
    with _client(client) as active:
        fetcher = Fetcher(active, cache, refresh=refresh, offline=offline, roles=roles,
                          progress=progress, render=render)
        return fetcher.run(identifiers)


def _id_text(value: object) -> str:
    # numbers.Integral: a PMID column from pandas holds numpy integers.
    if isinstance(value, bool) or not isinstance(value, (str, numbers.Integral)):
        raise InvalidInput(f"{value!r}: an identifier must be a string or an int (a PMID)")
    return str(value)


def search(
    query: str,
    *,
    max_results: int = 20,
    client: EutilsClient | None = None,
    cache: Cache | None = None,
    refresh: bool = False,
    offline: bool = False,
    roles: bool = True,
    progress: Progress | None = None,
    render: str | None = None,
) -> FetchResult:
    """Search PubMed, then fetch and summarize the hits (NCBI's default order).

    One esearch brings every PMID (up to 9,999). A search for more than one batch keeps its
    result set on NCBI's history server (``usehistory=y``) and fetches it in pages of that set;
    either way records are matched by PMID and cached ones are not fetched again.
    """
    _check_cache_options(cache, refresh, offline)
    if not query.strip():
        raise InvalidInput("search: the query is empty")
    if max_results < 1:
        raise InvalidInput(f"search {query!r}: max_results must be at least 1")
    wanted = min(max_results, MAX_SEARCH)
    with _client(client) as active:
        large = wanted > GET_MAX_IDS and not offline
        if offline:
            found = _recalled_search(cache, query)
        else:
            try:
                found = active.esearch(query, retmax=wanted, usehistory=large)
            except QueryRejected as exc:
                # The message names the input, as every other bad input's does.
                raise QueryRejected(f"search {query!r}: {exc}") from exc
            if cache is not None:
                cache.remember_search(query, found.count, found.ids)
        pmids = found.ids[:wanted]
        identifiers = [Identifier("pmid", pmid, pmid) for pmid in pmids]
        history = (History(found.webenv, found.query_key, tuple(pmids))
                   if large and found.webenv and found.query_key else None)
        fetcher = Fetcher(active, cache, refresh=refresh, offline=offline, roles=roles,
                          progress=progress, render=render)
        result = fetcher.run(identifiers, history)
    notes = []
    if found.not_found:
        # PubMed drops a term it does not know and searches the rest: a typo widens a search.
        notes.append("PubMed left out what it does not know: " + ", ".join(found.not_found))
    if not found.ids:
        notes.append(f"no PubMed results for {query!r}")
    elif found.count > len(identifiers):
        notes.append(f"PubMed has {found.count:,} results for {query!r}; showing the first "
                     f"{len(identifiers):,}"
                     + (" (esearch returns at most 9,999)"
                        if found.count > MAX_SEARCH and len(identifiers) == MAX_SEARCH else "")
                     + (" (all that the last online run kept; run it online for more)"
                        if offline and len(identifiers) < wanted else ""))
    result.note = "; ".join(notes) or None
    return result


def _check_cache_options(cache: Cache | None, refresh: bool, offline: bool) -> None:
    """Options that cannot both hold fail before anything is done (they made every input
    fail, one by one, as not in the cache)."""
    if offline and refresh:
        raise InvalidInput("--offline reads only the cache and --refresh ignores it: "
                           "give one of them")
    if offline and cache is None:
        raise InvalidInput("--offline reads only the cache and --no-cache turns it off: "
                           "give one of them")


def _recalled_search(cache: Cache | None, query: str) -> SearchResult:
    """``--offline``: the PMIDs of this query's last online run, from the cache."""
    recalled = cache.recall_search(query) if cache is not None else None
    if recalled is None:
        raise NotFound(f"search {query!r}: not in the cache (--offline replays a search that "
                       "was run online before)")
    count, pmids = recalled
    return SearchResult(count=count, ids=pmids)


@contextmanager
def _client(client: EutilsClient | None) -> Iterator[EutilsClient]:
    # A caller's client is lent to a sibling: a run cancelled by Ctrl-C or an exception
    # cancels for good, and a notebook's next fetch on the same client must still work
    # (it reported every PMID "not found").
    if client is None:
        with EutilsClient() as own:
            yield own
        return
    sibling = getattr(client, "sibling", None)
    if sibling is None:  # a stand-in object of the caller's: used as it is
        yield client
        return
    own = sibling()
    try:
        yield own
    finally:
        # Not own.close(): a subclass's close() would also close what it shares with the
        # caller's client (a log file opened in its __init__, say).
        own.close_connections()
