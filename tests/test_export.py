"""Exports read back by independent parsers: json, csv, rispy, bibtexparser (+ pylatexenc).

The three seed records are built from the seed pages in ../shared/seeds; a fourth record
carries every character that has broken an exporter somewhere (LaTeX specials, Markdown and HTML
markup, non-ASCII, an unbalanced-looking DOI).
"""

from __future__ import annotations

import csv
import dataclasses
import importlib.util
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import orjson
import pytest
import rispy  # type: ignore[import-untyped]
from bibtexparser.entrypoint import parse_string
from bibtexparser.library import Library
from bibtexparser.middlewares import LatexDecodingMiddleware, SeparateCoAuthors
from bibtexparser.middlewares.middleware import Middleware
from bibtexparser.model import Entry
from hypothesis import given, settings
from hypothesis import strategies as st
from pylatexenc.latex2text import LatexNodes2Text  # type: ignore[import-untyped]

from cytoreview import export
from cytoreview.citations import page_range
from cytoreview.export import FORMATS, Provenance, write
from cytoreview.model import (
    Article,
    Author,
    Chemical,
    CommentCorrection,
    MeshHeading,
    MeshQualifier,
    OtherAbstract,
    Role,
    Section,
    Sentence,
    Summary,
)

PROVENANCE = Provenance(
    command="fetch",
    inputs=("15461571", "15627015", "2215513"),
    created=datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc),
    tool_version="0.1.0",
)

WYSOCKI_ABSTRACT = (
    "Cytokines can impede tumour growth and activate innate and adaptive immune responses, "
    "leading to elimination of cancer cells. This article reviews the present status and "
    "perspectives of clinical trials of cancer immunotherapies utilising cytokine gene-modified "
    "cells."
)
EKLUND_PURPOSE = (
    "Highlighted in this review are the important preclinical and clinical updates of "
    "interleukin (IL)-2-based cancer immunotherapy that have been published during the last year."
)
EKLUND_FINDINGS = (
    "The review starts with a summary of the preclinical breakthroughs involving IL-2."
)
EKLUND_SUMMARY = (
    "IL-2 remains a valuable treatment option for patients with metastatic melanoma or renal "
    "cell carcinoma."
)
NASTY_TITLE = (
    "IL-2 & IFN-α <i>in vivo</i>: 50% of {T_reg} | `β` cells *[sic]* #1 — Müller's "
    '“trial” ~ $5 \\ "quoted" -- 中文 <script>alert(1)</script>'
)


ROLES_IN_ORDER: tuple[Role, ...] = ("purpose", "findings", "conclusions")


def _mesh(*names: str) -> tuple[MeshHeading, ...]:
    return tuple(MeshHeading(descriptor=n) for n in names)


def _structured(parts: list[tuple[str, str, str]]) -> tuple[str, tuple[Section, ...]]:
    """(label, category, text) -> the abstract and its sections with exact offsets."""
    abstract, sections = "", []
    for label, category, text in parts:
        start = len(abstract) + (1 if abstract else 0)
        abstract = f"{abstract} {text}" if abstract else text
        sections.append(Section(label, category, text, start, start + len(text)))
    return abstract, tuple(sections)


def seed_articles() -> list[Article]:
    eklund_abstract, eklund_sections = _structured(
        [
            ("Purpose of review", "OBJECTIVE", EKLUND_PURPOSE),
            ("Recent findings", "RESULTS", EKLUND_FINDINGS),
            ("Summary", "CONCLUSIONS", EKLUND_SUMMARY),
        ]
    )
    eklund_sentences = tuple(
        Sentence(s.start, s.end, role, 1.0, "nlm", s.label)
        for s, role in zip(eklund_sections, ROLES_IN_ORDER, strict=True)
    )
    return [
        Article(
            pmid="15461571",
            title="Human cancer gene therapy with cytokine gene-modified cells.",
            abstract=WYSOCKI_ABSTRACT,
            doi="10.1517/14712598.4.10.1595",
            journal="Expert opinion on biological therapy",
            journal_iso="Expert Opin Biol Ther",
            volume="4",
            issue="10",
            pages="1595-607",
            pub_date="2004 Oct",
            year=2004,
            authors=(
                Author("Wysocki", "Piotr J", "PJ"),
                Author("Grabarczyk", "Piotr", "P"),
                Author("Mackiewicz", "Andrzej", "A"),
            ),
            languages=("eng",),
            mesh_headings=_mesh("Cytokines", "Genetic Therapy", "Humans", "Neoplasms"),
            publication_types=("Journal Article", "Review"),
            summary=Summary(
                purpose="This article reviews the present status and perspectives.",
                findings="Cytokines can impede tumour growth.",
                key_findings="Cytokines can impede tumour growth.",
                source="model",
            ),
        ),
        Article(
            pmid="15627015",
            title="A review of recent findings involving interleukin-2-based cancer therapy.",
            abstract=eklund_abstract,
            doi="10.1097/01.cco.0000142070.45097.68",
            journal="Current opinion in oncology",
            journal_iso="Curr Opin Oncol",
            volume="16",
            issue="6",
            pages="542-6",
            year=2004,
            authors=(Author("Eklund", "John W", "JW"), Author("Kuzel", "Timothy M", "TM")),
            mesh_headings=_mesh("Carcinoma, Renal Cell", "Humans", "Interleukin-2", "Melanoma"),
            publication_types=("Journal Article", "Review"),
            sections=eklund_sections,
            sentences=eklund_sentences,
            summary=Summary(
                purpose=EKLUND_PURPOSE,
                findings=EKLUND_FINDINGS,
                conclusions=EKLUND_SUMMARY,
                key_findings=EKLUND_FINDINGS,
                source="nlm",
            ),
        ),
        Article(
            pmid="2215513",
            title="Lessons from the clinical trials of interleukin-2.",
            abstract="The initial results of interleukin-2 (IL-2) therapy in man are reviewed.",
            journal="Natural immunity and cell growth regulation",
            journal_iso="Nat Immun Cell Growth Regul",
            volume="9",
            issue="4",
            pages="242-52",
            year=1990,
            authors=(Author("Parkinson", "D R", "DR"),),
            mesh_headings=_mesh("Humans", "Interleukin-2", "Neoplasms"),
            publication_types=("Journal Article", "Review"),
        ),
    ]


