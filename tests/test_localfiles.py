"""Local files: gzip by magic bytes, bad files, worker processes, order, roles in workers."""

from __future__ import annotations

import contextlib
import gzip
import pickle
import random
import subprocess
import sys
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from cytoreview.errors import UnreadableFile
from cytoreview.filepool import parse_files, render_files
from cytoreview.localfiles import FileResult, _Gunzip, iter_file, parse_file
from cytoreview.model import Article
from cytoreview.parse import ParseStats, parse_bytes
from cytoreview.wire import decode_articles, encode_articles

FIXTURES = Path(__file__).parent / "fixtures" / "xml"
OLD = FIXTURES / "pubmed20n0014_cases.xml"
NEW = FIXTURES / "pubmed21n1298_cases.xml"
OLD_PMIDS = [a.pmid for a in parse_bytes(OLD.read_bytes())]
NEW_PMIDS = [a.pmid for a in parse_bytes(NEW.read_bytes())]

try:
    import cytoreview.roles  # noqa: F401

    HAVE_ROLES = True
except ImportError:  # roles.py is written in parallel; the parser must not wait for it
    HAVE_ROLES = False


def pmids(items: list[Article | UnreadableFile]) -> list[str]:
    return [x.pmid if isinstance(x, Article) else f"ERROR {x.path}" for x in items]


@pytest.fixture
def gz(tmp_path: Path) -> Path:
    path = tmp_path / "old.xml.gz"
    path.write_bytes(gzip.compress(OLD.read_bytes()))
    return path


def test_gzip_is_recognised_by_content_not_name(tmp_path: Path, gz: Path) -> None:
    disguised = tmp_path / "really-gzip.xml"
    disguised.write_bytes(gz.read_bytes())
    plain_named_gz = tmp_path / "really-plain.xml.gz"
    plain_named_gz.write_bytes(OLD.read_bytes())
    for path in (gz, disguised, plain_named_gz):
        assert [a.pmid for a in iter_file(str(path))] == OLD_PMIDS


def test_truncated_gzip_yields_the_records_before_the_cut(tmp_path: Path, gz: Path) -> None:
    data = gz.read_bytes()
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    got: list[str] = []
    with pytest.raises(UnreadableFile) as info:
        for article in iter_file(str(cut)):
            got.append(article.pmid)
    assert 0 < len(got) < len(OLD_PMIDS)
    assert got == OLD_PMIDS[: len(got)]
    message = str(info.value)
    assert message.startswith(str(cut)) and "truncated gzip" in message
    assert f"after PMID {got[-1]}" in message and "byte" in message


def test_corrupt_gzip_data_yields_the_records_before_it(tmp_path: Path, gz: Path) -> None:
    data = bytearray(gz.read_bytes())
    middle = len(data) * 2 // 3
    data[middle : middle + 64] = b"\xff" * 64  # a deflate block that cannot be decoded
    bad = tmp_path / "corrupt.xml.gz"
    bad.write_bytes(bytes(data))
    result = parse_file(str(bad), roles=False)
    got = [a.pmid for a in result.articles]
    assert 0 < len(got) < len(OLD_PMIDS) and got == OLD_PMIDS[: len(got)]
    assert result.reason is not None and result.reason.startswith("corrupt gzip data")


def test_a_wrong_gzip_checksum_loses_at_most_the_last_step(tmp_path: Path, gz: Path) -> None:
    # The checksum is checked as the data ends; inflate then drops that call's output, which
    # _Gunzip keeps to one step: every record that ends before the last step comes out.
    data = gz.read_bytes()
    crc = int.from_bytes(data[-8:-4], "little") ^ 1
    bad = tmp_path / "crc.xml.gz"
    bad.write_bytes(data[:-8] + crc.to_bytes(4, "little") + data[-4:])
    xml = OLD.read_bytes()
    safe = xml.count(b"</PubmedArticle>", 0, len(xml) - _Gunzip._STEP)
    result = parse_file(str(bad), roles=False)
    got = [a.pmid for a in result.articles]
    assert safe > 0 and len(got) >= safe and got == OLD_PMIDS[: len(got)]
    assert result.reason is not None and result.reason.startswith("corrupt gzip data")


