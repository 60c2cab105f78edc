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
* RIS and BibTeX carry what Zotero, EndNote and JabRef import; page ranges are expanded
  (PubMed's ``1595-607`` becomes ``1595``–``1607``) because that is how they store pages.
  BibTeX is escaped for LaTeX (see :func:`latex`) and keyed ``wysocki2004human``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TextIO

from cytoreview import digest
from cytoreview.model import Article, Author, MeshHeading, Sentence

FORMATS = ("table", "json", "jsonl", "md", "csv", "ris", "bibtex")

CSV_COLUMNS = (
    "pmid", "doi", "pmcid", "title", "authors", "journal", "journal_iso", "year", "pub_date",
    "volume", "issue", "pages", "publication_types", "mesh_terms", "keywords", "languages",
    "retracted", "purpose", "findings", "conclusions", "key_findings", "role_source",
    "abstract", "url", "doi_url",
)  # fmt: skip

#: Joins list-valued CSV cells; MeSH descriptors contain commas ("Carcinoma, Renal Cell").
LIST_SEPARATOR = "; "


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


def _sentence_json(s: Sentence) -> str:
    return (f'{{"start": {_num(s.start)}, "end": {_num(s.end)}, "role": {_q(s.role)}, '
            f'"confidence": {_num(round(s.confidence, 4))}, "source": {_q(s.source)}, '
            f'"label": {_opt(s.label)}}}')


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


_PAGES = re.compile(r"^([A-Za-z]*)(\d+)\s*[-–]\s*([A-Za-z]*)(\d+)$")


def page_range(pages: str | None) -> tuple[str, str]:
    """``1595-607`` -> (``1595``, ``1607``): MEDLINE abbreviates end pages; citation managers
    want them whole. Anything that is not a plain range is kept whole as the start page."""
    if not pages:
        return "", ""
    text = pages.strip()
    m = _PAGES.match(text)
    if not m:
        return text, ""
    prefix, start, end_prefix, end = m.groups()
    if len(end) < len(start) and not end_prefix:
        end = start[: len(start) - len(end)] + end
    return prefix + start, (end_prefix or prefix) + end


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")


def pub_month(article: Article) -> int | None:
    """The month of ``pub_date`` ("2004 Oct 15", "1990 Jan-Feb" -> the first), if it has one."""
    words = re.findall(r"[A-Za-z]{3,}", article.pub_date or "")
    return next((_MONTHS.index(w[:3].lower()) + 1 for w in words if w[:3].lower() in _MONTHS), None)


def _ris_value(text: str) -> str:
    # A newline inside a value would start a bogus tag line (or an early "ER  -").
    return " ".join(text.split())


def _is_chapter(article: Article) -> bool:
    """A book record whose title is its own, not the book's: a chapter (an NCBI Bookshelf
    entry such as a GeneReviews page)."""
    return (article.record_type == "book" and article.book_title is not None
            and article.title != article.book_title)


def ris_record(article: Article) -> str:
    chapter = _is_chapter(article)
    kind = "CHAP" if chapter else "BOOK" if article.record_type == "book" else "JOUR"
    lines: list[tuple[str, str]] = [("TY", kind), ("TI", article.title)]
    lines += [("AU", sortable_name(a)) for a in article.authors]
    if article.year is not None:
        lines.append(("PY", str(article.year)))
        month = pub_month(article)
        if month:
            lines.append(("DA", f"{article.year}/{month:02d}//"))
    if article.journal:
        lines += [("T2", article.journal), ("JF", article.journal)]
    if article.journal_iso:
        lines.append(("J2", article.journal_iso))
    if chapter and article.book_title:
        lines.append(("T2", article.book_title))
    if article.publisher:
        lines.append(("PB", article.publisher))
    for tag, value in (("VL", article.volume), ("IS", article.issue)):
        if value:
            lines.append((tag, value))
    start, end = page_range(article.pages)
    if start:
        lines.append(("SP", start))
    if end:
        lines.append(("EP", end))
    if article.doi:
        lines.append(("DO", article.doi))
    lines += [("AN", article.pmid), ("DB", "PubMed"), ("DP", "NLM")]
    if article.pmcid:
        lines.append(("C2", article.pmcid))
    lines += [("LA", language) for language in article.languages]
    if article.abstract:
        lines.append(("AB", article.abstract))
    seen: set[str] = set()
    for keyword in (*article.keywords, *article.mesh_terms):
        if keyword.casefold() not in seen:
            seen.add(keyword.casefold())
            lines.append(("KW", keyword))
    lines.append(("UR", article.pubmed_url))
    if article.doi:
        lines.append(("UR", digest.doi_url(article.doi)))
    if article.retracted:
        lines.append(("N1", "RETRACTED ARTICLE: see the retraction notice linked from PubMed."))
    lines.append(("ER", ""))
    # "ER  - " keeps its trailing space: some importers match the tag with it.
    return "".join(f"{tag}  - {_ris_value(value)}\n" for tag, value in lines)


def _write_ris(articles: Iterable[Article], out: TextIO, provenance: Provenance) -> int:
    count = 0
    for article in articles:
        out.write(("\n" if count else "") + ris_record(article))
        count += 1
    return count


def _write_bibtex(articles: Iterable[Article], out: TextIO, provenance: Provenance) -> int:
    created = provenance.created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    inputs = " ".join(provenance.inputs[:20]) + (" ..." if len(provenance.inputs) > 20 else "")
    out.write(
        f"% Exported by cytoreview {provenance.tool_version} on {created}\n"
        # '@' would open an entry for parsers that scan comments for entries.
        f"% {_ris_value(provenance.command + ': ' + inputs).replace('@', ' ')}\n"
        "% Data from PubMed, courtesy of the U.S. National Library of Medicine.\n"
    )
    keys = KeyAllocator()
    count = 0
    for article in articles:
        start, end = page_range(article.pages)
        out.write("\n" + bibtex_entry(article, keys.allocate(article), start, end))
        count += 1
    return count


# --- BibTeX -------------------------------------------------------------------------------

_LATEX_ASCII = {
    "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
    "^": r"\textasciicircum{}", "~": r"\textasciitilde{}", "`": r"\textasciigrave{}",
    # In OT1 text '<', '>' and '|' print as other glyphs; math mode prints them everywhere.
    "<": "{$<$}", ">": "{$>$}", "|": "{$|$}",
    # '"' is an active character under babel's german; a group keeps it literal.
    '"': '{"}',
}  # fmt: skip
# Greek and these symbols have no glyph in LaTeX's default text fonts, so raw UTF-8 would stop
# a pdflatex run; braces keep BibTeX styles from lower-casing the math (\Delta -> \delta).
_LATEX_OTHER = {
    "µ": r"{$\mu$}", "±": r"{$\pm$}", "×": r"{$\times$}", "≤": r"{$\leq$}", "≥": r"{$\geq$}",
    "→": r"{$\rightarrow$}", "∼": r"{$\sim$}", "°": r"\textdegree{}", "…": r"\ldots{}",
    "–": "--", "—": "---", "\u00a0": "~", "ß": r"{\ss}", "ø": r"{\o}", "Ø": r"{\O}",
    "æ": r"{\ae}", "Æ": r"{\AE}", "œ": r"{\oe}", "Œ": r"{\OE}", "ł": r"{\l}", "Ł": r"{\L}",
    "ı": r"{\i}",
}  # fmt: skip
_ACCENTS = {
    "\u0300": "`", "\u0301": "'", "\u0302": "^", "\u0303": "~", "\u0304": "=", "\u0306": "u",
    "\u0307": ".", "\u0308": '"', "\u030a": "r", "\u030b": "H", "\u030c": "v", "\u0323": "d",
    "\u0327": "c", "\u0328": "k", "\u0331": "b",
}  # fmt: skip
_GREEK_CAPITALS = {"GAMMA", "DELTA", "THETA", "LAMDA", "XI", "PI", "SIGMA", "UPSILON", "PHI",
                   "PSI", "OMEGA"}  # fmt: skip
# Greek capitals that look like Latin letters have no LaTeX macro of their own.
_GREEK_AS_LATIN = {"ALPHA": "A", "BETA": "B", "EPSILON": "E", "ZETA": "Z", "ETA": "H",
                   "IOTA": "I", "KAPPA": "K", "MU": "M", "NU": "N", "OMICRON": "O", "RHO": "P",
                   "TAU": "T", "CHI": "X"}  # fmt: skip


def _latex_char(ch: str) -> str:
    if ch in _LATEX_ASCII:
        return _LATEX_ASCII[ch]
    if ch.isascii():
        return ch
    if ch in _LATEX_OTHER:
        return _LATEX_OTHER[ch]
    name = unicodedata.name(ch, "")
    if name.startswith("GREEK ") and " LETTER " in name:
        letter = name.split(" LETTER ", 1)[1]
        macro = {"LAMDA": "lambda", "FINAL SIGMA": "varsigma", "OMICRON": "o"}.get(
            letter, letter.lower()
        )
        if name.startswith("GREEK CAPITAL"):
            if letter in _GREEK_AS_LATIN:
                return _GREEK_AS_LATIN[letter]
            macro = macro.capitalize() if letter in _GREEK_CAPITALS else ""
        if macro == "o":
            return "o"
        if macro.isalpha() and " " not in letter:
            return f"{{$\\{macro}$}}"
        return ch
    decomposed = unicodedata.normalize("NFD", ch)
    base, marks = decomposed[0], decomposed[1:]
    if base.isascii() and base.isalpha() and marks and all(m in _ACCENTS for m in marks):
        for mark in marks:
            base = f"\\{_ACCENTS[mark]}{{{base}}}"
        return "{" + base + "}"
    # Anything else stays UTF-8: biber, JabRef, Zotero and LaTeX's UTF-8 input take it.
    return ch


def latex(text: str | None) -> str:
    """``text`` as LaTeX: specials escaped, accents and Greek as macros, whitespace collapsed."""
    if not text:
        return ""
    flat = " ".join(text.split())
    # BibTeX counts braces even after a backslash, so \{ is only safe when they balance.
    depth, balanced = 0, True
    for ch in flat:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        balanced = balanced and depth >= 0
    balanced = balanced and depth == 0
    braces = (
        {"{": r"\{", "}": r"\}"}
        if balanced
        else {"{": r"\textbraceleft{}", "}": r"\textbraceright{}"}
    )
    out = []
    for i, ch in enumerate(flat):
        out.append(braces.get(ch) or _latex_char(ch))
        # "--", "---" and "''" are ligatures (dashes, a closing quote) in TeX; {} breaks them.
        if ch in "-'" and flat[i + 1 : i + 2] == ch:
            out.append("{}")
    return "".join(out)


def latex_title(title: str) -> str:
    """Escaped title with capitalised words braced, so styles that lower-case titles keep
    "IL-2", "T cells" and "Wilms" as written."""
    words = title.split()
    protected = []
    for index, word in enumerate(words):
        upper = any(ch.isupper() for ch in word[1:]) or (index > 0 and word[:1].isupper())
        escaped = latex(word)
        protected.append(f"{{{escaped}}}" if upper else escaped)
    return " ".join(protected)


def sortable_name(author: Author) -> str:
    """``Wysocki, Piotr J`` (RIS and BibTeX order); a collective name as it is."""
    if author.collective_name or not author.last_name:
        return author.collective_name or author.name
    given = author.fore_name or " ".join(f"{i}." for i in author.initials or "")
    parts = [author.last_name, *([author.suffix] if author.suffix else []), given]
    return ", ".join(p for p in parts if p)


def _bibtex_author(author: Author) -> str:
    if author.collective_name or not author.last_name:
        # Braced whole, or BibTeX would split "Group and Friends" or take the last word as
        # the surname.
        return "{" + latex(author.collective_name or author.name) + "}"
    return latex(sortable_name(author))


_STOPWORDS = frozenset(
    {
        "a",
        "an",
        "the",
        "on",
        "of",
        "in",
        "for",
        "and",
        "or",
        "to",
        "with",
        "from",
        "by",
        "at",
        "as",
        "is",
        "are",
        "was",
        "were",
        "its",
        "their",
        "into",
        "about",
        "between",
        "during",
        "under",
        "over",
        "via",
        "after",
        "before",
        "new",
    }
)


def _ascii_word(text: str) -> str:
    special = {"ß": "ss", "ø": "o", "æ": "ae", "œ": "oe", "ł": "l", "đ": "d", "ı": "i"}
    folded = "".join(special.get(ch, ch) for ch in text.lower())
    folded = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]", "", folded)