def nasty_article() -> Article:
    return Article(
        pmid="99999999",
        title=NASTY_TITLE,
        abstract='Line one | with pipe,\nline two; "quotes", commas and 10% _under_ & <b>.',
        doi="10.1000/abc_(x)#1",
        pmcid="PMC123456",
        journal="J. Immunother. & Cancer_Res {Ω}",
        volume="12",
        issue="Suppl 1",
        pages="e123",
        year=2021,
        authors=(
            Author("Müller-Østergaard", "Zoë", "Z"),
            Author(collective_name="ECOG & ACRIN Group and Friends"),
            Author("O'Brien", None, "JP", "Jr"),
        ),
        keywords=("IFN-α", "T_reg", "IL-2/IL-2R"),
        mesh_headings=_mesh("Interleukin-2"),
        publication_types=("Journal Article", "Retracted Publication"),
        retracted=True,
    )


def all_articles() -> list[Article]:
    return [*seed_articles(), nasty_article()]


def _export(fmt: str, articles: list[Article] | None = None) -> tuple[str, int]:
    out = io.StringIO(newline="")
    count = write(articles if articles is not None else all_articles(), fmt, out, PROVENANCE)
    return out.getvalue(), count


def test_formats_are_the_cli_choices() -> None:
    assert FORMATS == ("table", "json", "jsonl", "md", "csv", "ris", "bibtex")
    with pytest.raises(ValueError, match="table"):
        write([], "table", io.StringIO(), PROVENANCE)
    with pytest.raises(ValueError, match="unknown format"):
        write([], "xml", io.StringIO(), PROVENANCE)


def test_json_is_one_array_of_the_model_records_with_utf8_kept() -> None:
    text, count = _export("json")
    assert count == 4
    assert json.loads(text) == [a.to_dict() for a in all_articles()]
    assert "IFN-α" in text and "\\u03b1" not in text
    assert json.loads(_export("json", [])[0]) == []


def test_jsonl_is_one_record_per_line() -> None:
    text, count = _export("jsonl")
    lines = text.splitlines()
    assert count == len(lines) == 4
    assert [json.loads(line) for line in lines] == [a.to_dict() for a in all_articles()]


def test_csv_reads_back_with_the_csv_module_and_opens_in_excel() -> None:
    text, count = _export("csv")
    data = text.encode("utf-8")
    assert data.startswith(b"\xef\xbb\xbf"), "Excel needs the BOM to read UTF-8"
    assert b"\r\n" in data and data.count(b"\r\n") >= count + 1
    rows = list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"), newline="")))
    assert count == len(rows) == 4
    for row, article in zip(rows, all_articles(), strict=True):
        assert row["pmid"] == article.pmid
        assert row["title"] == article.title
        assert row["doi"] == (article.doi or "")
        assert row["journal"] == article.journal
        assert row["year"] == str(article.year)
        assert (row["volume"], row["issue"], row["pages"]) == (
            article.volume,
            article.issue,
            article.pages,
        )
        assert row["authors"].split("; ") == [a.name for a in article.authors]
        assert row["abstract"] == article.abstract
        assert row["purpose"] == article.summary.purpose
        assert row["findings"] == article.summary.findings
        assert row["conclusions"] == article.summary.conclusions
        assert row["url"] == f"https://pubmed.ncbi.nlm.nih.gov/{article.pmid}/"
    assert rows[1]["mesh_terms"].split("; ")[0] == "Carcinoma, Renal Cell"
    assert rows[3]["retracted"] == "true" and rows[0]["retracted"] == "false"