@pytest.mark.timeout(30)
@pytest.mark.parametrize("pad_to_step", [False, True])
def test_concatenated_gzip_members_are_read_through(tmp_path: Path, pad_to_step: bool) -> None:
    data = OLD.read_bytes()
    cut = data.index(b"<PubmedArticle>", data.index(b"<PubmedArticle>") + 1)
    first = data[:cut]
    if pad_to_step:
        # A member that ends one byte into a step: what follows it is then left in
        # unconsumed_tail as well as unused_data; read as more of the ended member, it never
        # ended (found by benchmarks/fuzz_parse.py).
        first += b" " * (-len(first) % _Gunzip._STEP + 1)
    joined = tmp_path / "members.xml.gz"
    joined.write_bytes(gzip.compress(first) + gzip.compress(data[cut:]))
    assert [a.pmid for a in iter_file(str(joined))] == OLD_PMIDS


def _many_records(copies: int = 20) -> bytes:
    """The fixture's records repeated: XML far longer than one inflate step."""
    head, rest = OLD.read_bytes().split(b"<PubmedArticleSet>", 1)
    body = rest.rsplit(b"</PubmedArticleSet>", 1)[0]
    return head + b"<PubmedArticleSet>" + body * copies + b"</PubmedArticleSet>\n"


def _member(
    payload: bytes, flags: int = 0, extra: bytes = b"", name: bytes = b"records.xml"
) -> bytes:
    """One gzip member with the header ``flags`` asked for (FEXTRA 4, FNAME 8, FHCRC 2)."""
    header = b"\x1f\x8b\x08" + bytes([flags]) + b"\0\0\0\0\0\xff"
    if flags & 4:
        header += len(extra).to_bytes(2, "little") + extra
    if flags & 8:
        header += name + b"\0"
    if flags & 2:
        header += (zlib.crc32(header) & 0xFFFF).to_bytes(2, "little")
    deflated = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = deflated.compress(payload) + deflated.flush()
    return header + body + zlib.crc32(payload).to_bytes(4, "little") + len(payload).to_bytes(
        4, "little"
    )


@pytest.mark.parametrize("flags", [2 | 4, 4 | 8])
def test_a_member_header_longer_than_one_read_is_read(tmp_path: Path, flags: int) -> None:
    # ISA-L misreads such a header when it arrives in two pieces; it must get it whole.
    xml = _many_records(2)
    path = tmp_path / "header.xml.gz"
    path.write_bytes(_member(xml, flags, extra=b"x" * (_Gunzip._CHUNK - 5)))
    assert gzip.decompress(path.read_bytes()) == xml
    result = parse_file(str(path), roles=False)
    assert result.ok and len(result.articles) == 2 * len(OLD_PMIDS)


def test_a_member_header_over_the_limit_is_refused_by_name(tmp_path: Path) -> None:
    # Read whole, a header could take any amount of memory; given in pieces, ISA-L misreads
    # it. Past _MAX_HEADER the member is refused, after the records of the members before.
    xml = _many_records(2)
    cut = xml.index(b"<PubmedArticle>", xml.index(b"</PubmedArticle>"))
    path = tmp_path / "long-name.xml.gz"
    path.write_bytes(_member(xml[:cut]) + _member(xml[cut:], 8 | 2, name=b"n" * (1 << 21)))
    result = parse_file(str(path), roles=False)
    assert [a.pmid for a in result.articles] == OLD_PMIDS[:1]
    assert result.reason is not None
    assert result.reason.startswith("corrupt gzip data (a gzip member header longer than 1 MB)")


def test_a_file_cut_in_its_trailer_loses_no_record(tmp_path: Path) -> None:
    # The data is all there, only the checksum is missing: every record comes out (ISA-L
    # holds the last output back until it is asked again with no more input).
    data = gzip.compress(_many_records(), mtime=0)
    cut = tmp_path / "cut.xml.gz"
    cut.write_bytes(data[:-8])
    result = parse_file(str(cut), roles=False)
    assert len(result.articles) == 20 * len(OLD_PMIDS)
    assert result.reason is not None and result.reason.startswith("truncated gzip")


@pytest.mark.parametrize("tail", [b"junk\n", b"\0\0\0\0", b"x" * 40])
def test_bytes_after_the_gzip_data_are_named_not_gzip(
    tmp_path: Path, gz: Path, tail: bytes
) -> None:
    path = tmp_path / "tail.xml.gz"
    path.write_bytes(gz.read_bytes() + tail)
    result = parse_file(str(path), roles=False)
    assert [a.pmid for a in result.articles] == OLD_PMIDS
    assert result.reason is not None and result.reason.startswith("corrupt gzip data")


