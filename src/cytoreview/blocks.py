"""One PubMed XML file cut into blocks of whole records, so that several processes share it.

Each block is a complete document: the file's own prolog (XML declaration, DOCTYPE,
``<PubmedArticleSet>``), a run of top-level records, and the closing tag; the last block ends
as the file does. Parsing the blocks one after another gives exactly the records, in order,
that parsing the file gives, so :mod:`cytoreview.localfiles` can hand them to a pool.

A cut is made only where it cannot fall inside anything but the set itself: right after a
record's end tag that is followed (after whitespace) by the next record, a ``DeleteCitation``
or the end of the set, and not inside a comment, CDATA section or processing instruction
(PubMed files do carry ``<?pmcsd ?>``). A record nested in another cannot be told apart by
this; its blocks then do not parse, which the caller notices. Where no cut can be promised (no
``<PubmedArticleSet>`` prolog, a DOCTYPE with an internal subset, no record boundary within
``MAX_BLOCK``), :class:`Unsplittable` is raised and the caller reads the rest of the file in one
piece; the blocks already handed out stay valid.
Nothing here parses XML: a block that is not well formed (a truncated file, say) is found out by
whoever parses it.
"""

from __future__ import annotations

from collections.abc import Iterator

from cytoreview.parse import Readable

__all__ = ["BLOCK_BYTES", "MAX_BLOCK", "Unsplittable", "blocks"]

#: Bytes of XML per block, about 700 records: large enough that a block costs a worker far
#: more than sending it, small enough that several are in flight per worker.
BLOCK_BYTES = 4 << 20
#: A block grows past BLOCK_BYTES only to reach a record boundary; beyond this there is none.
MAX_BLOCK = 64 << 20

_READ = 1 << 20
_STARTS = (b"<PubmedArticle>", b"<PubmedBookArticle>")
_ENDS = (b"</PubmedArticle>", b"</PubmedBookArticle>")
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
        while len(rest) < size and not reader.eof:
            rest = reader.more(rest)
        if reader.eof:
            yield prolog + rest
            return
        cut, resume = _boundary(rest, size)
        while cut < 0:
            if len(rest) > MAX_BLOCK:
                raise Unsplittable("no record boundary within the block limit")
            rest = reader.more(rest)
            if reader.eof:
                yield prolog + rest
                return
            cut, resume = _boundary(rest, resume)  # only the new bytes are searched again
        yield prolog + rest[:cut] + _EPILOG
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
    # The cut copies the prolog into every block: it must be plain (no internal DTD subset,
    # no comment that could hide the first record's tag) and open the set just before it.
    if b"[" in prolog or b"<!--" in prolog or not prolog.rstrip().endswith(b"<PubmedArticleSet>"):
        raise Unsplittable("an unusual prolog")
    return prolog, data[first:]


def _boundary(data: bytes, start: int) -> tuple[int, int]:
    """The first offset at or after ``start`` that ends a top-level record and is followed by
    another top-level item, or -1 if none is in ``data`` yet; and where to search again once
    more data is there."""
    pos = start
    while True:
        ends = [(i, tag) for i, tag in ((data.find(tag, pos), tag) for tag in _ENDS) if i >= 0]
        if not ends:
            return -1, max(pos, len(data) - len(_ENDS[1]))
        at, tag = min(ends)
        cut = at + len(tag)
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
        at = data.rfind(opener, 0, cut)
        if at >= 0:
            end = data.find(closer, at + len(opener))
            if end < 0 or end + len(closer) > cut:
                return True
    return False
