"""The Markdown digest, rendered to HTML by markdown-it-py as a browser or GitHub would show it.

Rendering uses CommonMark with raw HTML *enabled* plus GFM tables and strikethrough, so any
record text that slipped through unescaped would show up as a tag in the HTML.
"""

from __future__ import annotations

import dataclasses
import gzip
import importlib.util
import itertools
import re
from datetime import datetime, timezone
from html import unescape
from html.parser import HTMLParser
from pathlib import Path
from typing import IO, cast

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from cytoreview import digest
from cytoreview.export import Provenance
from cytoreview.model import Article, Author, MeshHeading, Sentence, Summary

PROVENANCE = Provenance(
    command="search",
    inputs=('"interleukin-2"[MeSH] AND cancer <b>|</b>',),
    created=datetime(2026, 11, 23, 9, 30, tzinfo=timezone.utc),
    tool_version="0.1.0",
)
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "pubmed21n1298.train.xml.gz"
HOSTILE = (
    "<script>alert(1)</script> <img src=x onerror=alert(2)> | cell | `code` *em* _em_ "
    "[link](https://evil.example) ![img](x.png) &lt;b&gt; ~~gone~~ $x^2$ @someone #7 IFN-α"
)
# Tags the digest itself produces; anything else came from a record.
OWN_TAGS = {
    "h1", "h2", "p", "table", "thead", "tbody", "tr", "th", "td", "a", "strong", "em",
    "pre", "code", "blockquote", "hr",
}  # fmt: skip


