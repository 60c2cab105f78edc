"""Many local PubMed XML files on worker processes: :func:`parse_files` yields their records
in input order, each unreadable file as an :class:`UnreadableFile` at the point where it broke;
:func:`render_files` does the same but the workers also write the output text (json, jsonl,
csv): what the ``parse`` command uses, so its own process only writes bytes.

Sentence roles (:func:`cytoreview.roles.annotate_many`, chunk by chunk) run in the workers:
each worker parses whole files, taking the next one not yet taken as it finishes one, and adds
roles. With fewer files than workers, each regular file is cut into blocks of whole records
(:mod:`cytoreview.blocks`) that a pool parses, so one file uses every core. A file that cannot
be cut (a pipe, an unusual prolog) goes to one worker whole. When cutting fails after records
were given (a break, a stretch that cannot be cut safely), the file is read again in the
parent from its first byte, without roles' help from the workers, and the records already
given are left out: counts and error messages are those of a plain read. Records travel as
plain tuples (the wire format, :mod:`cytoreview.wire`), or as output text. A worker with 8
chunks not yet received (the parent is still on an earlier file) spills the rest of that
file's chunks to a temporary file instead of waiting, so workers never take turns and memory
stays bounded; and no worker takes a file while the files in progress and the spill files
not read yet add up to twice the workers, so spill files stay few. A worker killed by the
system (out of memory, say) loses the file it was on and what it had finished that the
parent had not read yet, each named ("the worker process parsing it died"), even when it
dies halfway through sending a chunk: each worker's pipe has one writing end, its own, so its
death ends the pipe.
"""

from __future__ import annotations

import gc
import io
import multiprocessing
import os
import pickle
import shutil
import stat
import struct
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import BrokenExecutor, Future, ProcessPoolExecutor
from typing import Any, NamedTuple

from cytoreview.blocks import BLOCK_BYTES, Unsplittable, blocks
from cytoreview.errors import UnreadableFile
from cytoreview.localfiles import (
    CHUNK_SIZE,
    StrPath,
    _annotator,
    _fewer_collections,
    _path_list,
    _uncompressed,
    annotated_chunks,
)
from cytoreview.model import Article
from cytoreview.parse import ParseStats, iter_articles
from cytoreview.procs import forking, init_worker
from cytoreview.wire import decode_articles, encode_articles

__all__ = ["Rendered", "parse_files", "render_files"]

#: A worker with this many chunks not yet received does not wait: the rest of that file's
#: chunks go to a spill file on disk, which the parent reads back when it gets there. So
#: workers never take turns, and memory stays small: 8 chunks of ~1-2 MB queued per worker.
_SPILL_DEPTH = 8
_FRAME = struct.Struct("<QQ")  # a spilled chunk: payload length, record count, payload
_POLL_SECONDS = 0.5
#: How often the parent looks whether the file it needs next has been taken by a worker.
_CLAIM_POLL_SECONDS = 0.002
#: Files in progress or with a spill file not read yet, per worker (see _ClaimedFiles).
_TICKETS = 2
#: How long a worker has to end after SIGTERM (it dies at once unless the signal was lost).
_TERMINATE_SECONDS = 2.0
#: Bytes of XML per block when files are cut (:mod:`cytoreview.blocks`); tests make it small.
_BLOCK_BYTES = BLOCK_BYTES


class Rendered(NamedTuple):
    """``count`` records as one payload. From :func:`render_files`: their output text in a
    :data:`cytoreview.export.RENDERED_FORMATS` format (UTF-8), ready to be written as is by
    :func:`cytoreview.export.write_rendered`. Between workers and parent: the wire format."""

    data: bytes
    records: int


def _ship(articles: list[Article], fmt: str | None) -> bytes:
    """What a worker sends for a chunk: the output text when the caller wants a format (the
    parent then only writes bytes), else the records in the wire format."""
    if fmt is not None:
        from cytoreview.export import render_records

        return render_records(articles, fmt)
    # Pickled here, not by the outbox's thread: chunks waiting in a worker are then
    # compact bytes rather than live objects several times their size.
    return pickle.dumps(encode_articles(articles), protocol=pickle.HIGHEST_PROTOCOL)