def test_csv_cells_a_spreadsheet_would_run_as_formulas_start_with_an_apostrophe() -> None:
    article = dataclasses.replace(
        all_articles()[0],
        title='=HYPERLINK("http://example.org/x","click")',
        keywords=("-1082 A/G", "IL-10"),  # PMID 34090357's keywords: #NAME? in Excel
        volume="-5",  # a number, which a spreadsheet shows as one
        issue="@home",
        pages="+1",
        journal="'t Hooft's journal",  # an apostrophe of its own must survive the round trip
        journal_iso="\uff1dSUM(A1)",  # full-width '=', a formula in East Asian locales
    )
    text, _ = _export("csv", [article])
    row = next(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"), newline="")))
    assert row["title"] == "'" + article.title
    assert row["keywords"] == "'-1082 A/G; IL-10"
    assert (row["volume"], row["issue"], row["pages"]) == ("-5", "'@home", "+1")
    assert row["pmid"] == article.pmid
    # What the README promises a program reading the CSV: one leading apostrophe removed
    # gives the text back, whatever it was.
    assert row["journal"].removeprefix("'") == article.journal
    assert row["journal_iso"] == "'" + article.journal_iso


def test_ris_reads_back_with_rispy() -> None:
    text, count = _export("ris")
    entries = rispy.loads(text)
    assert count == len(entries) == 4
    for entry, article in zip(entries, all_articles(), strict=True):
        assert entry["type_of_reference"] == "JOUR"
        assert entry["title"] == article.title
        assert entry["year"] == str(article.year)
        assert entry["secondary_title"] == article.journal
        assert entry["volume"] == article.volume
        assert entry["number"] == article.issue
        assert entry.get("doi") == article.doi
        assert entry["accession_number"] == article.pmid
        assert entry["abstract"] == " ".join(article.abstract.split())
        assert f"https://pubmed.ncbi.nlm.nih.gov/{article.pmid}/" in entry["urls"]
    wysocki, eklund, parkinson, nasty = entries
    assert wysocki["authors"] == ["Wysocki, Piotr J", "Grabarczyk, Piotr", "Mackiewicz, Andrzej"]
    assert (wysocki["start_page"], wysocki["end_page"]) == ("1595", "1607")
    assert (eklund["start_page"], eklund["end_page"]) == ("542", "546")
    assert (parkinson["start_page"], parkinson["end_page"]) == ("242", "252")
    assert wysocki["date"] == "2004/10//" and "date" not in eklund
    assert nasty["start_page"] == "e123" and "end_page" not in nasty
    assert nasty["authors"] == [
        "Müller-Østergaard, Zoë",
        "ECOG & ACRIN Group and Friends,",  # the trailing comma marks a corporate author
        "O'Brien, J. P., Jr",  # RIS: Lastname, Firstname, Suffix
    ]
    assert nasty["keywords"][:3] == ["IFN-α", "T_reg", "IL-2/IL-2R"]
    assert any("RETRACTED" in note for note in nasty["notes"])


def _names(entry: Entry) -> list[str]:
    # bibtexparser leaves split author lists undecoded; pylatexenc decodes each name.
    decoder = LatexNodes2Text(math_mode="text")
    return [decoder.latex_to_text(name) for name in entry["author"]]


def _bibtex_library(text: str, decode: bool) -> Library:
    middlewares: list[Middleware] = [SeparateCoAuthors()]
    if decode:
        middlewares.append(LatexDecodingMiddleware(keep_math_mode=False))
    library = parse_string(text, append_middleware=middlewares)
    assert not library.failed_blocks
    return library


def test_bibtex_reads_back_with_bibtexparser_and_latex_decodes_exactly() -> None:
    text, count = _export("bibtex")
    raw = _bibtex_library(text, decode=False)
    decoded = _bibtex_library(text, decode=True)
    assert count == len(decoded.entries) == 4
    assert [e.key for e in raw.entries] == [
        "wysocki2004human",
        "eklund2004review",
        "parkinson1990lessons",
        "mullerostergaard2021il",
    ]
    for entry, raw_entry, article in zip(decoded.entries, raw.entries, all_articles(), strict=True):
        fields = {k: v.value for k, v in entry.fields_dict.items()}
        assert entry.entry_type == "article"
        assert fields["title"] == article.title
        assert fields["journal"] == article.journal
        assert fields["year"] == str(article.year)
        assert fields["volume"] == article.volume
        assert fields["number"] == article.issue
        assert fields["pmid"] == article.pmid
        assert fields.get("doi") == article.doi
        assert fields["url"] == f"https://pubmed.ncbi.nlm.nih.gov/{article.pmid}/"
        assert fields["abstract"] == " ".join(article.abstract.split())
        assert (
            raw_entry.fields_dict["pages"].value
            == {
                "1595-607": "1595--1607",
                "542-6": "542--546",
                "242-52": "242--252",
                "e123": "e123",
            }[article.pages or ""]
        )
    assert raw.entries[0].fields_dict["month"].value == "oct"
    # babel's name, which biblatex's clearlang compares with the document's language
    assert raw.entries[0].fields_dict["language"].value == "english"
    assert "month" not in raw.entries[1].fields_dict, "no month in pub_date, none invented"
    assert _names(decoded.entries[0]) == [
        "Wysocki, Piotr J",
        "Grabarczyk, Piotr",
        "Mackiewicz, Andrzej",
    ]
    nasty = decoded.entries[3]
    assert _names(nasty) == [
        "Müller-Østergaard, Zoë",
        "ECOG & ACRIN Group and Friends",
        "O'Brien, Jr, J. P.",
    ]
    assert nasty["keywords"] == "IFN-α, T_reg, IL-2/IL-2R"
    assert nasty["note"] == "RETRACTED ARTICLE"


AWKWARD_NAMES = (
    Author("Slivjak", "Elizabeth T", "ET", ", MA"),  # PMID 33886442's suffix, comma and all
    Author(collective_name="EORTC Quality of Life, Gastro-intestinal Groups"),  # 32767619
    Author("Mammen", "Pradeep P A", "PPA", "Jr"),  # 16919692
    Author("Smith", "And", "A"),  # 33300983 has a ForeName "And"
    Author("Doe", "John", "J"),
    Author("Kisov Khr"),  # a last name only, of two words
    Author("Roe", suffix="Jr"),  # a suffix without a given name
    Author(collective_name="COVCARE Group;"),
)


def test_awkward_names_keep_their_parts_in_ris() -> None:
    article = dataclasses.replace(all_articles()[0], authors=AWKWARD_NAMES)
    text, _ = _export("ris", [article])
    assert rispy.loads(text)[0]["authors"] == [
        "Slivjak, Elizabeth T, MA",
        "EORTC Quality of Life; Gastro-intestinal Groups,",
        "Mammen, Pradeep P A, Jr",
        "Smith, And",
        "Doe, John",
        "Kisov Khr,",  # one field, like a corporate author
        "Roe, , Jr",
        "COVCARE Group,",
    ]


def test_awkward_names_keep_their_parts_in_bibtex() -> None:
    from bibtexparser.middlewares import SplitNameParts

    article = dataclasses.replace(all_articles()[0], authors=AWKWARD_NAMES)
    text, _ = _export("bibtex", [article])
    # Name parts as BibTeX reads them: too many commas in a name, or an "and" inside one,
    # would fail or split it.
    library = parse_string(text, append_middleware=[SeparateCoAuthors(), SplitNameParts()])
    assert not library.failed_blocks
    names = [(n.last, n.jr, n.first) for n in library.entries[0]["author"]]
    assert names == [
        (["Slivjak"], ["MA"], ["Elizabeth", "T"]),
        (["{EORTC Quality of Life, Gastro-intestinal Groups}"], [], []),
        (["Mammen"], ["Jr"], ["Pradeep", "P", "A"]),
        (["Smith"], [], ["{And}"]),
        (["Doe"], [], ["John"]),
        (["{Kisov Khr}"], [], []),
        (["{Roe Jr}"], [], []),
        (["{COVCARE Group;}"], [], []),
    ]


def test_bibtex_escapes_latex_and_writes_accents_and_greek_as_macros() -> None:
    text, _ = _export("bibtex", [nasty_article()])
    title = parse_string(text).entries[0].fields_dict["title"].value
    # Every LaTeX special is escaped, so the title compiles and the entry stays balanced.
    unescaped = re.sub(r"\\[&%$#_{}]|\\[a-zA-Z]+(\{\})?|\{\$[^$]*\$\}|\\[`'\"^~=.]", "", title)
    assert not re.search(r"[&%$#_^~\\]", unescaped), unescaped
    assert r"{$\alpha$}" in title and r"{$\beta$}" in title and r"{\"{u}}" in title
    assert r"\{T\_reg\}" in title and r"{$<$}" in title and r"{$|$}" in title
    assert "-{}-" in title, "a literal '--' must not become an en dash"
    assert "中文" in title, "characters LaTeX macros cannot express stay UTF-8"
    assert "{IL-2}" in title and "{IFN-{$\\alpha$}}" in title, "acronyms keep their case"
    journal = parse_string(text).entries[0].fields_dict["journal"].value
    assert journal == r"J. Immunother. \& Cancer\_Res \{{$\Omega$}\}"


def test_bibtex_writes_compatibility_characters_in_ascii() -> None:
    # From the shared files' titles: non-breaking hyphens, a BOM, a ligature, Roman numerals,
    # subscripts; raw, they stop a pdflatex run.
    title = "CO\u2082 \ufb02ow\u2011rate in type \u2161 cells\ufeff (T2\u2217)"
    text, _ = _export("bibtex", [Article(pmid="1", title=title, year=2000)])
    raw = parse_string(text).entries[0].fields_dict["title"].value
    assert raw.isascii()
    assert LatexNodes2Text().latex_to_text(raw) == "CO2 flow-rate in type II cells (T2∗)"


def _groups_balance(latex_text: str) -> bool:
    depth = 0
    for ch in latex_text.replace("\\{", "").replace("\\}", ""):
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if depth < 0:
            return False
    return depth == 0


def test_bibtex_compatibility_characters_never_open_a_group_or_join_a_ligature() -> None:
    # Full-width braces are text: "｛" once became a bare "{" that broke the entry.
    from cytoreview.citations import latex

    blocks = [(0xFF00, 0xFFEF), (0x2070, 0x209F), (0x2150, 0x218F), (0xFB00, 0xFB06)]
    for low, high in blocks:
        for ch in map(chr, range(low, high + 1)):
            assert _groups_balance(latex(ch)), ch
            assert _groups_balance(latex("x" + ch * 3)), ch
    assert "--" not in latex("\uff0d\uff0d") and "''" not in latex("\uff07\uff07")
    title = "The \uff5bx\uff5d and \uff5b"
    text, _ = _export("bibtex", [Article(pmid="1", title=title, year=2000)])
    assert not parse_string(text).failed_blocks


def test_bibtex_unbalanced_braces_cannot_break_the_entry() -> None:
    article = Article(pmid="1", title="Odd } brace { here }", year=2000)
    text, _ = _export("bibtex", [article, *seed_articles()])
    library = _bibtex_library(text, decode=False)
    assert len(library.entries) == 4
    assert "textbraceright" in library.entries[0]["title"]


def test_bibtex_keys_are_unique_stable_and_deterministic() -> None:
    first = seed_articles()[0]
    same = [first, first, first, Article(pmid="2", title="The human genome.", year=2004)]
    text, _ = _export("bibtex", same)
    keys = [e.key for e in _bibtex_library(text, decode=False).entries]
    assert keys == ["wysocki2004human", "wysocki2004humana", "wysocki2004humanb", "anon2004human"]
    assert _export("bibtex", same)[0] == text
    # A real base key that looks like a suffixed one still gets a key of its own.
    lookalike = Article(pmid="3", title="Humana trial", year=2004, authors=first.authors)
    library = _bibtex_library(_export("bibtex", [first, first, lookalike])[0], decode=False)
    keys = [e.key for e in library.entries]
    assert len(set(keys)) == 3


def test_bibtex_header_says_where_the_file_came_from() -> None:
    text, _ = _export("bibtex", [])
    assert text.startswith("% Exported by cytoreview 0.1.0 on 2026-11-23 09:00 UTC")
    assert "fetch: 15461571 15627015 2215513" in text
    assert "National Library of Medicine" in text


def test_page_ranges_are_expanded_the_way_citation_managers_store_them() -> None:
    assert page_range("1595-607") == ("1595", "1607")
    assert page_range("S12-5") == ("S12", "S15")
    assert page_range("e123") == ("e123", "")
    assert page_range("123-45; discussion 146") == ("123-45; discussion 146", "")
    assert page_range(None) == ("", "")
    # From the shared files: an online-only last page, Roman numerals, and a typo in the
    # source that expanding would have turned into the backwards range 87-85.
    assert page_range("1595-603.e9") == ("1595", "1603.e9")
    assert page_range("1161.e1-1161.e2") == ("1161.e1", "1161.e2")
    assert page_range("vii-xxii") == ("vii", "xxii")
    assert page_range("87-5") == ("87-5", "")


def test_bibtex_pages_kept_whole_still_take_en_dashes() -> None:
    text, _ = _export("bibtex", [Article(pmid="1", title="T", year=1979, pages="3-4, 11")])
    assert parse_string(text).entries[0].fields_dict["pages"].value == "3--4, 11"


def test_bibtex_keywords_with_commas_stay_one_keyword() -> None:
    # PMID 29977992: "CIDI, Composite International Diagnostic Interview" was read as two
    # keywords by biblatex, JabRef and Zotero (318 records of the 2021 file).
    keywords = ("CIDI, Composite International Diagnostic Interview", "PTSD")
    article = Article(pmid="1", title="T", year=2020, keywords=keywords)
    value = parse_string(_export("bibtex", [article])[0]).entries[0].fields_dict["keywords"]
    depth, parts, part = 0, [], ""
    for ch in value.value + ",":  # biblatex's split: commas outside braces
        depth += {"{": 1, "}": -1}.get(ch, 0)
        if ch == "," and depth == 0:
            parts.append(part.strip().strip("{}"))
            part = ""
        else:
            part += ch
    assert parts == list(keywords)


def test_bibtex_title_words_opening_with_a_macro_keep_their_capitals() -> None:
    # "{\textdegree{}C}" is a "special character" to BibTeX, whose letters styles lower-case:
    # "2 °c" (PMID 33990013). One more group protects it.
    text, _ = _export("bibtex", [Article(pmid="1", title="Stored at 4 °C and #Tag2 Δ", year=2021)])
    title = parse_string(text).entries[0].fields_dict["title"].value
    assert r"{{\textdegree{}C}}" in title and r"{{\#Tag2}}" in title
    assert not re.search(r"(?<!\{)\{\\", title.replace(r"\{", "")), title


def test_bibtex_writes_common_math_symbols_as_macros() -> None:
    # Raw, these stop a pdflatex run (106 records of the 2021 file).
    title = "\u2206T \u2248 3 \u2a7e 2 \u2a7d \u221e \u22c5 x\u2032"
    text, _ = _export("bibtex", [Article(pmid="1", title=title, year=2021)])
    raw = parse_string(text).entries[0].fields_dict["title"].value
    assert raw.isascii(), raw
    assert LatexNodes2Text().latex_to_text(raw) == "ΔT ≈ 3 ≥ 2 ≤ ∞ · x'"


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "ris", "bibtex"])
def test_streaming_formats_write_each_record_before_reading_the_next(fmt: str) -> None:
    out = io.StringIO(newline="")
    articles = all_articles()

    def produce() -> Iterator[Article]:
        for index, article in enumerate(articles):
            if index:
                assert articles[index - 1].pmid in out.getvalue(), "record held back"
            yield article

    assert write(produce(), fmt, out, PROVENANCE) == len(articles)


