"""Local PubMed XML files (``.xml``, ``.xml.gz``) -> :class:`~cytoreview.model.Article`.

* :func:`iter_file` streams one file: gzip is recognised by its magic bytes, not the name;
  the records before a break (truncated gzip, broken XML, invalid UTF-8) are yielded, then
  :class:`UnreadableFile` names the file and the position.
* :func:`parse_file` is the public per-file function for Dask and the like: a path and a flag
  in, a picklable :class:`FileResult` (records, counts, error) out.
* :func:`parse_files` and :func:`render_files` (many files on worker processes) live in
  :mod:`cytoreview.filepool` and are importable from here too.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from isal import isal_zlib

from cytoreview.errors import UnreadableFile
from cytoreview.model import Article
from cytoreview.parse import ParseStats, Readable, iter_articles

__all__ = [
    "CHUNK_SIZE",
    "FileResult",
    "annotated_chunks",
    "iter_file",
    "parse_file",
]

_GZIP_MAGIC = b"\x1f\x8b"
#: Records per message from a worker: large enough that pickling and pipe overhead stay
#: small, small enough that the first records show up at once.
CHUNK_SIZE = 256


@dataclass
class FileResult:
    """Everything :func:`parse_file` read from one file.

    ``reason`` is set when the file broke; ``articles`` then holds the records before the
    break. Only plain data, so results travel between processes (Dask, multiprocessing).
    """

    path: str
    articles: list[Article] = field(default_factory=list)
    stats: ParseStats = field(default_factory=ParseStats)
    reason: str | None = None

    @property
    def error(self) -> UnreadableFile | None:
        return UnreadableFile(self.path, self.reason) if self.reason is not None else None

    @property
    def ok(self) -> bool:
        return self.reason is None


# isal's stubs declare its error as an instance (``error: Exception``); it is a class.
_InflateError: type[Exception] = isal_zlib.error  # type: ignore[assignment]


class _StopAtBreak:
    """Turns a failing ``read`` into end-of-data and remembers why.

    lxml reads ahead; if the gzip error reached it directly, the complete records already
    decompressed but not yet parsed would be lost with it.
    """

    def __init__(self, stream: Readable) -> None:
        self._stream = stream
        self.compressed = isinstance(stream, _Gunzip)
        self.error: BaseException | None = None
        self.offset = 0

    def read(self, size: int = -1) -> bytes:
        if self.error is not None:
            return b""
        try:
            data = self._stream.read(size)
        except (EOFError, OSError, _InflateError) as exc:
            self.error = exc
            return b""
        self.offset += len(data)
        return data

    def read_to_end(self) -> None:
        while self.read(1 << 20):
            pass


def _header_size(data: bytes) -> int | None:
    """Length of the gzip member header that ``data`` starts with; None while incomplete."""
    if len(data) < 10:
        return None
    flags, size = data[3], 10
    if flags & 4:  # FEXTRA: a length, then that many bytes
        if len(data) < 12:
            return None
        size += 2 + int.from_bytes(data[10:12], "little")
    for flag in (8, 16):  # FNAME, FCOMMENT: zero-terminated
        if flags & flag:
            end = data.find(b"\0", size)
            if end < 0:
                return None
            size = end + 1
    if flags & 2:  # FHCRC
        size += 2
    return size if len(data) >= size else None


class _Gunzip:
    """Incremental gunzip that hands out every byte it could decompress before a cut.

    ``gzip.GzipFile.read`` raises EOFError at a truncation and drops what it decompressed in
    that same call, so a small truncated file lost all of its records. Corrupt data or a
    wrong checksum loses at most the last ``_STEP`` bytes before it: inflate drops the output
    of the call that fails, so no call makes more. Multi-member files (concatenated gzip
    streams) are read through.
    """

    _CHUNK = 1 << 16
    _STEP = 1 << 14
    _MAX_HEADER = 1 << 20

    def __init__(self, raw: Any) -> None:
        self._raw = raw
        # ISA-L inflates PubMed files about 4x faster than zlib (0.07 vs 0.29 CPU-s for
        # 20n0014's 174 MB), on the core of a worker that also parses them. None: a member
        # starts with the next input.
        self._inflate: Any = None
        self._input = b""  # compressed bytes read but not yet given to inflate
        # Decompressed bytes not handed out yet: self._buffer[self._pos:]. An offset rather
        # than slicing the rest off on every read (lxml reads 32 KB at a time).
        self._buffer = b""
        self._pos = 0
        self._done = False
        self._error: Exception | None = None

    def _step(self) -> bytes:
        """At most ``_STEP`` more bytes (maybe none); sets ``_done`` at the end of the input."""
        if self._inflate is not None and self._inflate.eof:
            # A member ended. What followed it is in unused_data (and, after a call cut
            # short by max_length, in unconsumed_tail as well): the next member starts there.
            self._input = self._inflate.unused_data
            self._inflate = None
        if not self._input:
            self._input = self._raw.read(self._CHUNK)
            if not self._input:
                return self._drain()
        if self._inflate is None:
            self._begin_member()
        out: bytes = self._inflate.decompress(self._input, self._STEP)
        self._input = self._inflate.unconsumed_tail
        return out

    def _begin_member(self) -> None:
        # ISA-L misreads a member header that reaches it in two calls (with FHCRC, or with
        # FEXTRA and FNAME): it gets the whole header at once.
        data = self._input
        while _header_size(data) is None:
            more = self._raw.read(self._CHUNK)
            if not more:
                break  # ISA-L reports the truncation
            if len(data) >= self._MAX_HEADER:
                raise _InflateError("a gzip member header longer than 1 MB")
            data += more
        if not _GZIP_MAGIC.startswith(data[:2]):
            # Checked here: ISA-L would call fewer than 10 such bytes a truncation.
            raise _InflateError("what follows the last gzip member is not gzip")
        self._input = data
        self._inflate = isal_zlib.decompressobj(wbits=31)

    def _drain(self) -> bytes:
        """The compressed input has ended: what inflate still holds (ISA-L keeps output
        back when a call is cut short, even with all its input consumed)."""
        if self._inflate is not None and not self._inflate.eof:
            out: bytes = self._inflate.decompress(b"", self._STEP)
            if out:
                return out
        self._done = True
        return b""

    def read(self, size: int = -1) -> bytes:
        want = size if size and size > 0 else 1 << 20
        if len(self._buffer) - self._pos < want and not self._done:
            pieces = [self._buffer[self._pos :]]
            have = len(pieces[0])
            try:
                while have < want and not self._done:
                    pieces.append(self._step())
                    have += len(pieces[-1])
            except _InflateError as exc:
                # Hand out what came before; the next read reports the error.
                self._error = exc
                self._done = True
            self._buffer = b"".join(pieces)
            self._pos = 0
        if self._pos >= len(self._buffer):
            if self._error is not None:
                raise self._error
            if self._done and self._inflate is not None and not self._inflate.eof:
                raise EOFError("Compressed file ended before the end-of-stream marker")
        out = self._buffer[self._pos : self._pos + want]
        self._pos += len(out)
        return out


def _stream_reason(exc: BaseException, offset: int, last_pmid: str | None) -> str:
    if isinstance(exc, EOFError):
        what = "truncated gzip: the compressed data ends early"
    elif isinstance(exc, _InflateError):
        what = f"corrupt gzip data ({exc})"
    else:
        what = f"read error ({exc})"
    after = f", after PMID {last_pmid}" if last_pmid else ""
    return f"{what} (at byte {offset} of the uncompressed XML{after})"


def _uncompressed(raw: Any) -> _StopAtBreak:
    """The file's XML (gunzipped when the bytes say gzip), stopping quietly at a break."""
    stream: Readable = raw
    if raw.peek(2)[:2] == _GZIP_MAGIC:
        stream = _Gunzip(raw)
    return _StopAtBreak(stream)