class _ClaimedFiles:
    """The files a worker takes, in input order: always the next one nobody has taken, so a
    worker that finishes early takes more (a fixed share would leave it idle while another
    still has a long list). Each file taken holds one of ``tickets`` until it is done without
    a spill file, or until the parent has read its spill file: with none left, a worker
    sleeps (in the semaphore, using no CPU) before taking another, so spill files stay few.
    No file is taken before every worker exists (``started`` has a token per worker once all
    are started): a worker forked after another had opened a pipe would inherit whatever the
    parent's threads had opened in answer (the writing end of that pipe, say), and the pipe
    would then never end. A semaphore, not an Event: Event.set waits for every waiter to
    wake, and one killed while waiting would hang the parent there.
    Picklable (spawn start method): the shared values go with it."""

    def __init__(
        self, paths: list[str], next_file: Any, owner: Any, tickets: Any, started: Any, me: int
    ) -> None:
        self.paths, self.next_file, self.owner, self.me = paths, next_file, owner, me
        self.tickets, self.started = tickets, started

    def __iter__(self) -> Iterator[tuple[int, str]]:
        self.started.acquire()
        while True:
            self.tickets.acquire()
            with self.next_file.get_lock():
                index = self.next_file.value
                if index >= len(self.paths):
                    self.tickets.release()
                    return
                self.next_file.value = index + 1
                self.owner[index] = self.me
            yield index, self.paths[index]


class _Outbox:
    """A worker's end of its pipe to the parent. A thread writes the messages, so the worker
    never waits for the parent to read (a multiprocessing.Queue does the same, but every
    process forked after it holds its writing end, the parent too, so the death of the
    worker halfway through a message would leave the parent waiting for the rest)."""

    def __init__(self, conn: Any) -> None:
        self._conn = conn
        self._items: deque[bytes | None] = deque()
        self._ready = threading.Condition()
        self._thread = threading.Thread(target=self._send_all, daemon=True)
        self._thread.start()

    def put(self, message: tuple[Any, ...]) -> None:
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        with self._ready:
            self._items.append(data)
            self._ready.notify()

    def close(self) -> None:
        """Wait until every message is written (the process would end the thread)."""
        with self._ready:
            self._items.append(None)
            self._ready.notify()
        self._thread.join()
        self._conn.close()

    def _send_all(self) -> None:
        while True:
            with self._ready:
                while not self._items:
                    self._ready.wait()
                data = self._items.popleft()
            if data is None:
                return
            try:
                self._conn.send_bytes(data)
            except OSError:  # the parent is gone, or has closed the pipe: nobody will read
                os._exit(1)


def _worker(
    jobs: _ClaimedFiles,
    roles: bool,
    chunk_size: int,
    conn: Any,
    slots: Any,
    fmt: str | None,
    spill_dir: str,
    reader: Any,
) -> None:
    """Parse the files in order; send (index, payload, count, stats, reason, spill).

    ``stats`` is None except on the last message of a file, which also names the spill file
    if no slot was free at some point: the file's remaining chunks, as frames. A chunk takes
    one of ``slots`` (the parent frees it on receipt); the last message takes none, and
    the outbox has no size limit, so nothing here ever waits for the parent.
    """
    _init_worker(spill_dir)
    # A forked worker holds the reading end of its own pipe too: closed, so that a parent
    # gone away makes a write fail (EPIPE) instead of blocking for ever.
    reader.close()
    out = _Outbox(conn)
    try:
        _work(jobs, roles, chunk_size, out, slots, fmt, spill_dir)
    finally:
        out.close()


def _work(
    jobs: _ClaimedFiles,
    roles: bool,
    chunk_size: int,
    out: _Outbox,
    slots: Any,
    fmt: str | None,
    spill_dir: str,
) -> None:
    for index, path in jobs:
        stats = ParseStats()
        reason = None
        spill: Any = None
        try:
            for chunk in annotated_chunks(path, roles, stats, chunk_size):
                data = _ship(chunk, fmt)
                if spill is None:
                    if slots.acquire(block=False):
                        out.put((index, data, len(chunk), None, None, None))
                        continue
                    spill = open(os.path.join(spill_dir, f"{index}.part"), "wb")  # noqa: SIM115
                spill.write(_FRAME.pack(len(data), len(chunk)))
                spill.write(data)
        except UnreadableFile as exc:
            reason = exc.reason
        except Exception as exc:  # a bug must not take the other files down with it
            reason = f"internal error while parsing: {exc!r}"
        finally:
            if spill is not None:
                spill.close()
        # Waiting here (for the parent to read) would make a worker that is ahead take turns
        # with the others, while the parent is still on an earlier file, instead of starting
        # the next.
        out.put((index, b"", 0, stats, reason, spill.name if spill is not None else None))
        if spill is None:
            jobs.tickets.release()  # else the parent does, once it has read the spill file