def test_md_delegates_to_the_digest() -> None:
    text, count = _export("md")
    assert count == 4
    assert text.startswith("# ")
    assert "https://pubmed.ncbi.nlm.nih.gov/15461571/" in text


def test_provenance_defaults_to_now_and_this_version() -> None:
    provenance = Provenance(command="search", inputs=("interleukin-2 cancer",))
    assert provenance.created.tzinfo is not None
    assert provenance.tool_version == export._tool_version() != ""


# --- the real seed records, once the parser and data/seeds/seeds.xml exist --------------------

SEEDS_XML = Path(__file__).resolve().parents[1] / "data" / "seeds" / "seeds.xml"
SEED_PMIDS = ["15461571", "15627015", "2215513"]


def real_seeds() -> list[Article]:
    if importlib.util.find_spec("cytoreview.parse") is None:
        pytest.skip("cytoreview.parse has not landed yet")
    if not SEEDS_XML.exists():
        pytest.skip(f"{SEEDS_XML} has not landed yet")
    from cytoreview import parse, roles

    articles = [roles.annotate(a) for a in parse.parse_bytes(SEEDS_XML.read_bytes())]
    by_pmid = {a.pmid: a for a in articles}
    assert set(SEED_PMIDS) <= set(by_pmid), "the seed file lacks a seed PMID"
    return [by_pmid[p] for p in SEED_PMIDS]