def test_corrupt_gzip_is_named_even_when_the_xml_breaks_first(tmp_path: Path) -> None:
    # A flipped bit inflates to garbage that lxml trips over long before the checksum at the
    # member's end: the cause to name is still the gzip data.
    data = gzip.compress(_many_records(), mtime=0)
    rnd = random.Random(3)
    reasons = []
    for _ in range(15):
        damaged = bytearray(data)
        damaged[rnd.randrange(20, len(data) - 8)] ^= 1 << rnd.randrange(8)
        path = tmp_path / "flipped.xml.gz"
        path.write_bytes(bytes(damaged))
        result = parse_file(str(path), roles=False)
        if result.reason is not None:
            reasons.append(result.reason)
    assert reasons and all(r.startswith("corrupt gzip data") for r in reasons), reasons


def test_invalid_utf8_yields_the_records_before_it(tmp_path: Path) -> None:
    data = OLD.read_bytes()
    at = data.index(b"Hormone therapy and affect.")  # title of the third record
    bad = tmp_path / "bad.xml"
    bad.write_bytes(data[:at] + b"\xff\xfe" + data[at:])
    result = parse_file(str(bad), roles=False)
    assert [a.pmid for a in result.articles] == OLD_PMIDS[:2]
    assert result.reason is not None and "line" in result.reason and "column" in result.reason
    assert str(result.error).startswith(str(bad))


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (gzip.compress(b""), "empty"),
        (b"PMID,title\n1,foo\n", "line 1, column 1"),
        (b"\x1f\x8b\x08\x00garbage", "gzip"),
    ],
)
def test_unreadable_files_are_named_with_a_reason(
    tmp_path: Path, content: bytes, reason: str
) -> None:
    path = tmp_path / "input.xml.gz"
    path.write_bytes(content)
    result = parse_file(str(path), roles=False)
    assert result.articles == [] and not result.ok
    assert reason in (result.reason or "")


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(UnreadableFile, match="No such file"):
        list(iter_file(str(tmp_path / "nope.xml")))
    with pytest.raises(UnreadableFile, match="Is a directory"):
        list(iter_file(str(tmp_path)))


def test_parse_file_result_is_picklable_for_dask() -> None:
    result = parse_file(str(NEW), roles=False)
    assert result.ok and [a.pmid for a in result.articles] == NEW_PMIDS
    assert len(result.stats.deleted) == 20
    copy = pickle.loads(pickle.dumps(result))
    assert isinstance(copy, FileResult) and copy == result


@pytest.mark.skipif(not HAVE_ROLES, reason="roles.py not available yet")
def test_parse_file_adds_sentence_roles() -> None:
    result = parse_file(str(NEW), roles=True)
    for article in result.articles:
        assert bool(article.sentences) == bool(article.abstract)
        for s in article.sentences:
            assert article.abstract[s.start : s.end].strip()


@pytest.mark.parametrize("jobs", [1, 2, 3])
def test_parse_files_keeps_input_order_and_reports_bad_files_in_place(
    tmp_path: Path, gz: Path, jobs: int
) -> None:
    broken = tmp_path / "broken.xml"
    data = NEW.read_bytes()
    broken.write_bytes(data[: data.index(b"<PMID Version=\"1\">31845223</PMID>")])
    missing = tmp_path / "missing.xml"
    paths = [str(gz), str(broken), str(NEW), str(missing), str(OLD)]
    stats = ParseStats()
    items = list(parse_files(paths, jobs=jobs, roles=False, stats=stats, chunk_size=3))
    assert pmids(items) == [
        *OLD_PMIDS,
        *NEW_PMIDS[:3], f"ERROR {broken}",
        *NEW_PMIDS,
        f"ERROR {missing}",
        *OLD_PMIDS,
    ]
    assert len(stats.deleted) == 20 and stats.records == 2 * len(OLD_PMIDS) + 3 + len(NEW_PMIDS)
    error = items[len(OLD_PMIDS) + 3]
    assert isinstance(error, UnreadableFile) and "after PMID" in error.reason


