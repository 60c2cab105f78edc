"""The record store behind the local E-utilities stand-in.

Loads PubMed XML files (``.xml`` or ``.xml.gz``: efetch output, baseline and update files) with a
safe ``lxml`` iterparse and keeps every ``PubmedArticle`` / ``PubmedBookArticle`` as its raw
serialized bytes, keyed by PMID, with the indexes the stand-in's endpoints need:

* DOI (lower-cased) -> PMID, from the record's OWN identifiers only
  (``PubmedData/ArticleIdList/ArticleId[@IdType='doi']`` and
  ``Article/ELocationID[@EIdType='doi']``), never from a reference or a comment/correction;
* PMCID -> PMID and PMID -> PMCID (``ArticleId[@IdType='pmc']`` of the same list);
* the lower-cased searchable text (title, abstract, MeSH headings, keywords) of each record,
  scanned by free-text search.

A store is immutable once loaded and safe to share between server instances and threads; load it
once per test session with :func:`load_store` (cached) or :meth:`RecordStore.load`.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path
from typing import IO, cast

from lxml import etree

__all__ = ["RecordStore", "find_data_files", "load_store", "record_text", "tokens"]

_RECORD_TAGS = ("PubmedArticle", "PubmedBookArticle", "DeleteCitation")
_WORD = re.compile(r"\w+")


_MESH_NAMES = etree.XPath("MeshHeading/*/text()", smart_strings=False)


def _tokens(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _text(el: etree._Element | None) -> str:
    if el is None:
        return ""
    return "".join(cast("Iterator[str]", el.itertext())).replace("\n", " ")


def record_text(el: etree._Element) -> str:
    """The searchable text of one record, lower-cased: title, abstract sections, MeSH
    headings and keywords, one part per line (so a phrase never matches across two parts)."""
    parts: list[str] = []
    if el.tag == "PubmedBookArticle":
        doc = el.find("BookDocument")
        if doc is not None:
            parts.append(_text(doc.find("ArticleTitle")))
            parts.append(_text(doc.find("Book/BookTitle")))
            ab = doc.find("Abstract")
            if ab is not None:
                parts.extend(_text(a) for a in ab.iterfind("AbstractText"))
    else:
        mc = el.find("MedlineCitation")
        if mc is not None:
            art = mc.find("Article")
            if art is not None:
                parts.append(_text(art.find("ArticleTitle")))
                ab = art.find("Abstract")
                if ab is not None:
                    parts.extend(_text(a) for a in ab.iterfind("AbstractText"))
            mh = mc.find("MeshHeadingList")
            if mh is not None:
                # One line per descriptor / qualifier name (a phrase never spans two of them).
                parts.append("\n".join(cast("list[str]", _MESH_NAMES(mh))))
            for kw_list in mc.iterfind("KeywordList"):
                parts.extend(_text(kw) for kw in kw_list.iterfind("Keyword"))
    return "\n".join(p for p in parts if p).lower()


def _own_ids(el: etree._Element) -> tuple[str | None, list[str], str | None]:
    """(pmid, own DOIs, own PMCID) of one PubmedArticle / PubmedBookArticle element."""
    if el.tag == "PubmedBookArticle":
        pmid = el.findtext("BookDocument/PMID")
        id_lists = [el.find("PubmedBookData/ArticleIdList"), el.find("BookDocument/ArticleIdList")]
        elocs: list[etree._Element] = list(el.iterfind("BookDocument/ELocationID"))
    else:
        pmid = el.findtext("MedlineCitation/PMID")
        id_lists = [el.find("PubmedData/ArticleIdList")]
        elocs = list(el.iterfind("MedlineCitation/Article/ELocationID"))
    dois: list[str] = []
    pmcid: str | None = None
    for id_list in id_lists:
        if id_list is None:
            continue
        for aid in id_list.iterfind("ArticleId"):
            kind = (aid.get("IdType") or "").lower()
            value = (aid.text or "").strip()
            if not value:
                continue
            if kind == "doi":
                dois.append(value.lower())
            elif kind == "pmc" and pmcid is None:
                pmcid = value.upper()
    for eloc in elocs:
        if (eloc.get("EIdType") or "").lower() == "doi" and (eloc.text or "").strip():
            dois.append((eloc.text or "").strip().lower())
    return (pmid.strip() if pmid else None), list(dict.fromkeys(dois)), pmcid


def _open(path: Path) -> IO[bytes]:
    if path.suffix == ".gz":
        return gzip.GzipFile(path, "rb")  # type: ignore[return-value]
    return path.open("rb")


def _iter_records(fh: IO[bytes]) -> Iterator[etree._Element]:
    ctx = etree.iterparse(
        fh,
        events=("end",),
        tag=_RECORD_TAGS,
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        huge_tree=True,
    )
    for _event, el in ctx:
        yield el
        # Free what was read: the element and everything before it.
        el.clear()
        parent = el.getparent()
        if parent is not None:
            while el.getprevious() is not None:
                del parent[0]


# One record as read from a file: (pmid, raw bytes, searchable text, own DOIs, own PMCID);
# a DeleteCitation is (pmid, None, "", [], None).
_Entry = tuple[str, bytes | None, str, list[str], str | None]


def _read_entries(fh: IO[bytes]) -> list[_Entry]:
    out: list[_Entry] = []
    for el in _iter_records(fh):
        if el.tag == "DeleteCitation":
            out.extend((p.text.strip(), None, "", [], None) for p in el.iterfind("PMID") if p.text)
            continue
        pmid, dois, pmcid = _own_ids(el)
        if pmid:
            raw = etree.tostring(el, encoding="utf-8", with_tail=False)
            out.append((pmid, raw, record_text(el), dois, pmcid))
    return out


def _read_file(path: str) -> list[_Entry]:
    with _open(Path(path)) as fh:
        return _read_entries(fh)


CACHE_ENV = "CYTOREVIEW_STANDIN_CACHE"
_CACHE_VERSION = "2"


def _cache_file(path: Path) -> Path | None:
    """Where the parsed entries of ``path`` are cached, if the user asked for a cache (a
    directory in ``$CYTOREVIEW_STANDIN_CACHE``; pickles are only read from a directory the user
    named). Keyed by absolute path, size, mtime and this module's cache version."""
    root = os.environ.get(CACHE_ENV)
    if not root:
        return None
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{_CACHE_VERSION}"
    digest = hashlib.sha256(key.encode()).hexdigest()[:16]
    return Path(root) / f"{path.name}.{digest}.pickle"


