"""One file shared by several processes: cut into blocks of whole records, the same records,
counts and error messages as reading it in one piece."""

from __future__ import annotations

import gzip
import io
import os
import random
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cytoreview import filepool
from cytoreview.blocks import Unsplittable, blocks
from cytoreview.errors import UnreadableFile
from cytoreview.filepool import parse_files, render_files
from cytoreview.model import Article
from cytoreview.parse import ParseStats, parse_bytes

FIXTURES = Path(__file__).parent / "fixtures" / "xml"
NEW = (FIXTURES / "pubmed21n1298_cases.xml").read_bytes()
OLD = (FIXTURES / "pubmed20n0014_cases.xml").read_bytes()
SMALL = 8 << 10  # bytes per block: the fixtures then make a dozen blocks or more


def _nth(data: bytes, tag: bytes, n: int) -> int:
    at = -1
    for _ in range(n):
        at = data.index(tag, at + 1)
    return at


def _between_records(data: bytes, n: int, insert: bytes) -> bytes:
    """``data`` with ``insert`` placed after the n-th record."""
    at = _nth(data, b"</PubmedArticle>", n) + len(b"</PubmedArticle>")
    return data[:at] + insert + data[at:]


def test_blocks_are_documents_that_together_hold_every_record_in_order() -> None:
    docs = list(blocks(io.BytesIO(NEW), SMALL))
    assert len(docs) > 5
    assert all(d.startswith(NEW[: NEW.index(b"<PubmedArticle>")]) for d in docs)
    pmids = [a.pmid for d in docs for a in parse_bytes(d)]
    assert pmids == [a.pmid for a in parse_bytes(NEW)]


@pytest.mark.parametrize(
    "markup",
    [b"<!-- </PubmedArticle> <PubmedArticle> -->", b"<?note </PubmedArticle> <PubmedArticle>?>"],
    ids=["comment", "processing instruction"],
)
def test_no_cut_falls_inside_a_comment_or_processing_instruction(markup: bytes) -> None:
    pmids = [a.pmid for a in parse_bytes(NEW)]
    for n in range(1, len(pmids)):
        # After the n-th record, record n + 1 opens inside the markup's look-alike tags.
        data = _between_records(NEW, n, b"\n  " + markup)
        docs: list[bytes] = []
        with pytest.raises(Unsplittable):  # the rest is read whole
            docs.extend(blocks(io.BytesIO(data), 1))
        got = [a.pmid for d in docs for a in parse_bytes(d)]
        assert got == pmids[: len(got)] and len(got) <= n


@pytest.mark.parametrize(
    "data",
    [b"", b"not xml at all", b"<?xml version='1.0'?><root><x/></root>",
     NEW.replace(b"pubmed_190101.dtd\">", b"pubmed_190101.dtd\" [<!ENTITY e 'x'>]>", 1)],
    ids=["empty", "text", "other xml", "internal subset"],
)
def test_files_that_cannot_be_cut_say_so_before_any_block(data: bytes) -> None:
    with pytest.raises(Unsplittable):
        next(blocks(io.BytesIO(data), SMALL))


def _delete_citations(data: bytes) -> bytes:
    tail = b"<DeleteCitation><PMID Version=\"1\">123</PMID><PMID Version=\"1\">456</PMID>" \
           b"</DeleteCitation>\n"
    return data.replace(b"</PubmedArticleSet>", tail + b"</PubmedArticleSet>")


def _bad_xml(data: bytes) -> bytes:
    at = _nth(data, b"</PubmedArticle>", 7)
    return data[:at] + b"</PubmedArticl>" + data[at + len(b"</PubmedArticle>") :]


def _bad_utf8(data: bytes) -> bytes:
    at = _nth(data, b"<ArticleTitle>", 8) + len(b"<ArticleTitle>")
    return data[:at] + b"\xff\xfe" + data[at:]