@pytest.mark.parametrize("depth", [8, 1])
def test_records_from_workers_equal_records_parsed_in_process(
    monkeypatch: pytest.MonkeyPatch, depth: int
) -> None:
    from cytoreview import filepool

    # depth 1: a worker ahead of the parent spills the rest of its file to disk.
    monkeypatch.setattr(filepool, "_SPILL_DEPTH", depth)
    paths = [str(OLD), str(NEW), str(OLD), str(NEW)]
    serial = list(parse_files(paths, jobs=1, roles=False))
    parallel = list(parse_files(paths, jobs=2, roles=False, chunk_size=2))
    assert serial == parallel


@pytest.mark.skipif(not HAVE_ROLES, reason="roles.py not available yet")
def test_roles_on_worker_pool_keep_order_and_errors_in_place(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    data = NEW.read_bytes()
    broken.write_bytes(data[: data.index(b"<PMID Version=\"1\">31845223</PMID>")])
    paths = [str(NEW), str(broken), str(OLD)]
    # The same chunks on both sides: roles are decoded a chunk at a time, and the model's
    # confidences may differ in the last bits with what else is in the batch.
    serial = list(parse_files(paths, jobs=1, roles=True, chunk_size=2))
    parallel = list(parse_files(paths, jobs=2, roles=True, chunk_size=2))
    assert pmids(parallel) == pmids(serial) == [*NEW_PMIDS, *NEW_PMIDS[:3], f"ERROR {broken}",
                                                 *OLD_PMIDS]
    assert [x for x in parallel if isinstance(x, Article)] == [
        x for x in serial if isinstance(x, Article)]
    assert any(isinstance(x, Article) and x.sentences for x in parallel)


@pytest.mark.parametrize("fmt", ["jsonl", "json", "csv"])
@pytest.mark.parametrize(
    ("jobs", "roles", "depth"), [(1, True, 8), (2, True, 8), (2, True, 1), (3, True, 8),
                                 (2, False, 1)]
)
def test_output_rendered_by_workers_equals_the_writer_on_records(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fmt: str, jobs: int, roles: bool, depth: int
) -> None:
    from cytoreview import filepool
    from cytoreview.export import Provenance, write, write_rendered

    # depth 1: a worker ahead of the parent spills the rest of its file to disk.
    monkeypatch.setattr(filepool, "_SPILL_DEPTH", depth)

    broken = tmp_path / "broken.xml"
    data = NEW.read_bytes()
    broken.write_bytes(data[: data.index(b"<PMID Version=\"1\">31845223</PMID>")])
    paths = [str(NEW), str(broken), str(OLD)]
    serial = parse_files(paths, jobs=1, roles=roles, chunk_size=2)
    records = [x for x in serial if isinstance(x, Article)]
    expected, got = tmp_path / "expected", tmp_path / "got"
    with open(expected, "w", encoding="utf-8", newline="") as out:
        write(records, fmt, out, Provenance("parse", tuple(paths)))
    items = list(render_files(paths, fmt, jobs=jobs, roles=roles, chunk_size=2))
    errors = [x for x in items if isinstance(x, UnreadableFile)]
    assert [e.path for e in errors] == [str(broken)]
    with open(got, "w", encoding="utf-8", newline="") as out:
        count = write_rendered([x for x in items if not isinstance(x, UnreadableFile)], fmt, out)
    assert count == len(records)
    assert got.read_bytes() == expected.read_bytes()


@pytest.mark.skipif(not HAVE_ROLES, reason="roles.py not available yet")
def test_a_single_file_spreads_roles_over_a_pool() -> None:
    serial = list(parse_files([str(NEW)], jobs=1, roles=True, chunk_size=2))
    pooled = list(parse_files([str(NEW)], jobs=3, roles=True, chunk_size=2))
    assert pooled == serial and pmids(pooled) == NEW_PMIDS
    assert any(isinstance(x, Article) and x.sentences for x in pooled)


@pytest.mark.skipif(not HAVE_ROLES, reason="roles.py not available yet")
def test_roles_run_in_the_workers_not_in_the_parent() -> None:
    code = (
        "import sys\n"
        "from cytoreview.localfiles import parse_files\n"
        f"items = list(parse_files([{str(OLD)!r}, {str(NEW)!r}], jobs=2))\n"
        "assert any(a.sentences for a in items)\n"
        "print('cytoreview.roles' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=120)
    assert out.stdout.strip() == "False"


@pytest.mark.skipif(not HAVE_ROLES, reason="roles.py not available yet")
def test_wire_format_round_trips_annotated_records() -> None:
    from cytoreview.roles import annotate

    articles = [annotate(a) for a in parse_bytes(NEW.read_bytes())]
    decoded = decode_articles(pickle.loads(pickle.dumps(encode_articles(articles))))
    assert decoded == articles
    # A heading without qualifiers that several records carry is one object, as when parsed.
    plain = [h for a in decoded for h in a.mesh_headings if not h.qualifiers]
    objects: dict[object, set[int]] = {}
    for h in plain:
        objects.setdefault(h, set()).add(id(h))
    assert len(objects) < len(plain)  # some heading repeats
    assert all(len(ids) == 1 for ids in objects.values())
    # Shared by value, and 1 == True: a flag given as 1 by hand is not replaced by True.
    from cytoreview.model import MeshHeading

    flags = [Article("1", "t", mesh_headings=(MeshHeading("Humans", "D006801", flag),))
             for flag in (True, 1)]  # type: ignore[arg-type]
    back = decode_articles(encode_articles(flags))
    assert [a.mesh_headings[0].major_topic for a in back] == [True, 1]
    assert b'"major_topic":1' in back[1].to_json()


def test_stopping_early_stops_the_workers() -> None:
    items = parse_files([str(OLD), str(NEW), str(OLD)], jobs=2, roles=False)
    first = next(items)
    assert isinstance(first, Article) and first.pmid == OLD_PMIDS[0]
    items.close()  # the generator's cleanup terminates and joins the workers


def test_parse_file_on_a_local_dask_cluster() -> None:
    distributed = pytest.importorskip("dask.distributed")
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True)
    with cluster, distributed.Client(cluster) as client:
        futures = client.map(parse_file, [str(OLD), str(NEW)], roles=False)
        results = client.gather(futures)
    assert [[a.pmid for a in r.articles] for r in results] == [OLD_PMIDS, NEW_PMIDS]


def _feed_fifo(fifo: Path, data: bytes, seconds: float) -> bool:
    """Write ``data`` into ``fifo`` once a reader has opened it; False if none did in time."""
    import errno
    import os
    import time

    deadline = time.monotonic() + seconds
    while True:
        try:
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError as exc:
            if exc.errno != errno.ENXIO or time.monotonic() > deadline:
                return False
            time.sleep(0.01)
            continue
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        return True


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes")
@pytest.mark.parametrize("depth", [8, 1])
def test_a_free_worker_takes_the_next_file_while_another_is_held_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, depth: int
) -> None:
    # Two workers, three files: the first is a pipe that stays silent until the third has been
    # opened. With a fixed share (the first worker owns files 1 and 3) the third would wait for
    # the first; the free worker takes it instead. depth 1: the second file does not fit in
    # the queue, and its last message must not wait for the parent (stuck on the first) either.
    import os
    import threading

    from cytoreview import filepool

    monkeypatch.setattr(filepool, "_SPILL_DEPTH", depth)

    slow, late = tmp_path / "slow", tmp_path / "late"
    os.mkfifo(slow)
    os.mkfifo(late)
    opened_late_first: list[bool] = []

    def writer() -> None:
        opened_late_first.append(_feed_fifo(late, NEW.read_bytes(), 20))
        _feed_fifo(slow, OLD.read_bytes(), 60)
        if not opened_late_first[0]:  # let the run finish even so: the assertion tells
            _feed_fifo(late, NEW.read_bytes(), 60)

    thread = threading.Thread(target=writer)
    thread.start()
    items = list(parse_files([str(slow), str(NEW), str(late)], jobs=2, roles=False, chunk_size=2))
    thread.join()
    assert opened_late_first == [True]
    assert pmids(items) == [*OLD_PMIDS, *NEW_PMIDS, *NEW_PMIDS]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers forked")