def test_real_seeds_round_trip_through_csv_ris_and_bibtex() -> None:
    articles = real_seeds()
    assert articles[0].title.startswith("Human cancer gene therapy")

    rows = list(csv.DictReader(io.StringIO(_export("csv", articles)[0].lstrip("\ufeff"))))
    ris = rispy.loads(_export("ris", articles)[0])
    bib = _bibtex_library(_export("bibtex", articles)[0], decode=True).entries
    assert len(rows) == len(ris) == len(bib) == 3
    for article, row, entry, bib_entry in zip(articles, rows, ris, bib, strict=True):
        bf = {k: v.value for k, v in bib_entry.fields_dict.items()}
        for got in (row["title"], entry["title"], bf["title"]):
            assert got == " ".join(article.title.split())
        assert row["pmid"] == entry["accession_number"] == bf["pmid"] == article.pmid
        assert row["year"] == entry["year"] == bf["year"] == str(article.year)
        assert row["journal"] == entry["secondary_title"] == bf["journal"] == article.journal
        assert row["volume"] == entry["volume"] == bf["volume"] == article.volume
        assert row["issue"] == entry["number"] == bf["number"] == article.issue
        assert row["pages"] == article.pages
        assert (row["doi"] or None) == entry.get("doi") == bf.get("doi") == article.doi
        assert row["authors"].split("; ") == [a.name for a in article.authors]
        surnames = [a.last_name or a.collective_name for a in article.authors]
        assert [n.split(",")[0] for n in entry["authors"]] == surnames
        assert [n.split(",")[0] for n in _names(bib_entry)] == surnames
    wysocki, eklund, parkinson = ris
    assert (wysocki["start_page"], wysocki["end_page"]) == ("1595", "1607")
    assert (eklund["start_page"], eklund["end_page"]) == ("542", "546")
    assert (parkinson["start_page"], parkinson["end_page"]) == ("242", "252")
    assert wysocki["doi"] == "10.1517/14712598.4.10.1595"
    assert [e.key for e in bib] == ["wysocki2004human", "eklund2004review", "parkinson1990lessons"]


