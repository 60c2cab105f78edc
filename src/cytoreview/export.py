"""Writers for every ``--format`` except ``table`` (the CLI renders that with Rich).

json, jsonl, csv, ris and bibtex stream: each record is written as it arrives, because ``parse``
may pipe a 30,000-record baseline file through here. The Markdown digest (``md``) needs every
article for its overview table and charts, so it collects.

Choices a user notices:

* JSON is UTF-8 with non-ASCII characters kept as they are; the records are ``Article.to_json``.
* CSV follows RFC 4180 (CRLF, quotes doubled) and starts with a UTF-8 byte order mark: without
  it Excel reads UTF-8 as the local code page and "IFN-α" arrives as "IFN-Î±". Python's csv
  module, pandas (``encoding="utf-8-sig"``), LibreOffice and Google Sheets all accept it. Open
  the output stream with ``newline=""`` so the CRLFs are not translated again. A text cell
  that a spreadsheet would take for a formula (``=``, ``+``, ``-`` or ``@`` first, as in the
  keyword "-1082 A/G" or a crafted title ``=HYPERLINK(...)``) starts with an apostrophe, which
  spreadsheets read as "text follows" (OWASP's advice against formula injection); numbers such
  as "-5" are left alone. A cell that itself starts with an apostrophe gets one more, so a
  program reading the CSV gets every text back by removing one leading apostrophe.
* RIS and BibTeX (:mod:`cytoreview.citations`) carry what Zotero, EndNote and JabRef import.
"""

from __future__ import annotations

import csv
import io
import os
import re
import stat
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import BinaryIO, TextIO

import orjson

from cytoreview import citations, digest
from cytoreview.citations import LIST_SEPARATOR
from cytoreview.model import Article

FORMATS = ("table", "json", "jsonl", "md", "csv", "ris", "bibtex")
# The full-width forms are formulas too in East Asian spreadsheet locales. A leading apostrophe
# is escaped like the rest, so removing one leading apostrophe always gives the text back.
_FORMULA_START = frozenset("=+-@\t\r'\uff1d\uff0b\uff0d\uff20")
_NUMBER = re.compile(r"[-+]?[0-9]+(?:[.,][0-9]+)?")

CSV_COLUMNS = (
    "pmid", "doi", "pmcid", "title", "authors", "journal", "journal_iso", "year", "pub_date",
    "volume", "issue", "pages", "publication_types", "mesh_terms", "keywords", "languages",
    "retracted", "purpose", "findings", "conclusions", "key_findings", "role_source",
    "abstract", "url", "doi_url",
)  # fmt: skip


def _tool_version() -> str:
    from cytoreview import __version__

    return __version__


@dataclass(frozen=True, slots=True)
class Provenance:
    """What an export was made from: shown in the digest and the BibTeX header."""

    command: str
    inputs: tuple[str, ...]
    created: datetime = field(default_factory=lambda: datetime.now(timezone.utc))
    tool_version: str = field(default_factory=_tool_version)


def write(articles: Iterable[Article], fmt: str, out: TextIO,
          provenance: Provenance | None = None) -> int:
    """Write ``articles`` to ``out`` in ``fmt`` (one of ``json``, ``jsonl``, ``md``, ``csv``,
    ``ris``, ``bibtex``); returns how many were written. ``provenance`` heads the digest and
    the BibTeX file (default: made now, by the library, from no named inputs)."""
    if fmt == "table":
        raise ValueError("the table format is rendered by cytoreview.render.show, not written "
                         "by export")
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(_WRITERS)}")
    return writer(articles, out, provenance or Provenance(command="library", inputs=()))


# orjson: with indent, the same text as json.dumps(ensure_ascii=False, indent=2) on all 46,599
# shared records, 25 times faster; JSON lines come out compact (no space after ":" and ",").
# On those records JSON lines cost 1.2 CPU-s, against 2.2 for the hand-written encoder this
# replaces and 5+ for json.dumps: that encoder's 100 lines are gone too.
# Unlike json.dumps, orjson writes NaN as null (valid JSON) and refuses ints beyond 64 bits
# (the parser makes none: years have four digits at most). Records come from Article.to_json,
# which hands orjson the nested dataclasses as they are.
_LINE = orjson.OPT_APPEND_NEWLINE
_PRETTY = orjson.OPT_INDENT_2


#: Formats whose records are written independently of each other: a record's text depends
#: on nothing but the record, so worker processes can render chunks of records
#: (:func:`render_records`) and :func:`write_rendered` only frames and concatenates them.
RENDERED_FORMATS = ("json", "jsonl", "csv")


def render_records(articles: Iterable[Article], fmt: str) -> bytes:
    """The UTF-8 text ``fmt``'s writer puts out for these records, without the framing (JSON's
    brackets and the commas between chunks, the CSV header): see :func:`write_rendered`."""
    if fmt == "jsonl":
        return b"".join([a.to_json(_LINE) for a in articles])
    if fmt == "json":
        # Indented inside the array: the records' own lines move two spaces right.
        return b",".join([b"\n  " + a.to_json(_PRETTY).replace(b"\n", b"\n  ")
                          for a in articles])
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerows([_csv_cells(row) for row in map(csv_row, articles)])
        return buffer.getvalue().encode("utf-8")
    raise ValueError(f"{fmt!r} is not one of {', '.join(RENDERED_FORMATS)}")


