"""RIS and BibTeX: what Zotero, EndNote and JabRef import.

Page ranges are expanded (PubMed's ``1595-607`` becomes ``1595``-``1607``) because that is how
reference managers store pages. BibTeX is escaped for LaTeX (see :func:`latex`), keyed
``wysocki2004human`` (unique within a file, see :class:`KeyAllocator`); a book chapter is a
RIS ``CHAP`` / BibTeX ``@incollection`` of its book.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from datetime import timezone
from typing import TYPE_CHECKING, TextIO

from cytoreview import digest
from cytoreview.model import Article, Author

if TYPE_CHECKING:
    from cytoreview.export import Provenance

#: How the flat formats (CSV cells, BibTeX fields) join a list of values.
LIST_SEPARATOR = "; "

# "1595-603", "e12-e19", "S1-4", "1595-603.e9" and "1161.e1-1161.e2" (online-only pages)
_SUFFIX = r"((?:\.?[A-Za-z]+\d*)?)"
_PAGES = re.compile(rf"^([A-Za-z]*)(\d+){_SUFFIX}\s*[-–]\s*([A-Za-z]*)(\d+){_SUFFIX}$")
_ROMAN_PAGES = re.compile(r"^([ivxlcdm]+)\s*[-–]\s*([ivxlcdm]+)$", re.IGNORECASE)


def page_range(pages: str | None) -> tuple[str, str]:
    """``1595-607`` -> (``1595``, ``1607``): MEDLINE abbreviates end pages; citation managers
    want them whole. Anything that is not a plain range is kept whole as the start page."""
    if not pages:
        return "", ""
    text = pages.strip()
    roman = _ROMAN_PAGES.match(text)
    if roman:
        return roman.group(1), roman.group(2)
    m = _PAGES.match(text)
    if not m:
        return text, ""
    prefix, start, start_suffix, end_prefix, end, suffix = m.groups()
    if len(end) < len(start) and not end_prefix:
        end = start[: len(start) - len(end)] + end
    if int(end) < int(start):
        return text, ""  # "87-5": a typo in the source, not a range to turn backwards
    return prefix + start + start_suffix, (end_prefix or prefix) + end + suffix


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
    lines: list[tuple[str, str]] = [("TY", kind), ("TI", article.display_title)]
    lines += [("AU", ris_name(a)) for a in article.authors]
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
    lines += [("ED", ris_name(e)) for e in article.editors]
    if article.publisher:
        lines.append(("PB", article.publisher))
    if article.publisher_location:
        lines.append(("CY", article.publisher_location))
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


def write_ris(articles: Iterable[Article], out: TextIO, provenance: Provenance) -> int:
    count = 0
    for article in articles:
        out.write(("\n" if count else "") + ris_record(article))
        count += 1
    return count


def write_bibtex(articles: Iterable[Article], out: TextIO, provenance: Provenance) -> int:
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
    "ı": r"{\i}", "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2217": r"{$\ast$}",
    "\ufeff": "", "\u200b": "", "\u2212": "{$-$}", "⁻": r"{\textsuperscript{$-$}}",
    "₋": r"{\textsubscript{$-$}}", "℃": r"\textdegree{}C", "℉": r"\textdegree{}F",
    "™": r"\texttrademark{}",
    # Operators and look-alike letters PubMed abstracts use (counted on the shared files).
    "⋅": r"{$\cdot$}", "∙": r"{$\cdot$}", "∆": r"{$\Delta$}", "≈": r"{$\approx$}",
    "∑": r"{$\sum$}", "⋯": r"{$\cdots$}", "⩽": r"{$\leq$}", "⩾": r"{$\geq$}",
    "≦": r"{$\leq$}", "≧": r"{$\geq$}", "≠": r"{$\neq$}", "∞": r"{$\infty$}",
    "∘": r"{$\circ$}", "∠": r"{$\angle$}", "∈": r"{$\in$}", "∝": r"{$\propto$}",
    "≃": r"{$\simeq$}", "≅": r"{$\cong$}", "≪": r"{$\ll$}", "≫": r"{$\gg$}",
    "∓": r"{$\mp$}", "√": r"{$\surd$}", "∂": r"{$\partial$}", "↑": r"{$\uparrow$}",
    "↓": r"{$\downarrow$}", "←": r"{$\leftarrow$}", "↔": r"{$\leftrightarrow$}",
    "′": r"{$'$}", "″": r"{$''$}", "⍺": r"{$\alpha$}", "ɑ": r"{$\alpha$}",
    "ɛ": r"{$\varepsilon$}", "ɣ": r"{$\gamma$}", "ϵ": r"{$\epsilon$}", "\u2062": "",
}  # fmt: skip
# Compatibility characters whose plain form is ASCII: ligatures ("ﬂ"), Roman numerals ("Ⅱ"),
# full-width forms; sub- and superscript digits and signs as LaTeX writes them. pdflatex's
# UTF-8 input knows few of these.
_COMPAT_FORMS = {"<compat>": "{}", "<wide>": "{}", "<narrow>": "{}", "<font>": "{}",
                 "<sub>": r"{{\textsubscript{{{}}}}}", "<super>": r"{{\textsuperscript{{{}}}}}"}
# Braces from a compatibility form ("｛") are text, not TeX groups; dashes and quotes must not
# join into ligatures ("－－" is no en dash).
_COMPAT_ASCII = {"{": r"\textbraceleft{}", "}": r"\textbraceright{}", "-": "-{}", "'": "'{}"}
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
    form = _COMPAT_FORMS.get(unicodedata.decomposition(ch).split(" ", 1)[0])
    plain = unicodedata.normalize("NFKC", ch)
    if form is not None and plain.isascii() and plain.strip():
        return form.format("".join(_COMPAT_ASCII.get(c) or _latex_char(c) for c in plain))
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
        # A group opening with a backslash is a "special character" to BibTeX, whose letters
        # it does lower-case ("{\textdegree{}C}" printed "°c"): one more group protects it.
        if upper:
            escaped = f"{{{{{escaped}}}}}" if escaped.startswith("\\") else f"{{{escaped}}}"
        protected.append(escaped)
    return " ".join(protected)


def _name_part(text: str | None) -> str:
    # Both formats separate a name's parts with commas, so a part cannot hold one: PubMed has
    # suffixes such as ", MA", which made "Slivjak, , MA, Elizabeth T" (too many commas).
    return " ".join(text.replace(",", " ").split()) if text else ""


def _name_parts(author: Author) -> tuple[str, str, str]:
    """A person's last name, given names (or initials) and suffix, without commas."""
    given = author.fore_name or " ".join(f"{i}." for i in author.initials or "")
    return _name_part(author.last_name), _name_part(given), _name_part(author.suffix)