def iter_file(path: str, stats: ParseStats | None = None) -> Iterator[Article]:
    """Yield the records of one ``.xml`` / ``.xml.gz`` file, without sentence roles.

    Raises :class:`UnreadableFile` (after yielding every record before the break) when the file
    is missing, empty, not XML, not PubMed XML, truncated or badly encoded.
    """
    last_pmid: str | None = None
    try:
        with open(path, "rb") as raw:
            guarded = _uncompressed(raw)
            try:
                for article in iter_articles(guarded, path, stats):
                    last_pmid = article.pmid
                    yield article
            except UnreadableFile as exc:
                if guarded.error is None and guarded.compressed:
                    # Inflate checks its data only at a member's end, so XML that breaks in
                    # a gzip file may be the first sign of corrupt data: read on to know.
                    guarded.read_to_end()
                if guarded.error is None:
                    raise
                # The XML broke because the bytes stopped: the stream's error is the cause.
                reason = _stream_reason(guarded.error, guarded.offset, last_pmid)
                raise UnreadableFile(path, reason) from exc
            if guarded.error is not None:
                reason = _stream_reason(guarded.error, guarded.offset, last_pmid)
                raise UnreadableFile(path, reason) from guarded.error
    except OSError as exc:
        raise UnreadableFile(path, exc.strerror or str(exc)) from exc