def citation_key(article: Article) -> str:
    """``wysocki2004human``: surname, year, first significant title word, ASCII only."""
    who = ""
    if article.authors:
        first = article.authors[0]
        who = _ascii_word(first.last_name or (first.collective_name or "").split(" ")[0])
    words = [_ascii_word(w) for w in re.split(r"[\s\-/]+", article.title)]
    word = next((w for w in words if len(w) > 1 and w.isalpha() and w not in _STOPWORDS), "")
    year = str(article.year) if article.year is not None else "nd"
    return (who or "anon") + year + word


class KeyAllocator:
    """Unique keys in order of appearance: the first ``smith2004il``, then ``smith2004ila``,
    ``smith2004ilb`` ...; only keys are remembered, so streaming stays cheap."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def allocate(self, article: Article) -> str:
        base = citation_key(article)
        key, n = base, 0
        while key in self._used:
            n += 1
            key = base + _letters(n)
        self._used.add(key)
        return key


def _letters(n: int) -> str:
    # 1 -> a, 26 -> z, 27 -> aa: bijective base 26, so every suffix is distinct.
    out = ""
    while n:
        n, rest = divmod(n - 1, 26)
        out = chr(ord("a") + rest) + out
    return out


def _verbatim(text: str) -> str:
    # DOIs and URLs are printed verbatim by styles; only braces could break the entry.
    return re.sub(r"[{}\s]", "", text)


def bibtex_entry(article: Article, key: str, start_page: str, end_page: str) -> str:
    fields: list[tuple[str, str]] = [
        ("author", " and ".join(_bibtex_author(a) for a in article.authors)),
        ("title", latex_title(article.title)),
        ("journal", latex(article.journal)),
        ("booktitle", latex(article.book_title) if _is_chapter(article) else ""),
        ("publisher", latex(article.publisher)),
        ("year", "" if article.year is None else str(article.year)),
        ("month", _MONTHS[month - 1] if (month := pub_month(article)) else ""),
        ("volume", latex(article.volume)),
        ("number", latex(article.issue)),
        ("pages", latex(start_page) + ("--" + latex(end_page) if end_page else "")),
        ("doi", _verbatim(article.doi or "")),
        ("pmid", article.pmid),
        ("pmcid", _verbatim(article.pmcid or "")),
        ("url", article.pubmed_url),
        ("language", latex(", ".join(article.languages))),
        ("abstract", latex(article.abstract)),
        ("keywords", latex(", ".join(article.keywords))),
        ("mesh", latex(LIST_SEPARATOR.join(article.mesh_terms))),
        ("note", "RETRACTED ARTICLE" if article.retracted else ""),
    ]
    kind = ("incollection" if _is_chapter(article)
            else "book" if article.record_type == "book" else "article")
    # Months go in as BibTeX's month macros (oct, not {oct}) so styles print them localised.
    body = "".join(
        f"  {name} = {value if name == 'month' else '{' + value + '}'},\n"
        for name, value in fields
        if value
    )
    return f"@{kind}{{{key},\n{body}}}\n"


_WRITERS: dict[str, Callable[[Iterable[Article], TextIO, Provenance], int]] = {
    "json": _write_json,
    "jsonl": _write_jsonl,
    "csv": _write_csv,
    "ris": _write_ris,
    "bibtex": _write_bibtex,
    "md": lambda articles, out, provenance: digest.write(articles, out, provenance),
}
