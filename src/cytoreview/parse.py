"""PubMed XML (an element, bytes or a binary stream) -> :class:`~cytoreview.model.Article`.

Pure: no HTTP, no file opening, no sentence roles. Callers hand in what they have:

* :func:`parse_article` for one ``PubmedArticle`` / ``PubmedBookArticle`` element,
* :func:`parse_bytes` for an efetch response,
* :func:`iter_articles` for a binary stream (a baseline file can hold 30,000 records, so it is
  read with ``iterparse`` and every record is dropped from the tree once it has been built).

Every parser here is hardened the same way (:data:`SAFE_PARSER_OPTIONS`): entities are never
substituted, no DTD is loaded and nothing is fetched, so an external entity pointing at a local
file is never read; libxml2's own limits (no ``huge_tree``) stop entity amplification and reject
nesting deeper than 256 levels. lxml's errors become :class:`UnreadableFile` in one place,
:func:`_unreadable`, with the line and column.
"""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

from lxml import etree

from cytoreview.errors import UnreadableFile
from cytoreview.model import Article
from cytoreview.pubmed_record import parse_article, vocab_text

__all__ = [
    "SAFE_PARSER_OPTIONS",
    "ParseStats",
    "Readable",
    "iter_articles",
    "parse_article",
    "parse_bytes",
    "parse_records",
    "safe_parser",
]

SAFE_PARSER_OPTIONS: dict[str, Any] = {
    "resolve_entities": False,
    "no_network": True,
    "load_dtd": False,
    "huge_tree": False,
    # Comments and processing instructions (PubmedData carries some) are never content.
    "remove_comments": True,
    "remove_pis": True,
}

_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
_PUBMED_ROOTS = frozenset({"PubmedArticleSet", "PubmedBookArticleSet", *_RECORD_TAGS})
# Serialised XML escapes every real "&", so any other named reference is an unresolved one.
_UNRESOLVED = re.compile(rb"&(?!(?:amp|lt|gt|quot|apos|#[0-9]+|#x[0-9a-fA-F]+);)[^;&<>\s]+;")
_POSITION_SUFFIX = re.compile(r",? line \d+, column \d+\s*$")


class Readable(Protocol):
    """What :func:`iter_articles` needs from a stream: an open binary file, a GzipFile..."""

    def read(self, size: int = -1, /) -> bytes: ...


@dataclass
class ParseStats:
    """What :func:`iter_articles` saw besides the records it yielded.

    ``deleted`` holds the PMIDs listed in ``DeleteCitation`` blocks (update files use them to
    withdraw records); ``skipped`` counts records without a PMID, which cannot be cited.
    """

    records: int = 0
    deleted: list[str] = field(default_factory=list)
    skipped: int = 0

    def merge(self, other: ParseStats) -> None:
        self.records += other.records
        self.deleted.extend(other.deleted)
        self.skipped += other.skipped


def safe_parser() -> etree.XMLParser:
    """An ``XMLParser`` with :data:`SAFE_PARSER_OPTIONS`, for callers that need a whole tree."""
    return etree.XMLParser(**SAFE_PARSER_OPTIONS)


# --- streams --------------------------------------------------------------------------------


def _unreadable(
    source: str, exc: etree.XMLSyntaxError, log: Any, last_pmid: str | None
) -> UnreadableFile:
    """The one place lxml's errors become ours: line, column and the last good record."""
    # iterparse sometimes reports a generic "no element found" at 0:0; the parser's own log
    # (``log``: this parse only, unlike exc.error_log) has the real first error.
    logged = [e for e in log if e.level >= etree.ErrorLevels.ERROR]
    if logged:
        line, column, message = logged[0].line, logged[0].column, logged[0].message
    else:
        line, column = exc.position if exc.position else (0, 0)
        message = _POSITION_SUFFIX.sub("", exc.msg or str(exc))
    if line == 0 and last_pmid is None and message == "no element found":
        return UnreadableFile(source, "empty: no XML in the file")
    after = f" (after PMID {last_pmid})" if last_pmid else ""
    return UnreadableFile(source, f"line {line}, column {column}: {message.strip()}{after}")


