"""What runs in the worker processes of a fetch: parse, annotate, cache and render one efetch
answer (or a batch of records read from the cache), and send back only the records, in the
wire format (:mod:`cytoreview.wire`).

Why: the parent's main thread then stays free to keep requests going out at the rate limit;
it only hands answers over, decodes records and writes bytes. :func:`digest` and
:func:`annotate` also run in the parent when a job is too small for worker processes, or after
a worker died. :class:`cytoreview.fetcher.Fetcher` forks the workers and submits these
functions to them by reference, so they must stay module-level.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Sequence
from pathlib import Path

from . import parse
from .cache import Cache
from .errors import UnreadableFile
from .model import Article
from .procs import init_worker
from .wire import encode_articles

__all__ = ["annotate", "digest", "digest_cached_in_worker", "digest_in_worker", "warm_worker"]


def annotate(roles: bool, articles: Iterable[Article]) -> list[Article]:
    if not roles:
        return list(articles)
    from .roles import annotate_many

    return annotate_many(list(articles))


def digest(data: bytes, batch: Sequence[str], roles: bool
           ) -> tuple[list[Article], dict[str, bytes]]:
    wanted = set(batch)
    records = [(a, xml) for a, xml in parse.parse_records(data, "efetch response")
               if a.pmid in wanted]
    return annotate(roles, (a for a, _ in records)), {a.pmid: xml for a, xml in records}


#: The cache of a worker process: its own SQLite connection, opened after the fork.
_worker_cache: Cache | None = None


def warm_worker(roles: bool, cache_dir: str | None) -> None:
    """Worker initializer: open the cache and load the role model before the first batch.

    Ctrl-C is the parent's to handle: a worker finishes (and caches) the batch it has, then
    the parent's shutdown ends it.
    """
    global _worker_cache
    init_worker()
    if cache_dir is not None:
        _worker_cache = Cache(Path(cache_dir))
    # One small record through the whole path: the model, lazy imports and first-call setup
    # are paid for while the first requests are on the wire, not by the first batch.
    digest(_WARM_UP_RECORD, ["1"], roles)


def digest_cached_in_worker(pmids: list[str], roles: bool, render: str | None
                            ) -> tuple[list[list[object]], list[bytes] | None]:
    """Like :func:`digest_in_worker` for records this worker reads from the cache itself
    (only PMIDs cross the pipe)."""
    assert _worker_cache is not None
    articles = parse_cached(_worker_cache.get(pmids).values(), roles)
    return encode_articles(articles), _render(articles, render)


def parse_cached(blobs: Iterable[bytes], roles: bool) -> list[Article]:
    """The records of cached record XML (one ``PubmedArticle`` each), annotated if ``roles``.
    A damaged entry (a disk error, a cut write) is left out, not the whole batch: its PMID
    is simply missing, and the caller fetches it again."""
    blobs = list(blobs)
    try:
        articles = _parse_set(blobs)
    except UnreadableFile:
        articles = []
        for blob in blobs:
            with contextlib.suppress(UnreadableFile):
                articles += _parse_set([blob])
    return annotate(roles, articles)


def _parse_set(blobs: list[bytes]) -> list[Article]:
    data = b"<PubmedArticleSet>" + b"".join(blobs) + b"</PubmedArticleSet>"
    return [a for a, _ in parse.parse_records(data, "cache")]


def _render(articles: list[Article], render: str | None) -> list[bytes] | None:
    if render is None:
        return None
    from .export import render_records

    return [render_records([a], render) for a in articles]


_WARM_UP_RECORD = (
    b"<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
    b"<Journal><Title>Warm-up</Title></Journal><ArticleTitle>Warm-up.</ArticleTitle><Abstract>"
    b"<AbstractText>We asked whether warming up helps. We measured it in two groups. "
    b"It did help (p &lt; 0.05). Warming up is useful.</AbstractText></Abstract>"
    b"<AuthorList><Author><LastName>Doe</LastName><ForeName>J</ForeName></Author></AuthorList>"
    b"</Article></MedlineCitation></PubmedArticle></PubmedArticleSet>"
)


def digest_in_worker(data: bytes, batch: list[str], roles: bool, render: str | None
                     ) -> tuple[list[list[object]], list[bytes] | None]:
    """Parse, annotate and cache one efetch answer; only the records travel back (their raw
    XML stays here, which halves what crosses the pipe and keeps SQLite writes off the parent's
    busy main thread), with each one's output text when ``render`` names a format."""
    articles, raw = digest(data, batch, roles)
    if _worker_cache is not None and raw:
        _worker_cache.put(raw)
    return encode_articles(articles), _render(articles, render)