def _init_worker(spill_dir: str | None = None) -> None:
    init_worker(leftovers=spill_dir)
    gc.set_threshold(50_000, 20, 100)  # see _fewer_collections


def _context() -> Any:
    # fork starts workers in milliseconds; elsewhere fork is unsafe or missing.
    method = "fork" if sys.platform.startswith("linux") else "spawn"
    return multiprocessing.get_context(method)


_Shipped = Rendered | UnreadableFile


def parse_files(
    paths: Iterable[StrPath] | StrPath,
    jobs: int | None = None,
    roles: bool = True,
    stats: ParseStats | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Article | UnreadableFile]:
    """Every record of every file, in input order; an :class:`UnreadableFile` in the stream
    where a file broke (its earlier records come first), then the next file.

    With ``jobs`` > 1 (default: all cores), up to ``jobs`` worker processes each take the next
    file nobody has taken yet and add sentence roles. With fewer files than jobs, each file is
    cut into blocks of whole records that a pool of ``jobs`` processes parses and annotates, so
    even a single file uses every core. With one job everything runs in this process. ``stats``, if
    given, accumulates every file's counts.
    """
    files, jobs, stats = _arguments(paths, jobs, stats)
    if jobs <= 1 or not files:
        for item in _serial(files, roles, stats, chunk_size):
            if isinstance(item, UnreadableFile):
                yield item
            else:
                yield from item
        return
    with _fewer_collections():  # the parent rebuilds every record from the wire format
        for shipped in _shipped(files, jobs, roles, stats, chunk_size, None):
            if isinstance(shipped, UnreadableFile):
                yield shipped
            else:
                yield from decode_articles(pickle.loads(shipped.data))


def _arguments(paths: Iterable[StrPath] | StrPath, jobs: int | None,
               stats: ParseStats | None) -> tuple[list[str], int, ParseStats]:
    """The file list, the number of jobs (default: all cores) and the stats to fill."""
    return (_path_list(paths), jobs if jobs is not None else (os.cpu_count() or 1),
            stats if stats is not None else ParseStats())


def render_files(
    paths: Iterable[StrPath] | StrPath,
    fmt: str,
    jobs: int | None = None,
    roles: bool = True,
    stats: ParseStats | None = None,
    chunk_size: int = CHUNK_SIZE,
) -> Iterator[Rendered | UnreadableFile]:
    """:func:`parse_files`, but the workers also turn the records into output text in ``fmt``
    (one of :data:`cytoreview.export.RENDERED_FORMATS`): what the ``parse`` command writes,
    in input order, with no record rebuilt or serialised in this process (except when a file
    cut into blocks breaks after some of them: see the module's docstring)."""
    from cytoreview.export import RENDERED_FORMATS, render_records

    if fmt not in RENDERED_FORMATS:
        raise ValueError(f"{fmt!r} cannot be rendered in chunks")
    files, jobs, stats = _arguments(paths, jobs, stats)
    if jobs <= 1 or not files:
        for item in _serial(files, roles, stats, chunk_size):
            yield item if isinstance(item, UnreadableFile) else Rendered(
                render_records(item, fmt), len(item))
        return
    yield from _shipped(files, jobs, roles, stats, chunk_size, fmt)


def _shipped(
    paths: list[str], jobs: int, roles: bool, stats: ParseStats, chunk_size: int,
    fmt: str | None,
) -> Iterator[_Shipped]:
    if len(paths) < jobs:
        # Too few files to keep every core busy one file per worker: the files are cut.
        yield from _blocked(paths, jobs, roles, stats, chunk_size, fmt)
    else:
        yield from _parsed_chunks(paths, jobs, stats, chunk_size, roles, fmt)


class _Whole(Exception):
    """This file is not to be cut."""


class _Block(NamedTuple):
    """A block parsed by a pool process: its payload (as :func:`_ship` makes it)."""

    data: bytes
    records: int
    stats: ParseStats
    failed: bool  # the block broke: the file is read again in one piece from this block on