def _read_cached(path: Path, reader: Callable[[Path], list[_Entry]]) -> list[_Entry]:
    cache = _cache_file(path) if path.stat().st_size >= _PARALLEL_MIN_BYTES else None
    if cache is not None and cache.is_file():
        with cache.open("rb") as fh:
            cached: list[_Entry] = pickle.load(fh)
            return cached
    entries = reader(path)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(entries, fh, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(tmp, cache)
    return entries


_PARALLEL_MIN_BYTES = 4_000_000
_CHILD = (
    "import pickle, sys; sys.path.insert(0, sys.argv[1]); "
    "from cytoreview.testing.records import _read_file; "
    "pickle.dump(_read_file(sys.argv[2]), sys.stdout.buffer, protocol=pickle.HIGHEST_PROTOCOL)"
)


def _read_file_in_subprocess(path: Path) -> list[_Entry]:
    """Read one file in a fresh interpreter (not multiprocessing: no re-import of the
    caller's ``__main__``, no fork of a threaded process)."""
    src = str(Path(__file__).resolve().parents[2])
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, src, str(path)],
        capture_output=True,
        check=False,
        timeout=600,
    )
    if proc.returncode != 0:
        raise RuntimeError(
            f"reading {path} failed: {proc.stderr.decode('utf-8', 'replace').strip()[-500:]}"
        )
    entries: list[_Entry] = pickle.loads(proc.stdout)
    return entries