@contextlib.contextmanager
def _fewer_collections() -> Iterator[None]:
    """Parsing allocates millions of small objects that never form cycles; with the default
    thresholds the cyclic collector rescans them about every 700 allocations, ~10% of the
    parse time. Raised for the duration, then put back when the last of any overlapping
    parses (threads, open generators) ends."""
    with _gc_lock:
        if _gc_users[0] == 0:
            _gc_saved[:] = gc.get_threshold()
            gc.set_threshold(50_000, 20, 100)
        _gc_users[0] += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_users[0] -= 1
            if _gc_users[0] == 0:
                gc.set_threshold(*_gc_saved)


_gc_lock = threading.Lock()
_gc_users = [0]
_gc_saved: list[int] = []


_Annotate = Callable[[list[Article]], list[Article]]


def _annotator(roles: bool) -> _Annotate | None:
    if not roles:
        return None
    # The model loads only where roles are wanted. annotate_many decodes a whole chunk in a
    # few array operations: several times cheaper than one annotate call per record.
    from cytoreview.roles import annotate_many

    return annotate_many


def annotated_chunks(
    path: str,
    roles: bool = True,
    stats: ParseStats | None = None,
    size: int = CHUNK_SIZE,
    skip: int = 0,
) -> Iterator[list[Article]]:
    """The records of one file in lists of up to ``size``, with sentence roles unless
    ``roles=False``, leaving out the first ``skip`` (still parsed and counted in ``stats``).
    On a break, the records before it come first, then :class:`UnreadableFile` is raised as by
    :func:`iter_file`."""
    annotate = _annotator(roles)
    records = itertools.islice(iter_file(path, stats), skip, None)
    while True:
        batch: list[Article] = []
        error: BaseException | None = None
        try:
            for article in records:
                batch.append(article)
                if len(batch) >= size:
                    break
        except Exception as exc:  # the records read before the break still count
            error = exc
        if batch:
            yield annotate(batch) if annotate else batch
        if error is not None:
            raise error
        if len(batch) < size:
            return


StrPath = str | os.PathLike[str]


def _path_list(paths: Iterable[StrPath] | StrPath) -> list[str]:
    # One path is one file, not an iterable of one-character file names.
    if isinstance(paths, (str, os.PathLike)):
        return [os.fspath(paths)]
    return [os.fspath(p) for p in paths]


def parse_file(path: StrPath, roles: bool = True) -> FileResult:
    """Read one file completely: its records (with sentence roles unless ``roles=False``),
    its :class:`ParseStats`, and the reason it broke, if it did. Never raises for a bad file."""
    result = FileResult(os.fspath(path))
    with _fewer_collections():
        try:
            for chunk in annotated_chunks(result.path, roles, result.stats):
                result.articles.extend(chunk)
        except UnreadableFile as exc:
            result.reason = exc.reason
    return result


def __getattr__(name: str) -> Any:
    # Many files on worker processes live in their own module; these names stay importable
    # from here (``from cytoreview.localfiles import parse_files``), loaded on first use.
    if name in ("Rendered", "parse_files", "render_files"):
        from cytoreview import filepool

        return getattr(filepool, name)
    if name in ("decode_articles", "encode_articles"):  # once re-exported here
        from cytoreview import wire

        return getattr(wire, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