def _is_person(author: Author) -> bool:
    return not author.collective_name and bool(author.last_name)


def ris_name(author: Author) -> str:
    """``Wysocki, Piotr J``; ``Mammen, Pradeep P A, Jr`` (RIS puts the suffix last); a
    collective name ends with a comma, as reference managers read a corporate author, its
    own commas made semicolons so that no part of it is taken for a first name."""
    if not _is_person(author):
        return (author.collective_name or author.name).replace(",", ";").rstrip(" ;") + ","
    last, given, suffix = _name_parts(author)
    if not given:
        # "Kisov Khr" (a last name only) must not be read as first and last name; a suffix
        # keeps its place after an empty first name.
        return f"{last}, , {suffix}" if suffix else f"{last},"
    return ", ".join(p for p in (last, given, suffix) if p)


_BIBTEX_AND = re.compile(r"\band\b", re.IGNORECASE)


def _bibtex_author(author: Author) -> str:
    """``Mammen, Jr, Pradeep P A`` (BibTeX's "von Last, Jr, First"); a collective name braced
    whole, or BibTeX would split "Group and Friends" or take its last word as the surname."""
    if not _is_person(author):
        return "{" + latex(author.collective_name or author.name) + "}"
    last, given, suffix = _name_parts(author)
    if not given:
        # A last name alone ("Kisov Khr") braced, or BibTeX takes its first word for a first
        # name; with a suffix, "Smith, Jr" would make Jr the first name, and a trailing
        # comma is refused by some parsers: the suffix goes inside the braces.
        return "{" + latex(" ".join(filter(None, (last, suffix)))) + "}"
    name = ", ".join(latex(p) for p in (last, suffix, given) if p)
    # BibTeX splits authors at "and" in any case: a name part "And" would split one in two.
    return _BIBTEX_AND.sub(lambda m: "{" + m.group(0) + "}", name)


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
    if article.authors or article.editors:  # a book may have editors only
        first = (article.authors or article.editors)[0]
        who = _ascii_word(first.last_name or (first.collective_name or "").split(" ")[0])
    words = [_ascii_word(w) for w in re.split(r"[\s\-/]+", article.display_title)]
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


