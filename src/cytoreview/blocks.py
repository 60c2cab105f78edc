"""One PubMed XML file cut into blocks of whole records, so that several processes share it.

Each block is a complete document: the file's own prolog (XML declaration, DOCTYPE,
``<PubmedArticleSet>``), a run of top-level records, and the closing tag; the last block ends
as the file does. For a well-formed file, parsing the blocks one after another gives the records,
in order, that parsing the file gives, so :mod:`cytoreview.filepool` can hand them to a pool;
a block that does not parse is the caller's cue to read the file whole instead.

A cut is made only where it cannot fall inside anything but the set itself: right after a
record's end tag that is followed (after whitespace) by the next record, a ``DeleteCitation``
or the end of the set, and not inside a comment, CDATA section or processing instruction
(PubMed files do carry ``<?pmcsd ?>``). A record nested in another cannot be told apart by
this; its blocks then do not parse, which the caller notices. Where no cut can be promised (no
``<PubmedArticleSet>`` prolog, a prolog with anything but a UTF-8 declaration, a DOCTYPE and
the set's tag, no record boundary within ``MAX_BLOCK``), :class:`Unsplittable` is raised and
the caller reads the rest of the file in one piece; the blocks already handed out stay valid.
Nothing here parses XML: a block that is not well formed (a truncated file, say) is found out by
whoever parses it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from cytoreview.parse import _DECLARATIONS, _PROLOG_SCAN, Readable

__all__ = ["BLOCK_BYTES", "MAX_BLOCK", "Unsplittable", "blocks"]

#: Bytes of XML per block, about 700 records: large enough that a block costs a worker far
#: more than sending it, small enough that several are in flight per worker.
BLOCK_BYTES = 4 << 20
#: A block grows past BLOCK_BYTES only to reach a record boundary; beyond this (PubMed's
#: records are well under 1 MB) the rest is read whole rather than searched further.
MAX_BLOCK = 16 << 20

_READ = 1 << 20
_STARTS = (b"<PubmedArticle>", b"<PubmedBookArticle>")
_ENDS = (b"</PubmedArticle>", b"</PubmedBookArticle>")
# One search for either end tag: a find per tag would scan to the end for the absent one.
_END = re.compile(rb"</Pubmed(?:Book)?Article>")
# What the cut can copy into every block: an optional UTF-8 BOM, an XML declaration naming no
# encoding but UTF-8 (libxml2 decodes others in chunks, and a bad byte then costs records
# before it in the same chunk: a cut file would keep them), a DOCTYPE without an internal
# subset or markup in its literals, and the set's start tag. Anything else is read whole.
_PLAIN_PROLOG = re.compile(
    rb"(?:\xef\xbb\xbf)?"
    rb"(?:<\?xml(?:\s+version\s*=\s*(?:\"[^\"<>]*\"|'[^'<>]*'))?"
    rb"(?:\s+encoding\s*=\s*(?:\"utf-?8\"|'utf-?8'))?"
    rb"(?:\s+standalone\s*=\s*(?:\"[a-z]*\"|'[a-z]*'))?\s*\?>)?\s*"
    rb"(?:<!DOCTYPE[^<>\[\]]*>\s*)?"
    rb"<PubmedArticleSet>\s*",
    re.IGNORECASE,
)
_FOLLOWERS = (*_STARTS, b"<DeleteCitation>", b"</PubmedArticleSet>")
_EPILOG = b"\n</PubmedArticleSet>\n"
_SPACE = b" \t\r\n"


class Unsplittable(Exception):
    """The file cannot be cut safely from here on; read the rest of it in one piece."""


def blocks(stream: Readable, size: int = BLOCK_BYTES) -> Iterator[bytes]:
    """Documents of whole records that together hold every record of ``stream``, in order.

    Raises :class:`Unsplittable` (after the blocks that could be cut) when no safe cut exists.
    """
    reader = _Reader(stream)
    prolog, rest = _prolog(reader)
    while True:
        rest = reader.fill(rest, size)
        cut, resume = _boundary(rest, size)
        while cut < 0:
            if reader.eof:
                yield prolog + rest
                return
            if len(rest) > max(MAX_BLOCK, 4 * size):
                raise Unsplittable("no record boundary within the block limit")
            rest = reader.more(rest)
            cut, resume = _boundary(rest, resume)  # only the new bytes are searched again
        # One copy: slicing first, then adding, would copy the block twice more.
        yield b"".join((prolog, memoryview(rest)[:cut], _EPILOG))
        rest = rest[cut:]


class _Reader:
    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self.eof = False

    def more(self, data: bytes) -> bytes:
        chunk = self._stream.read(_READ)
        if not chunk:
            self.eof = True
            return data
        return data + chunk

    def fill(self, data: bytes, size: int) -> bytes:
        """``data`` and what follows it, up to at least ``size`` bytes (less at the end),
        joined once: adding each read to what came before would copy it again each time."""
        pieces, have = [data], len(data)
        while have < size and not self.eof:
            chunk = self._stream.read(_READ)
            if not chunk:
                self.eof = True
                break
            pieces.append(chunk)
            have += len(chunk)
        return b"".join(pieces) if len(pieces) > 1 else data


def _prolog(reader: _Reader) -> tuple[bytes, bytes]:
    data = b""
    while True:
        found = [i for i in (data.find(tag) for tag in _STARTS) if i >= 0]
        if found:
            break
        if reader.eof or len(data) > _READ:
            raise Unsplittable("no PubMed record near the start")
        data = reader.more(data)
    first = min(found)
    prolog = data[:first]
    # The plain read refuses a file whose first megabyte has a DOCTYPE and then "<!ENTITY"
    # anywhere (even in a comment); a block holds less, so that screen is repeated here.
    while len(data) < _PROLOG_SCAN and not reader.eof:
        data = reader.more(data)
    head = data[:_PROLOG_SCAN]
    for doctype, entity in _DECLARATIONS:
        at = head.find(doctype)
        if at >= 0 and head.find(entity, at) >= 0:
            raise Unsplittable("entity declarations")
    # The cut copies the prolog into every block: nothing in it may stay open or change how
    # the bytes after it are read.
    if not _PLAIN_PROLOG.fullmatch(prolog):
        raise Unsplittable("an unusual prolog")
    return prolog, data[first:]


def _boundary(data: bytes, start: int) -> tuple[int, int]:
    """The first offset at or after ``start`` that ends a top-level record and is followed by
    another top-level item, or -1 if none is in ``data`` yet; and where to search again once
    more data is there."""
    pos = start
    while True:
        found = _END.search(data, pos)
        if found is None:
            return -1, max(pos, len(data) - len(_ENDS[1]))
        at, cut = found.span()
        after = cut
        while after < len(data) and data[after] in _SPACE:
            after += 1
        if after == len(data):
            return -1, at  # what follows is not read yet
        if data.startswith(_FOLLOWERS, after):
            if _inside_markup(data, cut):
                # Never in PubMed's own files; rather than test every later end tag against
                # markup that may never close (a slow search), the rest is read whole.
                raise Unsplittable("a record boundary inside a comment or processing instruction")
            return cut, cut
        pos = cut


#: What can hold an end tag's text without being one. Each ends at the first closer after its
#: opener, so "the last opener before the cut is closed before it" means the cut is outside
#: (an opener's text inside another construct can only make this say "inside" wrongly).
_MARKUP = ((b"<?", b"?>"), (b"<!--", b"-->"), (b"<![CDATA[", b"]]>"))


def _inside_markup(data: bytes, cut: int) -> bool:
    for opener, closer in _MARKUP:
        at = _last(data, opener, cut)
        if at >= 0:
            end = data.find(closer, at + len(opener))
            if end < 0 or end + len(closer) > cut:
                return True
    return False


def _last(data: bytes, opener: bytes, cut: int) -> int:
    """``data.rfind(opener, 0, cut)`` for an opener ``<`` + mark: the search backwards is for
    the mark alone (one byte: memrchr, several times faster on a 4 MB block), which is rare
    in PubMed XML, and each one found is checked for the whole opener."""
    below = cut - len(opener) + 2  # the mark of an opener that ends by ``cut`` is before this
    while True:
        at = data.rfind(opener[1:2], 1, max(below, 1))
        if at < 0:
            return -1
        if data.startswith(opener, at - 1):
            return at - 1
        below = at

