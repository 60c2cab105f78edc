"""A SQLite cache of fetched records: one row per PMID with its raw XML and fetch time.

Also remembers what DOIs and PMCIDs resolved to, so a second run over the same list asks NCBI
nothing at all. WAL mode and a busy timeout let two processes share one cache safely.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from .errors import InvalidInput

SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    pmid TEXT PRIMARY KEY,
    xml BLOB NOT NULL,
    fetched REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    alias TEXT PRIMARY KEY,   -- 'doi:10.1/x' or 'pmcid:PMC1'
    pmid TEXT NOT NULL,
    resolved REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS searches (
    query TEXT PRIMARY KEY,   -- as typed, so --offline replays the same search
    count INTEGER NOT NULL,   -- how many results PubMed reported
    pmids TEXT NOT NULL,      -- the PMIDs esearch returned, space-separated, in its order
    searched REAL NOT NULL
);
"""
# SQLite's default limit on host parameters is 999 on old builds; stay under it.
_CHUNK = 900
_BUSY_TIMEOUT = 60.0  # seconds a process waits for another one's write before giving up


def _use_wal(db: sqlite3.Connection) -> None:
    """Switch to WAL, waiting out other processes doing the same.

    WAL is recorded in the file, so usually this only reads it. Changing the journal mode needs an
    exclusive lock and SQLite does not call the busy handler for it: two processes opening a new
    cache at once would see "database is locked" without this loop.
    """
    deadline = time.monotonic() + _BUSY_TIMEOUT
    delay = 0.005
    while True:
        try:
            (mode,) = db.execute("PRAGMA journal_mode").fetchone()
            if str(mode).lower() == "wal":
                return
            # Returns the mode in force: not WAL on a file system without shared memory, where
            # the rollback journal (one writer, readers wait) still keeps the cache correct.
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() > deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.25)


def default_cache_dir(environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    configured = env.get("CYTOREVIEW_CACHE_DIR")
    if configured:
        return Path(configured).expanduser()
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("cytoreview", appauthor=False))


@dataclass(frozen=True)
class CacheInfo:
    path: Path
    records: int
    aliases: int
    size_bytes: int
    oldest: float | None
    newest: float | None
    searches: int = 0  # queries remembered for --offline


class Cache:
    """Thread-safe; one connection guarded by a lock (SQLite serialises writers anyway)."""

    FILENAME = "records.sqlite3"

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = directory = Path(directory)
        self.path = directory / self.FILENAME
        try:
            directory.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, timeout=_BUSY_TIMEOUT,
                                       check_same_thread=False, isolation_level=None)
            _use_wal(self._db)
            self._db.execute("PRAGMA synchronous=NORMAL")
            with self._writing():
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        self._db.execute(statement)
        except (OSError, sqlite3.Error) as exc:
            raise InvalidInput(f"cache {self.path}: cannot open ({exc})") from exc
        self._lock = threading.Lock()

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Cache:
        return cls(default_cache_dir(environ))

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> Cache:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, pmids: Sequence[str]) -> dict[str, bytes]:
        """The cached XML of those ``pmids`` that are cached."""
        found: dict[str, bytes] = {}
        with self._lock:
            for start in range(0, len(pmids), _CHUNK):
                chunk = list(pmids[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(
                    f"SELECT pmid, xml FROM records WHERE pmid IN ({marks})", chunk)
                found.update((pmid, bytes(xml)) for pmid, xml in rows)
        return found

    def cached(self, pmids: Sequence[str]) -> set[str]:
        """Which of ``pmids`` are cached (without reading their XML)."""
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(pmids), _CHUNK):
                chunk = list(pmids[start : start + _CHUNK])
                marks = ",".join("?" * len(chunk))
                rows = self._db.execute(f"SELECT pmid FROM records WHERE pmid IN ({marks})",
                                        chunk)
                found.update(pmid for (pmid,) in rows)
        return found

    @contextmanager
    def _writing(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, through the busy handler. A deferred
        # transaction that upgrades from read to write while another process writes can fail
        # at once with "database is locked", whatever the timeout.
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
            self._db.execute("COMMIT")
        except BaseException:
            # A COMMIT that failed (busy past the timeout, disk full) leaves the transaction
            # open: without this every later write would fail "within a transaction".
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")
            raise

    def put(self, records: Mapping[str, bytes]) -> None:
        now = time.time()
        with self._lock, self._writing():
            self._db.executemany(
                "INSERT OR REPLACE INTO records (pmid, xml, fetched) VALUES (?, ?, ?)",
                [(pmid, xml, now) for pmid, xml in records.items()])

    def resolve(self, aliases: Iterable[str]) -> dict[str, str]:
        """PMIDs for aliases (``doi:...``, ``pmcid:...``) resolved before."""
        keys = list(aliases)
        found: dict[str, str] = {}
        with self._lock:
            for start in range(0, len(keys), _CHUNK):
                chunk = keys[start : start + _CHUNK]
                marks = ",".join("?" * len(chunk))
                found.update(self._db.execute(
                    f"SELECT alias, pmid FROM aliases WHERE alias IN ({marks})", chunk))
        return found

    def remember(self, aliases: Mapping[str, str]) -> None:
        now = time.time()
        with self._lock, self._writing():
            self._db.executemany(
                "INSERT OR REPLACE INTO aliases (alias, pmid, resolved) VALUES (?, ?, ?)",
                [(alias, pmid, now) for alias, pmid in aliases.items()])

    def remember_search(self, query: str, count: int, pmids: Sequence[str]) -> None:
        with self._lock, self._writing():
            self._db.execute(
                "INSERT OR REPLACE INTO searches (query, count, pmids, searched) "
                "VALUES (?, ?, ?, ?)", (query, count, " ".join(pmids), time.time()))

    def recall_search(self, query: str) -> tuple[int, list[str]] | None:
        """PubMed's count and the PMIDs of the last online run of ``query``, if any."""
        with self._lock:
            row = self._db.execute("SELECT count, pmids FROM searches WHERE query = ?",
                                   (query,)).fetchone()
        return None if row is None else (int(row[0]), row[1].split())

    def info(self) -> CacheInfo:
        with self._lock:
            records, oldest, newest = self._db.execute(
                "SELECT count(*), min(fetched), max(fetched) FROM records").fetchone()
            (aliases,) = self._db.execute("SELECT count(*) FROM aliases").fetchone()
            (searches,) = self._db.execute("SELECT count(*) FROM searches").fetchone()
        size = sum(p.stat().st_size for p in self.directory.glob(self.FILENAME + "*"))
        return CacheInfo(self.path, records, aliases, size, oldest, newest, searches)

    def clear(self) -> int:
        """Delete every record, alias and remembered search; returns how many records there
        were."""
        with self._lock:
            with self._writing():
                (count,) = self._db.execute("SELECT count(*) FROM records").fetchone()
                self._db.execute("DELETE FROM records")
                self._db.execute("DELETE FROM aliases")
                self._db.execute("DELETE FROM searches")
            self._db.execute("VACUUM")
        return int(count)