def _parse_block(document: bytes, path: str, roles: bool, fmt: str | None) -> _Block:
    """In a pool process: one block (a complete document, :mod:`cytoreview.blocks`)."""
    stats = ParseStats()
    try:
        articles = list(iter_articles(io.BytesIO(document), path, stats))
    except UnreadableFile:
        return _Block(b"", 0, stats, True)
    annotate = _annotator(roles)
    return _Block(_ship(annotate(articles) if annotate else articles, fmt), len(articles), stats,
                  False)


def _blocked(
    paths: list[str], jobs: int, roles: bool, stats: ParseStats, chunk_size: int,
    fmt: str | None,
) -> Iterator[_Shipped]:
    """Fewer files than workers: each file is cut into blocks of whole records here, and a
    pool of ``jobs`` processes parses them (roles and output text included), in order."""
    pool: ProcessPoolExecutor | None = None
    try:
        for path in paths:
            if pool is None:
                # With fork, the executor starts all its processes at the first submit, before
                # its own manager thread: no thread is forked mid-flight.
                pool = ProcessPoolExecutor(jobs, mp_context=_context(), initializer=_init_worker)
                with forking():
                    pool.submit(int)
            try:
                yield from _blocked_file(pool, path, jobs, roles, stats, chunk_size, fmt)
            except BrokenExecutor:
                # As with a worker of whole files: the file is reported, the others go on.
                yield UnreadableFile(path, "the worker process parsing it died")
                pool.shutdown(wait=False, cancel_futures=True)
                pool = None
    finally:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


def _blocked_file(
    pool: ProcessPoolExecutor, path: str, jobs: int, roles: bool, stats: ParseStats,
    chunk_size: int, fmt: str | None,
) -> Iterator[_Shipped]:
    window: deque[Future[_Block]] = deque()
    sent = 0  # records of this file already yielded
    file_stats = ParseStats()
    broken = False  # a block did not parse
    cut_to_the_end = True

    def take() -> Iterator[_Shipped]:
        nonlocal sent, broken
        block = window.popleft().result()
        if block.failed:
            broken = True
            return
        file_stats.merge(block.stats)
        sent += block.records
        if block.records:
            yield Rendered(block.data, block.records)

    try:
        if not stat.S_ISREG(os.stat(path).st_mode):
            # A pipe or a device cannot be read a second time, as a failed cut would need:
            # it goes to one worker whole, not even opened here (closing a FIFO's only reader
            # would break its writer).
            cut_to_the_end = False
            raise _Whole
        with open(path, "rb") as raw:
            stream = _uncompressed(raw)
            try:
                for document in blocks(stream, _BLOCK_BYTES):
                    window.append(pool.submit(_parse_block, document, path, roles, fmt))
                    # Enough blocks in flight to keep every worker busy, few enough to bound
                    # memory.
                    while len(window) > 2 * jobs and not broken:
                        yield from take()
                    if broken:
                        break
            except Unsplittable:
                cut_to_the_end = False
            while window and not broken:
                yield from take()
            cut_to_the_end = cut_to_the_end and stream.error is None
    except _Whole:
        pass
    except OSError as exc:
        yield UnreadableFile(path, exc.strerror or str(exc))
        return
    finally:
        for pending in window:
            pending.cancel()
    if cut_to_the_end and not broken:
        stats.merge(file_stats)
        return
    if sent == 0:
        # Nothing given yet (not cut at all, or the first block broke): one worker reads the
        # file whole, as with more files than jobs.
        yield from _parsed_chunks([path], 1, stats, chunk_size, roles, fmt)
        return
    # A break, or a stretch that cannot be cut safely, after records were given: the file is
    # read again here, in this process, from its first byte, so its counts and the position in
    # the error message are those of a plain read, and the records given are left out.
    try:
        for chunk in annotated_chunks(path, roles, stats, chunk_size, skip=sent):
            yield Rendered(_ship(chunk, fmt), len(chunk))
    except UnreadableFile as exc:
        yield exc