CASES = {
    "plain": NEW,
    "old records": OLD,
    "gzip": gzip.compress(NEW),
    "delete citations": _delete_citations(OLD),
    "comment mid-file": _between_records(NEW, 9, b"\n  <!-- a note -->"),
    "truncated gzip": gzip.compress(NEW)[:-9000],
    "broken xml mid-file": _bad_xml(NEW),
    "invalid utf-8 mid-file": _bad_utf8(NEW),
    "cut mid-record": NEW[: len(NEW) * 2 // 3],
    "entity declared": NEW.replace(
        b"pubmed_190101.dtd\">", b"pubmed_190101.dtd\" [<!ENTITY e 'x'>]>", 1),
    "empty": b"",
}


def _read(path: Path, jobs: int, roles: bool) -> tuple[list[Article | UnreadableFile], ParseStats]:
    stats = ParseStats()
    items = list(parse_files([str(path)], jobs=jobs, roles=roles, stats=stats, chunk_size=3))
    return items, stats


def _plain(items: list[Article | UnreadableFile]) -> list[object]:
    return [x if isinstance(x, Article) else ("error", x.path, x.reason) for x in items]


def _cut_reads_as_whole(path: Path, data: bytes) -> list[Article | UnreadableFile]:
    """Write ``data``, read it whole and cut: same records, errors and counts; the cut read."""
    path.write_bytes(data)
    whole, whole_stats = _read(path, jobs=1, roles=False)
    cut, cut_stats = _read(path, jobs=2, roles=False)
    assert _plain(cut) == _plain(whole)
    assert cut_stats == whole_stats
    return cut


@pytest.mark.parametrize("case", list(CASES))
def test_a_file_cut_into_blocks_reads_as_it_does_in_one_piece(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filepool, "_BLOCK_BYTES", SMALL)
    cut = _cut_reads_as_whole(tmp_path / "file.xml", CASES[case])
    if case in ("plain", "gzip", "delete citations"):
        assert len(cut) > 5 and not any(isinstance(x, UnreadableFile) for x in cut)
    if case == "delete citations":
        stats = ParseStats()
        list(parse_files([str(tmp_path / "file.xml")], jobs=2, roles=False, stats=stats))
        assert stats.deleted == ["123", "456"]
    if "mid-file" in case and case != "comment mid-file":
        assert isinstance(cut[-1], UnreadableFile) and len(cut) > 1


@pytest.mark.parametrize("case", ["plain", "broken xml mid-file"])
def test_blocks_get_the_same_roles_and_output_text(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filepool, "_BLOCK_BYTES", SMALL)
    path = tmp_path / "file.xml"
    path.write_bytes(CASES[case])
    whole, _ = _read(path, jobs=1, roles=True)
    cut, _ = _read(path, jobs=3, roles=True)
    assert _plain(cut) == _plain(whole)
    assert any(isinstance(x, Article) and x.sentences for x in cut)
    texts = []
    for jobs in (1, 2):
        items = list(render_files([str(path)], "jsonl", jobs=jobs, chunk_size=3))
        texts.append((b"".join(x.data for x in items if not isinstance(x, UnreadableFile)),
                      [x.reason for x in items if isinstance(x, UnreadableFile)]))
    assert texts[0] == texts[1]


_SNIPPETS = (b"</PubmedArticle>", b"<PubmedArticle>", b"<!--", b"-->", b"<?x ", b"?>",
             b"<![CDATA[", b"]]>", b"</PubmedArticleSet>", b"<DeleteCitation>", b"\xff", b"<",
             b"\n  ")


def _mutated(rng: random.Random, data: bytes) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 4)):
        pos = rng.randrange(len(out) + 1)
        op = rng.random()
        if op < 0.45:
            out[pos:pos] = rng.choice(_SNIPPETS)
        elif op < 0.75:
            del out[pos : pos + rng.randint(1, 40)]
        elif op < 0.85:
            del out[pos:]
        else:
            out[pos:pos] = out[max(0, pos - rng.randint(1, 3000)) : pos]
    return bytes(out)