class _Html(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.body_rows: list[list[str]] = []
        self.code_blocks: list[tuple[str, str]] = []
        self.hrefs: list[str] = []
        self.headings: list[tuple[str, str]] = []
        self._stack: list[tuple[str, dict[str, str | None]]] = []
        self._text: list[str] = []
        self._in_tbody = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        attributes = dict(attrs)
        if tag == "a":
            self.hrefs.append(attributes.get("href") or "")
        if tag == "tbody":
            self._in_tbody = True
        if tag == "tr" and self._in_tbody:
            self.body_rows.append([])
        self._stack.append((tag, attributes))
        self._text.append("")

    def handle_endtag(self, tag: str) -> None:
        opened, attributes = self._stack.pop()
        assert opened == tag, f"unbalanced HTML: <{opened}> closed by </{tag}>"
        text = self._text.pop()
        if self._text:
            self._text[-1] += text
        if tag == "tbody":
            self._in_tbody = False
        if tag == "td" and self._in_tbody:
            self.body_rows[-1].append(text)
        if tag == "code" and attributes.get("class"):
            self.code_blocks.append((attributes["class"] or "", text))
        if tag in ("h1", "h2"):
            self.headings.append((tag, text))

    def handle_data(self, data: str) -> None:
        if self._text:
            self._text[-1] += data


def render_html(markdown: str) -> tuple[str, _Html]:
    html = MarkdownIt("commonmark").enable(["table", "strikethrough"]).render(markdown)
    parsed = _Html()
    parsed.feed(html)
    parsed.close()
    return html, parsed


def _article(pmid: str, year: int | None, title: str = "", **changes: object) -> Article:
    abstract = f"We asked whether IL-2 helps ({pmid}). It did. IL-2 helps."
    base = Article(
        pmid=pmid,
        title=title or f"Interleukin-2 trial {pmid}.",
        abstract=abstract,
        year=year,
        authors=(Author("Wysocki", "Piotr J", "PJ"), Author("Kuzel", "Timothy M", "TM")),
        mesh_headings=(MeshHeading("Humans"), MeshHeading("Interleukin-2")),
        publication_types=("Journal Article",),
        sentences=(
            Sentence(0, 34, "purpose", 0.9, "model"),
            Sentence(35, 42, "findings", 0.7, "model"),
            Sentence(43, 55, "conclusions", 1.0, "nlm", "CONCLUSIONS"),
        ),
        summary=Summary(
            purpose=abstract[0:34],
            findings=abstract[35:42],
            conclusions=abstract[43:55],
            key_findings=abstract[35:42],
            source="mixed",
        ),
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


def hostile_article() -> Article:
    return _article(
        "777",
        2020,
        title="# 1. " + HOSTILE,
        doi="10.1000/x(y)<z>|1",
        journal="J <i>Immunol</i> | *Res*",
        keywords=(HOSTILE,),
        mesh_headings=(MeshHeading('Quote " and `tick` #1;'),),
        retracted=True,
        summary=Summary(purpose="1. " + HOSTILE, findings="- " + HOSTILE, key_findings=HOSTILE),
    )


def test_digest_structure_links_and_escaping() -> None:
    articles = [_article("100", 2019), _article("101", 2021), hostile_article()]
    markdown = digest.render(articles, PROVENANCE)
    html, parsed = render_html(markdown)

    assert set(parsed.tags) <= OWN_TAGS, f"record markup leaked: {set(parsed.tags) - OWN_TAGS}"
    assert "<script>" not in html and "&lt;script&gt;" in html
    # A record's address may be a link, but only one that shows where it goes: "[link](...)"
    # stays text.
    shown = re.findall(r'<a href="([^"]*)">(.*?)</a>', html)
    assert ("https://evil.example", "https://evil.example") in shown
    assert all(text == unescape(href) for href, text in shown if "evil" in href)
    assert [h for h in parsed.headings if h[0] == "h1"] == [("h1", "Literature digest")]
    assert ("h2", "3. RETRACTED: # 1. " + HOSTILE) in parsed.headings

    # The overview table: one row per article, every row the same six cells.
    assert len(parsed.body_rows) == 3
    assert all(len(row) == 6 for row in parsed.body_rows)
    hostile_row = parsed.body_rows[2]
    assert hostile_row[3] == "RETRACTED: # 1. " + HOSTILE
    assert hostile_row[4] == HOSTILE
    assert [row[1] for row in parsed.body_rows] == ["2019", "2021", "2020"]
    assert parsed.body_rows[0][2] == "Wysocki PJ et al."

    # Links a reader clicks.
    for pmid in ("100", "101", "777"):
        assert f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" in parsed.hrefs
    assert "https://doi.org/10.1000/x(y)%3Cz%3E%7C1" in parsed.hrefs

    # Provenance: when, what version, from what (the query shown literally).
    assert "2026-11-23 09:30 UTC" in html and "cytoreview 0.1.0" in html
    assert "&quot;interleukin-2&quot;[MeSH] AND cancer &lt;b&gt;|&lt;/b&gt;" in html

    # Retraction warning, summary, role sources, MeSH, keywords, NCBI note.
    assert "This article has been retracted" in html
    section = html.index("<h2>3. RETRACTED")
    warning = html.index("This article has been retracted")
    assert section < warning < html.index("Purpose", section), "the warning comes first"
    assert html.rfind("<blockquote>", section, warning) > section
    assert "Purpose</strong> (predicted, confidence 0.90): We asked whether IL-2 helps" in html
    assert "Conclusions</strong> (NLM section label): IL-2 helps." in html
    assert "MeSH terms:</strong> Humans; Interleukin-2" in html
    assert "Data from PubMed, courtesy of the U.S. National Library of Medicine" in html
    assert html.rstrip().endswith("</em></p>")

    # GitHub-only syntax that markdown-it does not know: mentions and math stay escaped.
    assert r"\@someone" in markdown and r"\$x^2\$" in markdown


def test_block_markers_at_the_start_of_a_line_stay_text() -> None:
    article = _article("5", 2001, title="1. Not a list", authors=())
    html, _ = render_html(digest.render([article], PROVENANCE))
    assert "<ol" not in html and "<ul" not in html
    assert "1. Not a list. " in html


def test_charts_for_a_set_of_articles_are_mermaid_bar_charts() -> None:
    articles = [_article(str(i), 2000 + i % 3) for i in range(6)] + [_article("9", None)]
    markdown = digest.render(articles, PROVENANCE)
    _, parsed = render_html(markdown)
    mermaid = [text for cls, text in parsed.code_blocks if cls == "language-mermaid"]
    assert len(mermaid) == 2
    years, mesh = mermaid
    assert years.startswith("xychart-beta\n")
    assert 'x-axis ["2000", "2001", "2002"]' in years and "bar [2, 2, 2]" in years
    assert "1 of 7 articles have no year." in markdown
    assert mesh.startswith("xychart-beta horizontal\n")
    assert 'x-axis ["Humans", "Interleukin-2"]' in mesh and "bar [7, 7]" in mesh


def test_mermaid_labels_cannot_end_their_string_or_the_fence() -> None:
    articles = [hostile_article(), hostile_article()]
    markdown = digest.render(articles, PROVENANCE)
    _, parsed = render_html(markdown)
    (mesh,) = [t for c, t in parsed.code_blocks if c == "language-mermaid" and "horizontal" in t]
    label = re.search(r"x-axis \[(.*)\]", mesh)
    assert label is not None and label[1] == "\"Quote ' and 'tick' '1'\""


def test_one_article_has_no_charts_and_no_articles_still_makes_a_valid_digest() -> None:
    _, parsed = render_html(digest.render([_article("1", 2000)], PROVENANCE))
    assert not parsed.code_blocks and len(parsed.body_rows) == 1
    html, parsed = render_html(digest.render([], PROVENANCE))
    assert "No articles." in html and not parsed.body_rows
    assert "National Library of Medicine" in html


def test_long_input_lists_are_summarised_in_the_header() -> None:
    provenance = dataclasses.replace(PROVENANCE, inputs=tuple(str(i) for i in range(1000)))
    markdown = digest.render([], provenance)
    assert "0, 1, 2" in markdown and "and 980 more" in markdown and "999" not in markdown


@pytest.mark.skipif(
    importlib.util.find_spec("cytoreview.parse") is None,
    reason="cytoreview.parse (issue: XML parser) has not landed yet",
)
@pytest.mark.skipif(not SHARED_DATA.exists(), reason=f"{SHARED_DATA} is not available")
def test_digest_of_fifty_real_records_renders_with_table_and_charts() -> None:
    from cytoreview import parse, roles

    with gzip.open(SHARED_DATA, "rb") as stream:
        # GzipFile is a binary stream, but not typed as IO[bytes].
        binary = cast(IO[bytes], stream)
        records = itertools.islice(parse.iter_articles(binary, str(SHARED_DATA)), 50)
        articles = [roles.annotate(a) for a in records]
    assert len(articles) == 50
    markdown = digest.render(articles, Provenance("parse", (str(SHARED_DATA),)))
    _, parsed = render_html(markdown)

    assert len(parsed.body_rows) == 50
    assert all(len(row) == 6 for row in parsed.body_rows)
    assert [row[0] for row in parsed.body_rows] == [str(i) for i in range(1, 51)]
    assert sum(cls == "language-mermaid" for cls, _ in parsed.code_blocks) == 2
    assert set(parsed.tags) <= OWN_TAGS, f"record markup leaked: {set(parsed.tags) - OWN_TAGS}"
    for article in articles:
        assert f"https://pubmed.ncbi.nlm.nih.gov/{article.pmid}/" in parsed.hrefs
    assert len([h for h in parsed.headings if h[0] == "h2"]) == 50 + 2  # + Overview, Charts


# Single characters plus the multi-character sequences that mean something in Markdown/HTML.
_PIECES = [*"ab 1.-+*_`~<>[]()!#|\\&;:/@$=\"'\n\t", "&amp;", "&#60;", "α", "```", "<b>", "1. "]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(_PIECES), max_size=25).map("".join))
def test_any_text_renders_literally_in_a_table_cell_and_a_paragraph(text: str) -> None:
    expected = " ".join(text.split())
    markdown = f"| h |\n|---|\n| {digest.inline(text)} |\n\n**P:** {digest.inline(text)}\n"
    html, parsed = render_html(markdown)
    assert parsed.body_rows == [[expected]]
    assert set(parsed.tags) <= {"table", "thead", "tbody", "tr", "th", "td", "p", "strong"}
    assert f"<strong>P:</strong> {expected}".rstrip() == unescape(
        html.split("<p>", 1)[1].split("</p>", 1)[0]
    )


