"""Writers for every ``--format`` except ``table`` (the CLI renders that with Rich).

json, jsonl, csv, ris and bibtex stream: each record is written as it arrives, because ``parse``
may pipe a 30,000-record baseline file through here. The Markdown digest (``md``) needs every
article for its overview table and charts, so it collects.

Choices a user notices:

* JSON is UTF-8 with non-ASCII characters kept as they are; the records are ``Article.to_dict``.
* CSV follows RFC 4180 (CRLF, quotes doubled) and starts with a UTF-8 byte order mark: without
  it Excel reads UTF-8 as the local code page and "IFN-α" arrives as "IFN-Î±". Python's csv
  module, pandas (``encoding="utf-8-sig"``), LibreOffice and Google Sheets all accept it. Open
  the output stream with ``newline=""`` so the CRLFs are not translated again.
* RIS and BibTeX (:mod:`cytoreview.citations`) carry what Zotero, EndNote and JabRef import.
"""

from __future__ import annotations

import csv
import io
import json
import os
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TextIO

from cytoreview import citations, digest
from cytoreview.citations import LIST_SEPARATOR
from cytoreview.model import ROLES, Article, Author, MeshHeading, Sentence

FORMATS = ("table", "json", "jsonl", "md", "csv", "ris", "bibtex")

CSV_COLUMNS = (
    "pmid", "doi", "pmcid", "title", "authors", "journal", "journal_iso", "year", "pub_date",
    "volume", "issue", "pages", "publication_types", "mesh_terms", "keywords", "languages",
    "retracted", "purpose", "findings", "conclusions", "key_findings", "role_source",
    "abstract", "url", "doi_url",
)  # fmt: skip

#: Joins list-valued CSV cells; MeSH descriptors contain commas ("Carcinoma, Renal Cell").


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


def write(articles: Iterable[Article], fmt: str, out: TextIO, provenance: Provenance) -> int:
    """Write ``articles`` to ``out`` in ``fmt``; returns how many were written."""
    if fmt == "table":
        raise ValueError("the table format is rendered by the CLI, not written by export")
    writer = _WRITERS.get(fmt)
    if writer is None:
        raise ValueError(f"unknown format {fmt!r}; expected one of {', '.join(FORMATS)}")
    return writer(articles, out, provenance)


#: Formats whose records are written independently of each other: a record's text depends
#: on nothing but the record, so worker processes can render chunks of records
#: (:func:`render_records`) and :func:`write_rendered` only frames and concatenates them.
RENDERED_FORMATS = ("json", "jsonl", "csv")

# json.dumps(obj, ensure_ascii=False) builds this encoder on every call; the output is the same.
_JSON_LINE = json.JSONEncoder(ensure_ascii=False)
_JSON_PRETTY = json.JSONEncoder(ensure_ascii=False, indent=2)


_q = json.encoder.encode_basestring  # what the encoder above uses for str (C when available)


def _opt(value: str | None) -> str:
    return "null" if value is None else _q(value)