def test_a_worker_that_dies_loses_only_the_file_it_was_on(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import time

    from cytoreview import filepool

    doomed = tmp_path / "doomed.xml"
    doomed.write_bytes(NEW.read_bytes())
    real = filepool.annotated_chunks

    def dies_on_doomed(path: str, *args: object, **kwargs: object) -> object:
        if path == str(doomed):
            # Killed while on this file (out of memory, say), not at the instant it finished
            # the one before: what that worker had queued has reached the parent.
            time.sleep(0.5)
            os._exit(1)
        return real(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(filepool, "annotated_chunks", dies_on_doomed)
    paths = [str(OLD), str(doomed), str(NEW), str(OLD), str(NEW)]
    items = list(parse_files(paths, jobs=2, roles=False))
    assert pmids(items) == [
        *OLD_PMIDS, f"ERROR {doomed}", *NEW_PMIDS, *OLD_PMIDS, *NEW_PMIDS
    ]
    assert "died" in next(x for x in items if isinstance(x, UnreadableFile)).reason


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers forked; SIGALRM")
def test_a_worker_killed_halfway_through_a_message_does_not_hang_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Killed (out of memory, say) while a chunk was half written to the pipe: the parent had
    # read the length and would wait for the rest for ever.
    import os
    import signal
    import struct
    from multiprocessing import connection

    marker = NEW_PMIDS[0]
    doomed = tmp_path / "doomed.xml"
    doomed.write_bytes(NEW.read_bytes().replace(marker.encode(), b"99999999"))
    parent = os.getpid()
    real_send = connection.Connection.send_bytes

    def dies_halfway(self: Any, buf: Any, *args: Any) -> None:
        data = bytes(buf)
        if os.getpid() != parent and b"99999999" in data:
            os.write(self.fileno(), struct.pack("!i", len(data)) + data[: len(data) // 2])
            os._exit(1)
        real_send(self, buf, *args)

    def stuck(*_: object) -> None:
        raise TimeoutError("no progress in 30 s")

    monkeypatch.setattr(connection.Connection, "send_bytes", dies_halfway)
    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(30)
    try:
        # Last, so that the dying worker cannot have taken a later file (lost with it).
        paths = [str(OLD), str(NEW), str(OLD), str(doomed)]
        items = list(parse_files(paths, jobs=2, roles=False))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert pmids(items) == [*OLD_PMIDS, *NEW_PMIDS, *OLD_PMIDS, f"ERROR {doomed}"]
    assert "died" in next(x for x in items if isinstance(x, UnreadableFile)).reason


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes")
def test_a_worker_runs_only_a_few_files_ahead_of_the_output(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # While the output waits for a slow first file, the free worker goes on only a few files:
    # what it makes meanwhile waits in spill files, which must not grow with the whole run
    # (tens of GB for the baseline, in /tmp).
    import os
    import tempfile
    import threading
    import time

    from cytoreview import filepool

    spill_root = tmp_path / "tmp"
    spill_root.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(spill_root))
    slow = tmp_path / "slow"
    os.mkfifo(slow)
    files = []
    for i in range(40):
        files.append(tmp_path / f"{i}.xml")
        files[-1].write_bytes(NEW.read_bytes())
    most = [0]

    def writer() -> None:
        deadline = time.monotonic() + 2  # time enough for the free worker to do all 40
        while time.monotonic() < deadline:
            spilled = [f for d in spill_root.iterdir() for f in d.glob("*.part")]
            most[0] = max(most[0], len(spilled))
            time.sleep(0.02)
        _feed_fifo(slow, OLD.read_bytes(), 60)

    thread = threading.Thread(target=writer)
    thread.start()
    items = list(parse_files([str(slow), *map(str, files)], jobs=2, roles=False, chunk_size=2))
    thread.join()
    assert pmids(items) == [*OLD_PMIDS, *NEW_PMIDS * 40]
    assert 0 < most[0] <= filepool._TICKETS * 2


def _before_each_worker_start(
    monkeypatch: pytest.MonkeyPatch, hook: Callable[[list[Any]], None]
) -> None:
    """Call ``hook(the workers started so far)`` before each worker of parse_files starts."""
    from cytoreview import filepool

    real = filepool._context()
    started: list[Any] = []

    class Process(real.Process):  # type: ignore[misc, name-defined]
        def start(self) -> None:
            hook(started)
            started.append(self)
            super().start()

    class Context:
        def __getattr__(self, name: str) -> object:
            return getattr(real, name)

    Context.Process = Process  # type: ignore[attr-defined]
    monkeypatch.setattr(filepool, "_context", Context)


def test_ctrl_c_while_workers_start_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import multiprocessing
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    def second_is_interrupted(before: list[Any]) -> None:
        if len(before) == 1:
            raise KeyboardInterrupt

    _before_each_worker_start(monkeypatch, second_is_interrupted)
    with pytest.raises(KeyboardInterrupt):
        list(parse_files([str(OLD)] * 4, jobs=2, roles=False))
    assert multiprocessing.active_children() == []
    assert list(tmp_path.iterdir()) == []  # no spill directory left


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and SIGALRM")
def test_a_worker_killed_before_the_others_start_does_not_stop_the_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os
    import signal
    import time

    def kill_the_first(before: list[Any]) -> None:
        if len(before) == 1:
            time.sleep(0.3)  # it is waiting for the others by now
            os.kill(before[0].pid, signal.SIGKILL)
            before[0].join()

    def stuck(*_: object) -> None:
        raise TimeoutError("no progress in 30 s")

    _before_each_worker_start(monkeypatch, kill_the_first)
    previous = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(30)
    try:
        items = list(parse_files([str(OLD), str(NEW), str(OLD)], jobs=2, roles=False))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
    assert pmids(items) == [*OLD_PMIDS, *NEW_PMIDS, *OLD_PMIDS]  # the other worker did all


@pytest.mark.skipif(sys.platform == "win32", reason="named pipes and SIGALRM")
@pytest.mark.parametrize("slow_start", [0.0, 0.3])
def test_pipes_fed_together_far_apart_in_the_input_both_drain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, slow_start: float
) -> None:
    # `tee a b` into two pipes given as the first and the last of eight inputs: the first
    # cannot end before the last is read, so a free worker must get to the last one. The
    # writer is a thread of this process: a worker forked after the first pipe was opened
    # would hold its writing end too, and it would never end (slow_start makes that order
    # certain; it happened by chance in 2 of 4 full test runs).
    import os
    import signal
    import threading
    import time

    def later_ones_wait(before: list[Any]) -> None:
        if before:  # the first worker has had time to open the first pipe
            time.sleep(slow_start)

    _before_each_worker_start(monkeypatch, later_ones_wait)

    first, last = tmp_path / "first", tmp_path / "last"
    os.mkfifo(first)
    os.mkfifo(last)
    data = OLD.read_bytes()

    def tee() -> None:
        with open(first, "wb", buffering=0) as a, open(last, "wb", buffering=0) as b:
            for i in range(0, len(data), 4096):
                a.write(data[i : i + 4096])
                b.write(data[i : i + 4096])

    threading.Thread(target=tee, daemon=True).start()

    def stuck(*_: object) -> None:
        raise TimeoutError("no progress in 30 s")

    before = signal.signal(signal.SIGALRM, stuck)
    signal.alarm(30)
    try:
        items = list(parse_files([str(first), *[str(NEW)] * 6, str(last)], jobs=2, roles=False))
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, before)
    assert pmids(items) == [*OLD_PMIDS, *NEW_PMIDS * 6, *OLD_PMIDS]


def _processes_with(marker: str) -> list[int]:
    """Processes whose command line holds ``marker`` (a forked worker has its parent's)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:  # gone meanwhile
                continue
            if marker.encode() in cmdline:
                found.append(int(entry.name))
    return found


# `cytoreview parse` whose workers, once forked, take ``argv[1]`` seconds to set themselves up
# (as on a loaded machine).
_SLOW_WORKERS = """
import sys, time
from cytoreview import filepool
from cytoreview.cli import main
real = filepool.init_worker
def slow(*args, **kwargs):
    time.sleep(float(delay))
    real(*args, **kwargs)
filepool.init_worker = slow
delay = sys.argv.pop(1)
main()
"""


def _parse_stuck_on_a_pipe(tmp_path: Path, slow_start: float) -> tuple[Any, str, Path]:
    """``cytoreview parse`` in a subprocess, its workers forked, one to wait on a pipe that
    nobody writes: (the process, the marker in its workers' command lines, its TMPDIR)."""
    import os
    import time

    fifo = tmp_path / "never-written"
    os.mkfifo(fifo)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", _SLOW_WORKERS, str(slow_start), "parse", str(fifo), str(NEW),
         "--jobs", "2", "-f", "jsonl", "-o", str(tmp_path / "out.jsonl")],
        env={**os.environ, "TMPDIR": str(tmp)}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 30
    while len(_processes_with(str(fifo))) < 3:  # the command and its two workers
        assert proc.poll() is None and time.monotonic() < deadline, proc.stderr
        time.sleep(0.05)
    assert [p.name[:11] for p in tmp.iterdir()] == ["cytoreview-"]  # the spill folder
    return proc, str(fifo), tmp


def _kill_all(marker: str) -> None:
    """Whatever a failed test left behind."""
    import os
    import signal

    for pid in _processes_with(marker):
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)


def _gone(marker: str, seconds: float) -> bool:
    import time

    deadline = time.monotonic() + seconds
    while _processes_with(marker):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, named pipes")
@pytest.mark.parametrize("slow_start", [0.0, 1.0])
def test_sigterm_stops_parse_like_ctrl_c_leaving_nothing_behind(
    tmp_path: Path, slow_start: float
) -> None:
    # `kill` and batch schedulers send SIGTERM to the command (`timeout` to its whole group).
    # With slow_start, it reaches workers not yet set up: they must end quietly too.
    import signal

    proc, marker, tmp = _parse_stuck_on_a_pipe(tmp_path, slow_start)
    try:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 130
        assert _gone(marker, 10)  # before reading stderr: a worker left would hold it open
        err = proc.stderr.read()
        assert "interrupted" in err and "Traceback" not in err
        assert list(tmp.iterdir()) == []
    finally:
        _kill_all(marker)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="/proc, named pipes")