_MAX_NESTED = 1000
_OWN_PMID = ("MedlineCitation/PMID", "BookDocument/PMID", "PMID")


def _holds_too_many(source: str, holder: Any, last_pmid: str | None) -> UnreadableFile:
    # Named by its PMID, not its line: past line 65,535 libxml2 gives an element the line of
    # its first child.
    pmid = next(
        (vocab_text(p) for p in map(holder.find, _OWN_PMID) if p is not None and p.text), None
    )
    which = f" (PMID {pmid})" if pmid else ""
    after = f" (after PMID {last_pmid})" if last_pmid else ""
    return UnreadableFile(
        source,
        f"a <{holder.tag}>{which} holds over {_MAX_NESTED} records: is its end tag missing?"
        f"{after}",
    )


def _raw_xml(record: Any) -> bytes:
    """A record's own XML, readable on its own: unresolved entity references (only hostile
    or broken input has them, in text or attributes) are dropped, as the parser ignores them."""
    raw: bytes = etree.tostring(record, encoding="UTF-8", xml_declaration=False, with_tail=False)
    if b"&" not in raw or not _UNRESOLVED.search(raw):
        return raw
    # In attributes lxml hands out the value with internal entities expanded (what the record
    # was built from) but serialises the reference: setting the value again pins it down.
    for elem in record.iter(etree.Element):
        for name, value in elem.attrib.items():
            elem.set(name, value)
    raw = etree.tostring(record, encoding="UTF-8", xml_declaration=False, with_tail=False)
    return _UNRESOLVED.sub(b"", raw)


def _refuse_entity_declarations(elem: Any, source: str) -> None:
    """PubMed XML never declares entities. A document whose internal DTD subset does is
    refused whole: even unexpanded, an entity whose replacement text is markup leaves lxml
    with nodes it cannot free cleanly ("Tried to unregister unknown proxy")."""
    dtd = elem.getroottree().docinfo.internalDTD
    if dtd is not None and next(iter(dtd.iterentities()), None) is not None:
        raise UnreadableFile(source, _ENTITIES_REFUSED)


#: How far into a document entity declarations are looked for before lxml sees any of it.
_PROLOG_SCAN = 1 << 20
_DECLARATIONS = [
    ("<!DOCTYPE".encode(enc), "<!ENTITY".encode(enc)) for enc in ("utf-8", "utf-16-le", "utf-16-be")
]


class _Prepend:
    """``head`` (already read from ``stream``), then the rest of ``stream``."""

    def __init__(self, head: bytes, stream: Readable) -> None:
        self._head = head
        self._pos = 0
        self._stream = stream

    def read(self, size: int = -1) -> bytes:
        if self._pos < len(self._head):
            want = size if size and size > 0 else len(self._head)
            out = self._head[self._pos : self._pos + want]
            self._pos += len(out)
            return out
        self._head = b""
        return self._stream.read(size)


def _screened(stream: Readable, source: str) -> Readable:
    """The stream, once its first megabyte is known not to declare entities. lxml's iterparse
    must never see such a document: with some of them (an entity of 50,000 characters in a
    broken file, found by the fuzzer) freeing the parsed tree fails inside lxml ("Tried to
    unregister unknown proxy") whatever the caller does, even when it stops at once."""
    chunks: list[bytes] = []
    have = 0
    while have < _PROLOG_SCAN:
        chunk = stream.read(1 << 16)
        if not chunk:
            break
        chunks.append(chunk)
        have += len(chunk)
    head = b"".join(chunks)
    for doctype, entity in _DECLARATIONS:
        at = head.find(doctype)
        if at >= 0 and head.find(entity, at) >= 0:
            raise UnreadableFile(source, _ENTITIES_REFUSED)
    return _Prepend(head, stream)