def test_real_seeds_digest_renders_with_their_summaries() -> None:
    from markdown_it import MarkdownIt

    articles = real_seeds()
    markdown, count = _export("md", articles)
    html = MarkdownIt("commonmark").enable("table").render(markdown)
    assert count == 3 and html.count("<tr>") == 4  # header + three articles
    eklund = articles[1]
    assert eklund.summary.purpose and eklund.summary.purpose.split(".")[0] in html
    assert "https://doi.org/10.1097/01.cco.0000142070.45097.68" in html


@pytest.mark.parametrize("fmt", ["json", "md"])
def test_ctrl_c_while_records_arrive_keeps_a_valid_file_of_what_arrived(fmt: str) -> None:
    def interrupted() -> Iterator[Article]:
        yield from seed_articles()[:2]
        raise KeyboardInterrupt

    out = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        write(interrupted(), fmt, out, PROVENANCE)
    if fmt == "json":
        assert [r["pmid"] for r in json.loads(out.getvalue())] == ["15461571", "15627015"]
    else:
        assert "2 articles" in out.getvalue() and "15627015" in out.getvalue()


# Everything pylatexenc can decode back (it does not know \textasciicircum or \textbraceleft).
_BIB_PIECES = [*"ab Z &%$#_~<>|`\\\"'-.,:;/()[]@!?*", "α", "Δ", "é", "Ü", "ø", "ß", "中", "{x}"]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_BIB_PIECES), max_size=25).map("".join).filter(str.strip))
def test_any_title_survives_bibtex_and_latex_decoding(title: str) -> None:
    article = Article(pmid="1", title=title, journal=title, year=2000)
    text, _ = _export("bibtex", [article])
    entry = _bibtex_library(text, decode=True).entries[0]
    expected = " ".join(title.split())
    assert entry.fields_dict["title"].value.strip() == expected
    assert entry.fields_dict["journal"].value.strip() == expected