@pytest.mark.parametrize("slow_start", [0.0, 1.0])
def test_workers_leave_when_parse_is_killed_outright(tmp_path: Path, slow_start: float) -> None:
    # SIGKILL (or the out-of-memory killer) gives the command no chance to stop its workers:
    # they notice that their parent is gone, remove their spill folder and exit. With
    # slow_start the parent is gone before they are set up.
    import signal

    proc, marker, tmp = _parse_stuck_on_a_pipe(tmp_path, slow_start)
    try:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        assert _gone(marker, 10)
        assert list(tmp.iterdir()) == []
    finally:
        _kill_all(marker)


def test_one_path_is_one_file_whatever_its_type() -> None:
    # A bare string used to be read as an iterable of one-character file names.
    expected = pmids(list(parse_files([str(NEW)], jobs=1, roles=False)))
    assert pmids(list(parse_files(str(NEW), jobs=1, roles=False))) == expected
    assert pmids(list(parse_files(NEW, jobs=1, roles=False))) == expected
    assert pmids(list(parse_files([NEW], jobs=1, roles=False))) == expected
    assert [a.pmid for a in parse_file(NEW, roles=False).articles] == expected


def test_overlapping_parses_put_the_collector_back_when_the_last_ends() -> None:
    import gc

    before = gc.get_threshold()
    first = parse_files([str(NEW)], jobs=1, roles=False)
    second = parse_files([str(OLD)], jobs=1, roles=False)
    next(first)
    next(second)
    first.close()
    assert gc.get_threshold() != before  # the second parse is still running
    second.close()
    assert gc.get_threshold() == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="fork, pthread_sigmask")