#: PubMed's ISO 639-2 codes as the babel names biblatex expects: with ``clearlang`` it then
#: drops the language a document is written in, where "eng" would be printed as it is.
_BABEL = {
    "eng": "english", "ger": "german", "rus": "russian", "fre": "french", "jpn": "japanese",
    "ita": "italian", "spa": "spanish", "pol": "polish", "cze": "czech", "rum": "romanian",
    "dan": "danish", "slo": "slovak", "dut": "dutch", "por": "portuguese", "chi": "chinese",
    "swe": "swedish", "nor": "norwegian", "hun": "hungarian", "bul": "bulgarian",
    "ukr": "ukrainian", "hrv": "croatian", "gre": "greek", "afr": "afrikaans", "heb": "hebrew",
    "tur": "turkish", "srp": "serbian", "mac": "macedonian", "fin": "finnish", "kor": "korean",
    "ara": "arabic", "per": "farsi", "slv": "slovene", "lit": "lithuanian", "lav": "latvian",
    "est": "estonian", "ice": "icelandic", "cat": "catalan", "lat": "latin",
}  # fmt: skip


def _verbatim(text: str) -> str:
    # DOIs and URLs are printed verbatim by styles; only braces could break the entry.
    return re.sub(r"[{}\s]", "", text)


_SINGLE_HYPHEN = re.compile(r"(?<=\w)-(?=\w)")


def bibtex_keywords(keywords: Sequence[str]) -> str:
    """Keywords separated by commas, as biblatex, JabRef and Zotero split them; a keyword
    with a comma of its own ("CUD, cannabis use disorder") is braced, so it stays one."""
    return ", ".join(f"{{{latex(k)}}}" if "," in k else latex(k) for k in keywords)


def bibtex_entry(article: Article, key: str, start_page: str, end_page: str) -> str:
    fields: list[tuple[str, str]] = [
        ("author", " and ".join(_bibtex_author(a) for a in article.authors)),
        ("title", latex_title(article.display_title)),
        ("journal", latex(article.journal)),
        ("booktitle", latex(article.book_title) if _is_chapter(article) else ""),
        ("editor", " and ".join(_bibtex_author(e) for e in article.editors)),
        ("publisher", latex(article.publisher)),
        ("address", latex(article.publisher_location)),
        ("year", "" if article.year is None else str(article.year)),
        ("month", _MONTHS[month - 1] if (month := pub_month(article)) else ""),
        ("volume", latex(article.volume)),
        ("number", latex(article.issue)),
        ("pages", latex(start_page) + "--" + latex(end_page) if end_page
         # kept whole ("3-4, 11", "87-5"): its ranges take the en dash too
         else _SINGLE_HYPHEN.sub("--", latex(start_page))),
        ("doi", _verbatim(article.doi or "")),
        ("pmid", article.pmid),
        ("pmcid", _verbatim(article.pmcid or "")),
        ("url", article.pubmed_url),
        ("language", latex(" and ".join(_BABEL.get(code, code) for code in article.languages))),
        ("abstract", latex(article.abstract)),
        ("keywords", bibtex_keywords(article.keywords)),
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
