"""The record cache: what was fetched stays fetched, across runs and across processes."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from cytoreview import cache as cache_module
from cytoreview.cache import Cache, default_cache_dir


def test_records_aliases_and_searches_survive_reopening(tmp_path: Path) -> None:
    with Cache(tmp_path) as cache:
        cache.put({"15461571": b"<PubmedArticle>a</PubmedArticle>",
                   "2215513": b"<PubmedArticle>b</PubmedArticle>"})
        cache.remember({"doi:10.1097/01.cco.0000142070.45097.68": "15627015"})
        cache.remember_search("interleukin-2", 120, ["2215513", "15461571"])
    with Cache(tmp_path) as cache:
        assert cache.recall_search("interleukin-2") == (120, ["2215513", "15461571"])
        assert cache.recall_search("interleukin-3") is None
        assert cache.get(["2215513", "999", "15461571"]) == {
            "2215513": b"<PubmedArticle>b</PubmedArticle>",
            "15461571": b"<PubmedArticle>a</PubmedArticle>"}
        assert cache.resolve(["doi:10.1097/01.cco.0000142070.45097.68", "doi:10.1/x"]) == {
            "doi:10.1097/01.cco.0000142070.45097.68": "15627015"}
        info = cache.info()
        assert (info.records, info.aliases, info.searches) == (2, 1, 1)
        assert info.size_bytes > 0
        assert cache.clear() == 2
        assert cache.get(["2215513"]) == {}
        assert cache.recall_search("interleukin-2") is None


def test_large_lookups_are_chunked(tmp_path: Path) -> None:
    pmids = [str(i) for i in range(1, 3001)]
    with Cache(tmp_path) as cache:
        cache.put({p: p.encode() for p in pmids})
        assert len(cache.get(pmids)) == 3000
        assert cache.cached([*pmids, "9999999"]) == set(pmids)


def test_cache_dir_comes_from_the_environment(tmp_path: Path) -> None:
    assert default_cache_dir({"CYTOREVIEW_CACHE_DIR": str(tmp_path)}) == tmp_path
    assert default_cache_dir({}).name == "cytoreview"


def _writer(directory: str, offset: int) -> None:
    with Cache(Path(directory)) as cache:
        for start in range(0, 500, 50):
            cache.put({str(offset + i): b"x" * 100 for i in range(start, start + 50)})
            cache.get([str(offset + i) for i in range(start)])


def test_two_processes_share_one_cache(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_writer, args=(str(tmp_path), n * 1000)) for n in (1, 2)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(60)
    assert [p.exitcode for p in procs] == [0, 0]
    with Cache(tmp_path) as cache:
        assert cache.info().records == 1000


def _opener(directories: list[str], barrier: Any, failures: Any) -> None:
    for directory in directories:
        barrier.wait(30)
        try:
            with Cache(Path(directory)) as cache:
                cache.put({directory: b"<PubmedArticle/>"})
        except Exception as exc:  # reported, so one failure does not hide the next
            failures.put(f"{directory}: {exc}")


def test_processes_opening_a_new_cache_at_the_same_moment_all_succeed(tmp_path: Path) -> None:
    # A new cache is switched to WAL by whichever process gets there first; SQLite does not wait
    # for that lock, so without a retry about one round in four failed with "database is locked".
    ctx = multiprocessing.get_context("spawn")
    directories = [str(tmp_path / f"cache{n}") for n in range(40)]
    barrier, failures = ctx.Barrier(4), ctx.Queue()
    procs = [ctx.Process(target=_opener, args=(directories, barrier, failures))
             for _ in range(4)]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join(120)
    errors = []
    while not failures.empty():
        errors.append(failures.get())
    assert errors == []
    assert [p.exitcode for p in procs] == [0, 0, 0, 0]
    for directory in directories:
        with Cache(Path(directory)) as cache:
            assert cache.info().records == 1


def test_a_write_that_cannot_commit_leaves_the_cache_usable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With a rollback journal (what a file system without WAL support gives), COMMIT waits for
    # readers to finish; one that outlasts the busy timeout makes the write fail. The next
    # write must work: a transaction left open would refuse every later one.
    monkeypatch.setattr(cache_module, "_use_wal", lambda db: None)
    monkeypatch.setattr(cache_module, "_BUSY_TIMEOUT", 0.2)
    with Cache(tmp_path) as cache:
        reader = sqlite3.connect(cache.path, isolation_level=None)
        reader.execute("BEGIN")
        reader.execute("SELECT count(*) FROM records").fetchone()  # holds a shared lock
        with pytest.raises(sqlite3.OperationalError, match="locked"):
            cache.put({"1": b"<PubmedArticle/>"})
        reader.execute("COMMIT")
        reader.close()
        cache.put({"2": b"<PubmedArticle/>"})
        cache.remember({"doi:10.1/x": "2"})
        assert cache.get(["1", "2"]) == {"2": b"<PubmedArticle/>"}
        assert cache.resolve(["doi:10.1/x"]) == {"doi:10.1/x": "2"}