def _strs(values: Iterable[str]) -> str:
    return "[" + ", ".join(map(_q, values)) + "]"


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _num(value: float | None) -> str:
    """A number as json.dumps writes it (float.__repr__ / int.__repr__, never a subclass's)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return _bool(value)
    if isinstance(value, float):
        return _JSON_LINE.encode(value) if value != value or value in (_INF, -_INF) \
            else float.__repr__(value)
    return int.__repr__(value)


_INF = float("inf")


#: Roles and sources come from a handful of strings: quoted once, not per sentence.
_QUOTED = {value: _q(value) for value in (*ROLES, "nlm", "model")}
_float_repr = float.__repr__


def _sentence_json(s: Sentence) -> str:
    # Every sentence of every record passes here (about nine per abstract): offsets are ints
    # and a confidence is a float in [0, 1], so _num's general checks are skipped for them.
    label = s.label
    conf = round(s.confidence, 4)
    conf_text = _float_repr(conf) if type(conf) is float and 0.0 <= conf <= 1.0 else _num(conf)
    return (f'{{"start": {int.__repr__(s.start)}, "end": {int.__repr__(s.end)}, '
            f'"role": {_QUOTED.get(s.role) or _q(s.role)}, "confidence": {conf_text}, '
            f'"source": {_QUOTED.get(s.source) or _q(s.source)}, '
            f'"label": {"null" if label is None else _q(label)}}}')


def _author_json(author: Author, name: str) -> str:
    a = author
    return (f'{{"name": {_q(name)}, "last_name": {_opt(a.last_name)}, '
            f'"fore_name": {_opt(a.fore_name)}, "initials": {_opt(a.initials)}, '
            f'"suffix": {_opt(a.suffix)}, "collective_name": {_opt(a.collective_name)}, '
            f'"affiliations": {_strs(a.affiliations)}, "orcid": {_opt(a.orcid)}}}')


def _heading_json(h: MeshHeading) -> str:
    qualifiers = ", ".join(
        [f'{{"name": {_q(q.name)}, "ui": {_opt(q.ui)}, "major_topic": {_bool(q.major_topic)}}}'
         for q in h.qualifiers]
    )
    return (f'{{"descriptor": {_q(h.descriptor)}, "ui": {_opt(h.ui)}, '
            f'"major_topic": {_bool(h.major_topic)}, "qualifiers": [{qualifiers}]}}')


def json_line(a: Article) -> str:
    """``json.dumps(a.to_dict(), ensure_ascii=False)``, the same text, about twice as fast:
    written out field by field instead of building the dicts first. The JSONL writer runs it
    on every record of a baseline file; tests hold it to the to_dict form."""
    authors = a.authors
    names = [x.name for x in authors]
    s = a.summary
    return "".join([
        '{"pmid": ', _q(a.pmid), ', "doi": ', _opt(a.doi), ', "title": ', _q(a.title),
        ', "journal": ', _opt(a.journal), ', "year": ', _num(a.year),
        ', "authors": ', _strs(names),
        ', "mesh_terms": ', _strs([h.descriptor for h in a.mesh_headings]),
        ', "publication_types": ', _strs(a.publication_types),
        ', "abstract": ', _q(a.abstract),
        ', "sentences": [', ", ".join(map(_sentence_json, a.sentences)), "]",
        ', "summary": {"purpose": ', _q(s.purpose), ', "findings": ', _q(s.findings),
        ', "conclusions": ', _q(s.conclusions), ', "background": ', _q(s.background),
        ', "methods": ', _q(s.methods), ', "key_purpose": ', _q(s.key_purpose),
        ', "key_findings": ', _q(s.key_findings), ', "key_conclusions": ',
        _q(s.key_conclusions), ', "source": ', _q(s.source), "}",
        ', "pmcid": ', _opt(a.pmcid), ', "journal_iso": ', _opt(a.journal_iso),
        ', "volume": ', _opt(a.volume), ', "issue": ', _opt(a.issue),
        ', "pages": ', _opt(a.pages), ', "pub_date": ', _opt(a.pub_date),
        ', "record_type": ', _q(a.record_type), ', "book_title": ', _opt(a.book_title),
        ', "publisher": ', _opt(a.publisher), ', "retracted": ', _bool(a.retracted),
        ', "vernacular_title": ', _opt(a.vernacular_title),
        ', "languages": ', _strs(a.languages), ', "keywords": ', _strs(a.keywords),
        ', "author_details": [', ", ".join(map(_author_json, authors, names)), "]",
        ', "mesh_headings": [', ", ".join(map(_heading_json, a.mesh_headings)), "]",
        ', "chemicals": [', ", ".join([
            f'{{"name": {_q(c.name)}, "ui": {_opt(c.ui)}, '
            f'"registry_number": {_opt(c.registry_number)}}}' for c in a.chemicals]), "]",
        ', "sections": [', ", ".join([
            f'{{"label": {_opt(x.label)}, "category": {_opt(x.category)}, '
            f'"text": {_q(x.text)}, "start": {_num(x.start)}, "end": {_num(x.end)}}}'
            for x in a.sections]), "]",
        ', "other_abstracts": [', ", ".join([
            f'{{"type": {_opt(o.type)}, "language": {_opt(o.language)}, "text": {_q(o.text)}}}'
            for o in a.other_abstracts]), "]",
        ', "comments_corrections": [', ", ".join([
            f'{{"ref_type": {_q(c.ref_type)}, "ref_source": {_opt(c.ref_source)}, '
            f'"pmid": {_opt(c.pmid)}}}' for c in a.comments_corrections]), "]",
        ', "url": ', _q(a.pubmed_url), "}",
    ])


def render_records(articles: Iterable[Article], fmt: str) -> str:
    """The text ``fmt``'s writer puts out for these records, without the framing (JSON's
    brackets and the commas between chunks, the CSV header): see :func:`write_rendered`."""
    if fmt == "jsonl":
        return "".join([json_line(a) + "\n" for a in articles])
    if fmt == "json":
        # json escapes newlines inside strings, so replacing them only re-indents.
        pretty = _JSON_PRETTY.encode
        return ",".join(["\n  " + pretty(a.to_dict()).replace("\n", "\n  ") for a in articles])
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
        writer.writerows([[row[c] for c in CSV_COLUMNS] for row in map(csv_row, articles)])
        return buffer.getvalue()
    raise ValueError(f"{fmt!r} is not one of {', '.join(RENDERED_FORMATS)}")


def write_rendered(chunks: Iterable[tuple[str | bytes, int]], fmt: str, out: TextIO) -> int:
    """Write chunks made by :func:`render_records` (text or its UTF-8 bytes, and how many
    records each holds) as ``fmt``'s writer would write those records; returns the count.
    A chunk that holds text but no records continues the one before it."""
    if fmt not in RENDERED_FORMATS:
        raise ValueError(f"{fmt!r} is not one of {', '.join(RENDERED_FORMATS)}")
    put = _writer(out)
    count = 0
    if fmt == "csv":
        # The BOM is for spreadsheets opening a file; a pipe into another program is better
        # off without one (csv.DictReader would see it in the first column's name).
        put(("\ufeff" if out is not sys.stdout else "") + ",".join(CSV_COLUMNS) + "\r\n")
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
    """Writes text or UTF-8 bytes to ``out``; bytes go straight to its binary buffer when the
    text layer would only encode them back to the same bytes."""
    buffer = getattr(out, "buffer", None)
    encoding = (getattr(out, "encoding", None) or "").lower().replace("-", "").replace("_", "")
    direct = buffer is not None and encoding == "utf8" and os.linesep == "\n"

    def put(data: str | bytes) -> object:
        if isinstance(data, str):
            return out.write(data)
        if direct:
            out.flush()
            return buffer.write(data)  # type: ignore[union-attr]
        return out.write(data.decode("utf-8"))

    return put


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