_ENTITIES_REFUSED = "the DOCTYPE declares entities (PubMed XML never does): refused"


def _walk(
    stream: Readable, source: str, stats: ParseStats, raw: bool, check_root: bool
) -> Iterator[tuple[Article, bytes | None]]:
    stream = _screened(stream, source)
    # "start" events only so that the DOCTYPE is checked before the first record is touched.
    events = etree.iterparse(
        stream, events=("start", "end"), tag=_RECORD_TAGS, **SAFE_PARSER_OPTIONS
    )
    last_pmid: str | None = None
    checked = False
    holder: Any = None  # the top-level record that the last nested record was inside
    nested = 0  # how many records are inside it
    try:
        for event, elem in events:
            if event == "start":
                if not checked:
                    _refuse_entity_declarations(elem, source)
                    checked = True
                continue
            parent = elem.getparent()
            if parent is not None and parent.getparent() is not None:
                # A record nested in a record is content of the outer one. Thousands of them
                # mean the outer one's end tag is missing: it would hold the rest of the file
                # in memory (4 GB for a 170 MB file) before the XML error at the end.
                outer = list(elem.iterancestors(*_RECORD_TAGS))
                if outer:  # records in a wrapper element are inside no record
                    if outer[-1] is not holder:
                        holder, nested = outer[-1], 0
                    nested += 1
                    if nested > _MAX_NESTED:
                        raise _holds_too_many(source, holder, last_pmid)
                continue
            holder = None
            if elem.tag == "DeleteCitation":
                stats.deleted.extend(
                    pmid for pmid in map(vocab_text, elem.iterchildren("PMID")) if pmid
                )
            else:
                try:
                    article = parse_article(elem)
                except ValueError:
                    stats.skipped += 1
                else:
                    stats.records += 1
                    last_pmid = article.pmid
                    yield article, _raw_xml(elem) if raw else None
            elem.clear(keep_tail=True)
            if parent is not None:
                while elem.getprevious() is not None:
                    del parent[0]
    except etree.XMLSyntaxError as exc:
        raise _unreadable(source, exc, events.error_log, last_pmid) from exc
    root = events.root
    if root is not None and not checked:
        _refuse_entity_declarations(root, source)
    if check_root and stats.records == 0 and root is not None and root.tag not in _PUBMED_ROOTS:
        raise UnreadableFile(source, f"not PubMed XML: the root element is <{root.tag}>")


def iter_articles(
    stream: Readable, source: str = "<stream>", stats: ParseStats | None = None
) -> Iterator[Article]:
    """Yield the records of a PubMed XML stream as they complete, in file order.

    Memory stays flat: each record is cleared after it is built and dropped from the root.
    ``DeleteCitation`` PMIDs and records without a PMID go into ``stats`` (if given). On broken
    XML the records before the break have already been yielded, then :class:`UnreadableFile`
    names ``source``, the line and column. Errors raised by ``stream.read`` (a truncated gzip
    member, say) pass through unchanged for the caller, who knows what the stream is.
    """
    stats = stats if stats is not None else ParseStats()
    for article, _ in _walk(stream, source, stats, raw=False, check_root=True):
        yield article


def parse_bytes(
    data: bytes, source: str = "<efetch response>", stats: ParseStats | None = None
) -> list[Article]:
    """Every record in ``data`` (an efetch response, a saved file's content)."""
    return list(iter_articles(io.BytesIO(data), source, stats))


def parse_records(data: bytes, source: str = "<efetch response>") -> list[tuple[Article, bytes]]:
    """Every record in ``data`` with its own XML (UTF-8, no declaration, so records from
    several responses can be cached and later joined inside one ``<PubmedArticleSet>``).

    Unlike :func:`parse_bytes`, XML that holds no PubMed records is not an error here: an
    efetch answer for unknown PMIDs is such a document.
    """
    walk = _walk(io.BytesIO(data), source, ParseStats(), raw=True, check_root=False)
    return [(article, raw) for article, raw in walk if raw is not None]