def _is_file(out: TextIO) -> bool:
    """The BOM is for spreadsheets opening a file (``-o``, or ``> x.csv``); a pipe into
    another program is better off without one (csv.DictReader would see it in the first
    column's name)."""
    if out is not sys.stdout:
        return True
    try:
        return stat.S_ISREG(os.fstat(out.fileno()).st_mode)
    except (OSError, ValueError, io.UnsupportedOperation):  # no descriptor (a test runner's)
        return False


def write_rendered(chunks: Iterable[tuple[bytes, int]], fmt: str, out: TextIO) -> int:
    """Write chunks made by :func:`render_records` (UTF-8 text, and how many records each
    holds) as ``fmt``'s writer would write those records; returns the count.
    A chunk that holds text but no records continues the one before it."""
    if fmt not in RENDERED_FORMATS:
        raise ValueError(f"{fmt!r} is not one of {', '.join(RENDERED_FORMATS)}")
    put = _writer(out)
    count = 0
    if fmt == "csv":
        put(("\ufeff" if _is_file(out) else "") + ",".join(CSV_COLUMNS) + "\r\n")
    elif fmt == "json":
        put("[")
    try:
        for data, n in chunks:
            # A chunk without records but with text continues the previous one.
            if n and fmt == "json" and count:
                put(",")
            if data:
                put(data)
            count += n
    finally:
        # Closed even when the source fails or Ctrl-C stops it: what was written stays valid.
        if fmt == "json":
            put("\n]\n" if count else "]\n")
    return count


def _writer(out: TextIO) -> Callable[[str | bytes], object]:
    """Writes text or UTF-8 bytes to ``out``: everything goes to its binary buffer when the
    text layer would only encode it to the same bytes (flushed once first, so what it already
    holds comes before), else through the text layer. A terminal always gets the text layer:
    it shows each record as its line is complete, where the buffer would wait for 8 KB."""
    buffer: BinaryIO | None = getattr(out, "buffer", None)
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    if buffer is not None and encoding == "utf8" and os.linesep == "\n" and not out.isatty():
        out.flush()
        direct = buffer

        def put_bytes(data: str | bytes) -> object:
            return direct.write(data if isinstance(data, bytes) else data.encode("utf-8"))

        return put_bytes

    def put_text(data: str | bytes) -> object:
        return out.write(data if isinstance(data, str) else data.decode("utf-8"))

    return put_text


def _write_json(articles: Iterable[Article], out: TextIO, provenance: Provenance) -> int:
    return write_rendered(((render_records([a], "json"), 1) for a in articles), "json", out)


def _write_jsonl(articles: Iterable[Article], out: TextIO, provenance: Provenance) -> int:
    return write_rendered(((render_records([a], "jsonl"), 1) for a in articles), "jsonl", out)


def csv_row(article: Article) -> dict[str, str]:
    s = article.summary
    return {
        "pmid": article.pmid,
        "doi": article.doi or "",
        "pmcid": article.pmcid or "",
        "title": article.title,
        "authors": LIST_SEPARATOR.join(a.name for a in article.authors),
        "journal": article.journal or "",
        "journal_iso": article.journal_iso or "",
        "year": "" if article.year is None else str(article.year),
        "pub_date": article.pub_date or "",
        "volume": article.volume or "",
        "issue": article.issue or "",
        "pages": article.pages or "",
        "publication_types": LIST_SEPARATOR.join(article.publication_types),
        "mesh_terms": LIST_SEPARATOR.join(article.mesh_terms),
        "keywords": LIST_SEPARATOR.join(article.keywords),
        "languages": LIST_SEPARATOR.join(article.languages),
        "retracted": "true" if article.retracted else "false",
        "purpose": s.purpose,
        "findings": s.findings,
        "conclusions": s.conclusions,
        "key_findings": s.key_findings,
        "role_source": s.source,
        "abstract": article.abstract,
        "url": article.pubmed_url,
        "doi_url": digest.doi_url(article.doi) if article.doi else "",
    }


def _csv_cells(row: dict[str, str]) -> list[str]:
    cells = [row[c] for c in CSV_COLUMNS]
    return [
        "'" + v if v[:1] in _FORMULA_START and not _NUMBER.fullmatch(v) else v for v in cells
    ]


def _write_csv(articles: Iterable[Article], out: TextIO, provenance: Provenance) -> int:
    return write_rendered(((render_records([a], "csv"), 1) for a in articles), "csv", out)


_WRITERS: dict[str, Callable[[Iterable[Article], TextIO, Provenance], int]] = {
    "json": _write_json,
    "jsonl": _write_jsonl,
    "csv": _write_csv,
    "ris": citations.write_ris,
    "bibtex": citations.write_bibtex,
    "md": lambda articles, out, provenance: digest.write(articles, out, provenance),
}