@pytest.mark.parametrize(
    ("text", "urls"),
    [
        # PMID 32886093: escaped, the link went to TT%5C_and%5C_TCP and showed backslashes.
        ("Code: https://github.com/jmjung83/TT_and_TCP.",
         ["https://github.com/jmjung83/TT_and_TCP"]),
        ("(see https://x.org/saambe_webserver#started) and http://a.org/w_(x)_y, then *b*",
         ["https://x.org/saambe_webserver#started", "http://a.org/w_(x)_y"]),
    ],
)
def test_urls_in_text_are_links_to_themselves(text: str, urls: list[str]) -> None:
    markdown = f"| h |\n|---|\n| {digest.inline(text)} |\n\n{digest.inline(text)}\n"
    _, parsed = render_html(markdown)
    assert parsed.body_rows == [[text]]
    assert parsed.hrefs == urls * 2
    # Link text is never autolinked: a link inside a link is no link.
    _, titled = render_html(digest.link(text, "https://pubmed.ncbi.nlm.nih.gov/1/"))
    assert titled.hrefs == ["https://pubmed.ncbi.nlm.nih.gov/1/"]


def test_no_roles_digest_gives_the_abstract_instead_of_not_stated() -> None:
    from cytoreview.localfiles import parse_file

    seeds = Path(__file__).resolve().parent.parent / "data" / "seeds" / "seeds.xml"
    (eklund,) = [a for a in parse_file(str(seeds), roles=False).articles
                 if a.pmid == "15627015"]
    text = digest.render([eklund], PROVENANCE)
    assert "not stated in the abstract" not in text
    assert "**Abstract** (roles not assigned): " in text
    assert "IL-2 remains a valuable treatment option" in text