def _fixture_records() -> list[Article]:
    from cytoreview.localfiles import parse_file

    root = Path(__file__).parent / "fixtures" / "xml"
    return [a for name in ("pubmed20n0014_cases.xml", "pubmed21n1298_cases.xml",
                           "book_article.xml")
            for a in parse_file(str(root / name), roles=True).articles]


def test_book_chapter_is_cited_as_a_chapter_of_its_book() -> None:
    (chapter,) = [a for a in _fixture_records() if a.record_type == "book"]
    (entry,) = rispy.loads(_export("ris", [chapter])[0])
    assert entry["type_of_reference"] == "CHAP"
    assert (entry["title"], entry["secondary_title"]) == ("Example Syndrome", "Test Reviews®")
    assert entry["publisher"] == "University of Nowhere"
    # ED, not A2: Zotero reads A2 of a whole book as its series editor; ED is the editor for
    # every type in Zotero and EndNote (rispy, on the 2011 tag list, leaves it unmapped).
    assert entry["unknown_tag"]["ED"] == ["Editor, Erin"]
    assert entry["place_published"] == "Springfield"
    assert entry["authors"] == ["Writer, Wendy A"]
    (bib,) = _bibtex_library(_export("bibtex", [chapter])[0], decode=True).entries
    assert bib.entry_type == "incollection"
    assert bib.fields_dict["booktitle"].value == "Test Reviews®"
    assert bib.fields_dict["publisher"].value == "University of Nowhere"
    assert bib.fields_dict["editor"].value == ["Editor, Erin"]
    assert bib.fields_dict["address"].value == "Springfield"
    record = chapter.to_dict()
    assert (record["editors"], record["publisher_location"]) == (["Editor E"], "Springfield")
    assert [(e["last_name"], e["fore_name"]) for e in record["editor_details"]] == [
        ("Editor", "Erin")]
    # A whole book (its title is the book's) stays a book.
    whole = Article(pmid="2", title="Test Reviews", record_type="book", book_title="Test Reviews")
    assert rispy.loads(_export("ris", [whole])[0])[0]["type_of_reference"] == "BOOK"