def _parsed_chunks(
    paths: list[str], jobs: int, stats: ParseStats, chunk_size: int, roles: bool,
    fmt: str | None,
) -> Iterator[_Shipped]:
    """Chunks from parser processes (with roles if asked, rendered if ``fmt``), in input
    order, errors in their place."""
    workers = min(jobs, len(paths))
    ctx = _context()
    spill_dir = tempfile.mkdtemp(prefix="cytoreview-")
    inbox: list[Any] = []  # the reading end of each worker's pipe
    procs: list[Any] = []
    dead: set[int] = set()
    try:
        slots = [ctx.BoundedSemaphore(_SPILL_DEPTH) for _ in range(workers)]
        next_file = ctx.Value("q", 0)
        # Written under next_file's lock; the parent reads each slot once it is set.
        owner = ctx.Array("i", [-1] * len(paths), lock=False)
        # A file in progress holds a ticket, and so does a spill file until it is read.
        tickets = ctx.Semaphore(_TICKETS * workers)
        started = ctx.Semaphore(0)
        for k in range(workers):
            # Each pipe is made just before its worker starts and its writing end closed here
            # just after, so no other process holds it: the worker's death ends the pipe.
            reader, writer = ctx.Pipe(duplex=False)
            inbox.append(reader)
            procs.append(ctx.Process(
                target=_worker,
                args=(_ClaimedFiles(paths, next_file, owner, tickets, started, k),
                      roles, chunk_size, writer, slots[k], fmt, spill_dir, reader),
                daemon=True,
            ))
            try:
                with forking():
                    procs[-1].start()
            finally:
                writer.close()
        for _ in procs:
            started.release()
        for index, path in enumerate(paths):
            # A worker's files come in input order and so do its messages: once file
            # ``index`` is claimed, the next message in its worker's pipe is about it.
            w = _claimed_by(owner, index, procs)
            while w is not None and w not in dead:
                if not inbox[w].poll(_POLL_SECONDS):
                    # Gone with nothing left to read, though the pipe did not end (a process
                    # that should not hold its writing end does).
                    if not procs[w].is_alive() and not inbox[w].poll():
                        dead.add(w)
                    continue
                try:
                    message = inbox[w].recv_bytes()
                except (EOFError, OSError):  # the worker is gone, maybe halfway through
                    dead.add(w)
                    continue
                got, data, count, file_stats, reason, spill = pickle.loads(message)
                if got != index:  # cannot happen unless a worker broke its order
                    raise RuntimeError(f"worker sent file {got} while file {index} was due")
                if count:
                    slots[w].release()
                    yield Rendered(data, count)
                if spill is not None:
                    yield from _unspill(spill)
                    tickets.release()
                if file_stats is not None:
                    stats.merge(file_stats)
                    if reason is not None:
                        yield UnreadableFile(path, reason)
                    break
            if w is None or w in dead:
                # Its ticket may never come back otherwise (at worst, one too many now).
                tickets.release()
                yield UnreadableFile(path, "the worker process parsing it died")
    finally:
        for proc in procs:
            if proc.is_alive():
                proc.terminate()
        for proc in procs:
            if proc.pid is not None:  # started (Ctrl-C can come while they start)
                proc.join(_TERMINATE_SECONDS)
                if proc.is_alive():
                    # A SIGTERM that reached a worker in its first microseconds, before
                    # Python reset its signal flags after the fork, is lost: the command
                    # waited for it for ever (1 run in 20 of a Ctrl-C at start-up).
                    proc.kill()
                    proc.join()
        for reader in inbox:
            reader.close()
        shutil.rmtree(spill_dir, ignore_errors=True)


def _claimed_by(owner: Any, index: int, procs: list[Any]) -> int | None:
    """The worker that took file ``index``, once one has; None if every worker exited
    without taking it (they died: a live worker takes every file in turn)."""
    while (w := owner[index]) < 0:
        if not any(proc.is_alive() for proc in procs):
            # Read again: the last worker may have taken it, finished and left since.
            w = owner[index]
            return w if w >= 0 else None
        time.sleep(_CLAIM_POLL_SECONDS)
    return int(w)


def _unspill(path: str) -> Iterator[Rendered]:
    """The chunks a worker spilled, in order."""
    with open(path, "rb") as spill:
        while header := spill.read(_FRAME.size):
            size, count = _FRAME.unpack(header)
            yield Rendered(spill.read(size), count)
    os.unlink(path)


def _serial(
    paths: list[str], roles: bool, stats: ParseStats, chunk_size: int
) -> Iterator[list[Article] | UnreadableFile]:
    for path in paths:
        try:
            with _fewer_collections():
                yield from annotated_chunks(path, roles, stats, chunk_size)
        except UnreadableFile as exc:
            yield exc