class RecordStore:
    """Raw PubMed records by PMID, with DOI / PMCID / word indexes. Thread-safe for reading."""

    def __init__(self) -> None:
        self.records: dict[str, bytes] = {}
        self.doi_to_pmids: dict[str, list[str]] = {}  # a DOI PubMed has twice: both
        self.pmid_to_dois: dict[str, list[str]] = {}
        self.pmcid_to_pmid: dict[str, str] = {}
        self.pmid_to_pmcid: dict[str, str] = {}
        self.texts: dict[str, str] = {}
        self.deleted: set[str] = set()
        self.files: list[Path] = []
        self.load_seconds = 0.0

    # ------------------------------------------------------------------ loading
    @classmethod
    def load(cls, files: Iterable[str | Path], jobs: int | None = None) -> RecordStore:
        """Load PubMed XML files in order (a later file's version of a PMID wins; a
        ``DeleteCitation`` removes what came before it).

        Several large files are read in worker processes (``jobs``, default: one per large file
        up to the CPU count; ``jobs=1`` reads everything here). With ``$CYTOREVIEW_STANDIN_CACHE``
        set to a directory, what was read from each large file is kept there as a pickle and
        reused while the file is unchanged (the two shared files: ~1 s instead of ~6-20 s).
        """
        paths = [Path(f) for f in files]
        store = cls()
        start = time.perf_counter()
        big = {p for p in paths if p.stat().st_size >= _PARALLEL_MIN_BYTES}
        if jobs is None:
            jobs = min(len(big), os.cpu_count() or 1)

        def read(path: Path) -> list[_Entry]:
            if jobs > 1 and path in big:
                return _read_cached(path, _read_file_in_subprocess)
            return _read_cached(path, lambda p: _read_file(str(p)))

        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            results = list(pool.map(read, paths))
        for path, entries in zip(paths, results, strict=True):
            store._add_entries(entries)
            store.files.append(path)
        store.load_seconds = time.perf_counter() - start
        return store

    def add_file(self, path: str | Path) -> int:
        """Add the records of one file; returns how many were read."""
        n = self._add_entries(_read_file(str(path)))
        self.files.append(Path(path))
        return n

    def add_xml(self, data: bytes) -> int:
        """Add the records of an in-memory PubmedArticleSet (handy in tests)."""
        return self._add_entries(_read_entries(io.BytesIO(data)))

    def _add_entries(self, entries: list[_Entry]) -> int:
        n = 0
        for pmid, raw, text, dois, pmcid in entries:
            self._remove(pmid)
            if raw is None:
                self.deleted.add(pmid)
                continue
            n += 1
            self.deleted.discard(pmid)
            self.records[pmid] = raw
            self.texts[pmid] = text
            self.pmid_to_dois[pmid] = dois
            for doi in dois:
                self.doi_to_pmids.setdefault(doi, []).append(pmid)
            if pmcid:
                self.pmcid_to_pmid[pmcid] = pmid
                self.pmid_to_pmcid[pmid] = pmcid
        return n

    def _remove(self, pmid: str) -> None:
        if self.records.pop(pmid, None) is None:
            return
        self.texts.pop(pmid, None)
        for doi in self.pmid_to_dois.pop(pmid, []):
            others = [p for p in self.doi_to_pmids.get(doi, []) if p != pmid]
            if others:
                self.doi_to_pmids[doi] = others
            else:
                self.doi_to_pmids.pop(doi, None)
        pmcid = self.pmid_to_pmcid.pop(pmid, None)
        if pmcid and self.pmcid_to_pmid.get(pmcid) == pmid:
            del self.pmcid_to_pmid[pmcid]

    # ------------------------------------------------------------------ lookups
    def __len__(self) -> int:
        return len(self.records)

    def __contains__(self, pmid: object) -> bool:
        return pmid in self.records

    def get(self, pmid: str) -> bytes | None:
        return self.records.get(pmid)

    def pmids_for_doi(self, doi: str) -> list[str]:
        return list(self.doi_to_pmids.get(doi.strip().lower(), ()))

    def pmid_for_doi(self, doi: str) -> str | None:
        pmids = self.pmids_for_doi(doi)
        return pmids[0] if pmids else None

    def pmid_for_pmcid(self, pmcid: str) -> str | None:
        pmcid = pmcid.strip().upper()
        if pmcid.isdigit():
            pmcid = "PMC" + pmcid
        return self.pmcid_to_pmid.get(pmcid)

    def doi_for_pmid(self, pmid: str) -> str | None:
        dois = self.pmid_to_dois.get(pmid)
        return dois[0] if dois else None

    # ------------------------------------------------------------------ free text
    def phrase_pmids(self, words: Sequence[str]) -> set[str]:
        """PMIDs whose title, abstract or MeSH words contain ``words`` (lower-cased tokens) as
        adjacent words within one part; one word means simply "contains the word".

        No inverted index: a C-speed substring scan of every record's text narrows the
        candidates, a regex on word boundaries confirms them (~50 ms per word over both shared
        files, and nothing to build at load time).
        """
        words = [w for w in words if w]
        if not words:
            return set()
        candidates: list[tuple[str, str]] = list(self.texts.items())
        for w in sorted(set(words), key=len, reverse=True):
            candidates = [(p, t) for p, t in candidates if w in t]
            if not candidates:
                return set()
        pattern = re.compile(r"(?<!\w)" + r"[^\w\n]+".join(re.escape(w) for w in words) + r"(?!\w)")
        return {p for p, t in candidates if pattern.search(t)}


@lru_cache(maxsize=8)
def _load_cached(key: tuple[tuple[str, float, int], ...]) -> RecordStore:
    return RecordStore.load(Path(p) for p, _mtime, _size in key)


def load_store(files: Iterable[str | Path]) -> RecordStore:
    """Load (once per process) and return the store of these files, cached by path, mtime and
    size, so every test module and server instance in a session shares one store."""
    key = []
    for f in files:
        p = Path(f).resolve()
        st = p.stat()
        key.append((str(p), st.st_mtime, st.st_size))
    return _load_cached(tuple(key))


def tokens(text: str) -> list[str]:
    """Lower-cased word tokens, as the free-text index sees them."""
    return _tokens(text)


def find_data_files(repo_root: str | Path | None = None) -> dict[str, list[Path]]:
    """The stand-in's usual data: ``{"seeds": [...], "shared": [...]}``.

    ``seeds`` is ``data/seeds/seeds.xml`` of the repository, ``shared`` the real PubMed files in
    ``../shared/data`` beside it (each list empty when absent). ``repo_root`` defaults to the
    source checkout this module lives in.
    """
    root = Path(repo_root) if repo_root else Path(__file__).resolve().parents[3]
    seeds = [p for p in [root / "data" / "seeds" / "seeds.xml"] if p.is_file()]
    shared_dir = root.parent / "shared" / "data"
    shared = sorted(shared_dir.glob("*.xml.gz")) if shared_dir.is_dir() else []
    return {"seeds": seeds, "shared": shared}