@pytest.mark.parametrize("seed", range(12))
def test_damaged_files_read_the_same_cut_or_whole(
    seed: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Tags that look like record boundaries in the wrong places, comments and processing
    # instructions left open, cuts, stray bytes: whatever the damage, the blocks give what a
    # plain read gives (records, the error and its position, the counts).
    monkeypatch.setattr(filepool, "_BLOCK_BYTES", 4096)
    rng = random.Random(seed)
    for _ in range(3):
        _cut_reads_as_whole(tmp_path / "damaged.xml", _mutated(rng, rng.choice([NEW, OLD])))


def _dies(document: bytes, path: str, roles: bool, fmt: str | None) -> object:
    if "first" in path:
        os._exit(1)  # a worker killed mid-file (out of memory, say)
    return _real_parse_block(document, path, roles, fmt)


_real_parse_block = filepool._parse_block


def test_a_pool_worker_that_dies_costs_its_file_only(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filepool, "_parse_block", _dies)  # forked workers inherit it
    first, second = tmp_path / "first.xml", tmp_path / "second.xml"
    first.write_bytes(NEW)
    second.write_bytes(OLD)
    items = list(parse_files([str(first), str(second)], jobs=3, roles=False))
    assert isinstance(items[0], UnreadableFile) and "died" in items[0].reason
    assert [a.pmid for a in items[1:] if isinstance(a, Article)] == [
        a.pmid for a in parse_bytes(OLD)
    ]


def test_markup_that_never_closes_does_not_slow_the_cutting_down() -> None:
    # A comment mentioning "<?" early on: every later end tag would look like it sits inside a
    # processing instruction. Found in review: that made the cutting quadratic (minutes).
    rec = b"<PubmedArticle><MedlineCitation><PMID Version=\"1\">%d</PMID><Article><ArticleTitle>" \
          b"T</ArticleTitle></Article></MedlineCitation></PubmedArticle>\n"
    records = [rec % (i + 1) for i in range(200_000)]
    records[0] = records[0].replace(b"<Article>", b"<Article><!-- see <? below -->")
    data = b"<?xml version=\"1.0\"?>\n<PubmedArticleSet>\n" + b"".join(records) + \
        b"</PubmedArticleSet>\n"
    with pytest.raises(Unsplittable):
        list(blocks(io.BytesIO(data), 1 << 20))


def _records(n: int, prolog: bytes, pad: bytes = b"") -> bytes:
    rec = b"<PubmedArticle><MedlineCitation><PMID Version=\"1\">%d</PMID><Article><ArticleTitle>" \
          b"Title %d %s</ArticleTitle></Article></MedlineCitation></PubmedArticle>\n"
    return prolog + b"".join(rec % (i + 1, i + 1, pad) for i in range(n)) + \
        b"</PubmedArticleSet>\n"


# Found in review: prologs that leave markup open, or name an encoding libxml2 decodes in
# chunks (a bad byte then costs the records before it in that chunk), read differently cut.
ODD_PROLOGS = {
    "open processing instruction": _records(
        3, b"<?xml version=\"1.0\"?>\n<PubmedArticleSet><?note <PubmedArticleSet>"
    ).replace(b"</PubmedArticle>\n", b"</PubmedArticle>\n?>\n", 1),
    "markup in a DOCTYPE literal": _records(
        40, b"<!DOCTYPE PubmedArticleSet SYSTEM '<PubmedArticleSet><PubmedArticle>'>\n"
            b"<PubmedArticleSet>\n"),
    "US-ASCII with a bad byte": _records(
        400, b"<?xml version=\"1.0\" encoding=\"US-ASCII\"?>\n<PubmedArticleSet>\n", b"x" * 40
    ).replace(b"Title 300 ", b"Title 300 \xe9"),
    "entity declared in a comment": _records(
        60, b"<?xml version=\"1.0\"?>\n<!DOCTYPE PubmedArticleSet>\n<PubmedArticleSet>\n"
    ).replace(b"</PubmedArticle>\n", b"</PubmedArticle><!-- <!ENTITY x -->\n", 1),
}


@pytest.mark.parametrize("case", list(ODD_PROLOGS))
def test_odd_prologs_read_the_same_cut_or_whole(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filepool, "_BLOCK_BYTES", 512)
    _cut_reads_as_whole(tmp_path / "odd.xml", ODD_PROLOGS[case])


def test_a_pipe_is_read_whole_by_one_worker(tmp_path: Path) -> None:
    # A failed cut re-reads the file, which a pipe cannot do: pipes are not cut at all.
    import threading

    data = NEW.replace(b"<PubmedArticleSet>", b"<!-- a note --><PubmedArticleSet>", 1)
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    writer = threading.Thread(target=fifo.write_bytes, args=(data,))
    writer.start()
    items = list(parse_files([str(fifo)], jobs=2, roles=False))
    writer.join()
    assert [a.pmid for a in items if isinstance(a, Article)] == [a.pmid for a in parse_bytes(NEW)]


def test_a_record_never_closed_stops_the_file_without_holding_the_rest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Its missing end tag made every later record "content" of it, held in memory up to the
    # end of the file (4 GB for 170 MB). Past 1,000 records inside it, the file is stopped,
    # cut or whole alike, after the records before it.
    head, rest = OLD.split(b"<PubmedArticleSet>", 1)
    body = rest.rsplit(b"</PubmedArticleSet>", 1)[0]
    data = head + b"<PubmedArticleSet>" + body * 150 + b"</PubmedArticleSet>\n"
    at = _nth(data, b"</PubmedArticle>", 3)
    data = data[:at] + data[at + len(b"</PubmedArticle>") :]
    monkeypatch.setattr(filepool, "_BLOCK_BYTES", 256 << 10)
    cut = _cut_reads_as_whole(tmp_path / "unclosed.xml", data)
    articles = [x for x in cut if isinstance(x, Article)]
    assert len(articles) == 2 and isinstance(cut[-1], UnreadableFile)
    pmid = re.search(rb"<PMID[^>]*>(\d+)</PMID>", data[_nth(data, b"<PubmedArticle>", 3) :])
    assert pmid is not None
    assert cut[-1].reason == (
        f"a <PubmedArticle> (PMID {pmid.group(1).decode()}) holds over 1000 records: is its "
        f"end tag missing? (after PMID {articles[-1].pmid})"
    )


@settings(max_examples=2000, deadline=None)
@given(
    st.binary(max_size=40).map(lambda b: bytes(b"<?!-[CDAT]>x"[c % 12] for c in b)),
    st.integers(min_value=0, max_value=40),
)
def test_the_markup_search_finds_what_rfind_finds(data: bytes, cut: int) -> None:
    # The cut looks back for the last comment, CDATA or PI opener with a one-byte search;
    # it must find exactly what searching for the whole opener finds.
    from cytoreview.blocks import _MARKUP, _last

    cut = min(cut, len(data))
    for opener, _ in _MARKUP:
        assert _last(data, opener, cut) == data.rfind(opener, 0, cut)