def test_a_stop_signal_during_a_fork_waits_for_it_and_still_stops_both_sides() -> None:
    # Ctrl-C or SIGTERM while Python ran its at-fork callbacks was swallowed ("Exception
    # ignored in: _releaseLock"), and one that reached a new worker before Python reset its
    # signal flags was lost: `parse` then never stopped (1 run in 20 of a SIGTERM at start).
    import multiprocessing
    import os
    import signal
    import threading
    import time

    from cytoreview.procs import forking

    received: list[int] = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: received.append(signum))
    try:
        ctx = multiprocessing.get_context("fork")
        with forking():
            worker = ctx.Process(target=_sets_up_slowly_then_waits, daemon=True)
            worker.start()
            # At this thread, as the kernel picks it in a one-thread command (this test
            # process has other threads, which the mask does not cover).
            signal.pthread_kill(threading.get_ident(), signal.SIGTERM)
            os.kill(worker.pid, signal.SIGTERM)  # before the worker has set anything up
            time.sleep(0.1)
            assert received == []  # held while the fork is under way
        assert received == [signal.SIGTERM]  # then delivered, not lost
        worker.join(10)
        # The worker kept its SIGTERM until init_worker, then died of it.
        assert worker.exitcode == -signal.SIGTERM
    finally:
        signal.signal(signal.SIGTERM, previous)


def _sets_up_slowly_then_waits() -> None:
    import time

    from cytoreview.procs import init_worker

    time.sleep(0.3)
    init_worker()
    time.sleep(30)