def test_json_and_json_lines_carry_every_character_of_to_dict() -> None:
    # JSON is rendered by orjson: indented it must stay byte for byte what json.dumps writes,
    # and a JSON line must be one line that reads back as to_dict, non-ASCII kept as it is.
    odd = Article(
        pmid="1", title='Quotes " and \\ backslash\tand\ncontrol \x01 IFN-\u03b1 \U0001f600',
        year=None, authors=(Author(collective_name="Group \u00e9"), Author(last_name="O'Neil")),
        mesh_headings=(MeshHeading("Humans", None, True),),
        sentences=(Sentence(0, 1, "findings", 1 / 3, "model"), Sentence(1, 2, "purpose", 1, "nlm")),
        sections=(Section(None, None, "", 0, 0),), retracted=True, record_type="book",
    )
    records = [*_fixture_records(), odd]
    assert any(a.sentences for a in records)
    for article in records:
        line = export.render_records([article], "jsonl").decode("utf-8")
        assert line.endswith("\n") and line.count("\n") == 1
        record = json.loads(line)
        assert record == article.to_dict()
        # Nested records are written by orjson from the dataclasses themselves: their keys
        # and values must still be the documented ones.
        assert record["title"] == article.title
        assert record["authors"] == [a.name for a in article.authors]
        assert record["sentences"] == [
            {"start": s.start, "end": s.end, "role": s.role, "confidence": s.confidence,
             "source": s.source, "label": s.label} for s in article.sentences
        ]
        assert record["mesh_headings"] == [
            {"descriptor": h.descriptor, "ui": h.ui, "major_topic": h.major_topic,
             "qualifiers": [{"name": q.name, "ui": q.ui, "major_topic": q.major_topic}
                            for q in h.qualifiers]}
            for h in article.mesh_headings
        ]
        assert record["sections"] == [
            {"label": x.label, "category": x.category, "text": x.text, "start": x.start,
             "end": x.end} for x in article.sections
        ]
        assert record["chemicals"] == [
            {"name": c.name, "ui": c.ui, "registry_number": c.registry_number}
            for c in article.chemicals
        ]
        assert record["other_abstracts"] == [
            {"type": o.type, "language": o.language, "text": o.text}
            for o in article.other_abstracts
        ]
        assert record["comments_corrections"] == [
            {"ref_type": c.ref_type, "ref_source": c.ref_source, "pmid": c.pmid}
            for c in article.comments_corrections
        ]
        pretty = json.dumps(article.to_dict(), ensure_ascii=False, indent=2)
        assert export.render_records([article], "json").decode("utf-8") == \
            "\n  " + pretty.replace("\n", "\n  ")
    line = export.render_records([odd], "jsonl").decode("utf-8")
    assert "IFN-\u03b1 \U0001f600" in line and "Group \u00e9" in line


# The nested JSON objects of INTERFACE.md and the README, key for key and in order. orjson
# writes the dataclasses field by field, so renaming or reordering a field would change them.
NESTED_KEYS = {
    Sentence: ["start", "end", "role", "confidence", "source", "label"],
    MeshHeading: ["descriptor", "ui", "major_topic", "qualifiers"],
    MeshQualifier: ["name", "ui", "major_topic"],
    Section: ["label", "category", "text", "start", "end"],
    Chemical: ["name", "ui", "registry_number"],
    OtherAbstract: ["type", "language", "text"],
    CommentCorrection: ["ref_type", "ref_source", "pmid"],
}


@pytest.mark.parametrize("cls", list(NESTED_KEYS), ids=lambda c: c.__name__)
def test_nested_records_are_written_with_the_documented_keys(cls: type) -> None:
    values = {f.name: f"v{i}" for i, f in enumerate(dataclasses.fields(cls))}
    assert list(json.loads(orjson.dumps(cls(**values)))) == NESTED_KEYS[cls]


def test_records_built_with_numpy_floats_are_written() -> None:
    # A library caller may fill confidences from numpy arrays: json.dumps took them as floats.
    import numpy as np

    article = Article(pmid="1", title="T", abstract="A b.",
                      sentences=(Sentence(0, 4, "findings", np.float64(0.93), "model"),))
    for fmt in ("json", "jsonl"):
        text = export.render_records([article], fmt).decode("utf-8")
        assert json.loads(text)["sentences"][0]["confidence"] == 0.93


def test_a_terminal_sees_each_json_line_as_soon_as_it_is_written() -> None:
    import os
    import pty
    import select

    master, slave = pty.openpty()
    # What Python makes of stdout on a terminal: a line-buffered text layer over a buffer.
    terminal = io.TextIOWrapper(io.BufferedWriter(io.FileIO(slave, "w")), encoding="utf-8",
                                line_buffering=True)
    records = list(_fixture_records())[:2]
    shown: list[bool] = []

    def chunks() -> Iterator[tuple[bytes, int]]:
        for article in records:
            yield export.render_records([article], "jsonl"), 1
            # Before the next record is rendered, the terminal already has this one.
            shown.append(bool(select.select([master], [], [], 1)[0]))
            if shown[-1]:
                os.read(master, 1 << 20)

    try:
        assert export.write_rendered(chunks(), "jsonl", terminal) == 2
    finally:
        terminal.close()
        os.close(master)
    assert shown == [True, True]


def test_csv_redirected_to_a_file_starts_with_a_bom_and_a_pipe_gets_none(
        tmp_path: Path) -> None:
    # `cytoreview parse ... -f csv > x.csv` had no BOM (only -o did): Excel then read
    # "IFN-α" as "IFN-Î±".
    import subprocess
    import sys

    command = [sys.executable, "-m", "cytoreview", "parse", str(SEEDS_XML), "-f", "csv",
               "--no-roles"]
    target = tmp_path / "x.csv"
    with target.open("wb") as handle:
        subprocess.run(command, stdout=handle, check=True, timeout=120)
    assert target.read_bytes().startswith(b"\xef\xbb\xbfpmid,")
    piped = subprocess.run(command, capture_output=True, check=True, timeout=120)
    assert piped.stdout.startswith(b"pmid,")
