"""The Markdown digest: what a reviewer pastes into a draft, a lab wiki or a GitHub issue.

Layout: title and provenance, an overview table, charts (for two or more articles), one section
per article, and NCBI's data note. The charts are Mermaid ``xychart-beta`` code blocks: GitHub
renders them in place, other viewers show the readable chart source, and the digest stays one
self-contained file (no SVGs to keep next to it).

Every piece of record text goes through :func:`inline`, so a title or abstract can neither break
the table nor inject markup, links, HTML or GitHub mentions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import timezone
from typing import TYPE_CHECKING, TextIO
from urllib.parse import quote

from cytoreview.charts import Tally, mesh_counts, year_counts
from cytoreview.model import Article, Sentence

if TYPE_CHECKING:
    from cytoreview.export import Provenance

NCBI_NOTE = (
    "Data from PubMed, courtesy of the U.S. National Library of Medicine (NLM). NLM does not "
    "endorse or verify this digest; the records are as NLM supplied them when the digest was "
    "made and may have changed since. Abstracts may be copyrighted by their publishers. Purpose, "
    "findings and conclusions are sentences of each abstract selected by its section labels or "
    "by cytoreview's model, not a reading of the full text: check the article before citing it."
)

#: Inputs listed in the provenance line before the rest is summarised as a count: a ``parse``
#: of a baseline file may come from thousands of IDs, and nobody reads that list in a header.
MAX_LISTED_INPUTS = 20
MAX_CITED_AUTHORS = 6
MESH_TOP = 10

# ASCII characters that start or end Markdown/GFM constructs anywhere in a line: emphasis,
# code, links, raw HTML, tables, strikethrough, headings, math ($ on GitHub), mentions (@).
_SPECIAL = re.compile(r"([\\`*_\[\]<>|~#$@!])")
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")
_SPACE = re.compile(r"\s+")
# What CommonMark lets an autolink hold (no spaces, no < >), less what GFM reads as a table
# cell border ("|") or what rarely ends a URL in prose.
_URL = re.compile(r"https?://[^\s<>|\"`\[\]{}\\^]+")
# Constructs that only count at the start of a block: lists, setext underlines, thematic breaks.
_BLOCK_START = re.compile(r"^(\d+)([.)])|^([-+=])")


def inline(text: str | None) -> str:
    """``text`` as literal Markdown inline content, on one line (safe in a table cell)."""
    if not text:
        return ""
    flat = _SPACE.sub(" ", text).strip()
    if "://" not in flat:
        return _escape(flat)
    # A URL in the text becomes an autolink, where backslash escapes are not read: escaped
    # ("TT\\_and\\_TCP") it showed the backslashes and linked to a page that is not there.
    out, pos = [], 0
    for match in _URL.finditer(flat):
        url = _trim_url(match.group())
        out += [_escape(flat[pos : match.start()]), f"<{url}>"]
        pos = match.start() + len(url)
    out.append(_escape(flat[pos:]))
    return "".join(out)


def _escape(text: str) -> str:
    return _ENTITY.sub(r"\\&", _SPECIAL.sub(r"\\\1", text))


def _trim_url(url: str) -> str:
    """Sentence punctuation after a URL is not part of it; nor is a closing parenthesis
    that has no opening one inside it ("(see https://x.org/a)")."""
    while url and (url[-1] in ".,;:!?'*" or (url[-1] == ")" and url.count("(") < url.count(")"))):
        url = url[:-1]
    return url


def block_start(escaped: str) -> str:
    """Escaped inline text made safe to open a paragraph, where ``1.`` or ``-`` start a list."""
    return _BLOCK_START.sub(lambda m: f"{m[1]}\\{m[2]}" if m[1] else f"\\{m[3]}", escaped, 1)


def link(text: str, url: str) -> str:
    # Angle brackets allow parentheses in the destination; what they cannot hold (spaces, <>,
    # and | which GFM splits table cells on before it sees links) is percent-encoded.
    safe_url = re.sub(r"[\s<>|\\]", lambda m: quote(m[0], safe=""), url)
    # Link text is escaped, never autolinked: a link inside a link is no link at all.
    return f"[{_escape(_SPACE.sub(' ', text).strip())}](<{safe_url}>)"


def doi_url(doi: str) -> str:
    # '#', '?' and '%' are legal in DOIs but would be read as URL syntax by doi.org.
    return "https://doi.org/" + quote(doi, safe="/:;()._-~")


def _mermaid_label(text: str) -> str:
    # Mermaid strings have no escape syntax; quotes, backticks and '#' (entity codes) are
    # replaced so a label can neither end its string nor close the code fence.
    return _SPACE.sub(" ", re.sub(r"[\"`#;]", "'", text)).strip()


def mermaid_bar_chart(tally: Tally, title: str, axis: str, horizontal: bool = False) -> str:
    labels = ", ".join(f'"{_mermaid_label(name)}"' for name, _ in tally.bars)
    values = ", ".join(str(count) for _, count in tally.bars)
    top = max(count for _, count in tally.bars)
    return "\n".join(
        [
            "```mermaid",
            "xychart-beta" + (" horizontal" if horizontal else ""),
            f'    title "{_mermaid_label(title)}"',
            f"    x-axis [{labels}]",
            f'    y-axis "{_mermaid_label(axis)}" 0 --> {top}',
            f"    bar [{values}]",
            "```",
        ]
    )


def first_author(article: Article) -> str:
    if not article.authors:
        return ""
    name = article.authors[0].name
    return f"{name} et al." if len(article.authors) > 1 else name


def citation(article: Article) -> str:
    """A Vancouver-style citation line (as PubMed shows it), already escaped."""
    names = [a.name for a in article.authors[:MAX_CITED_AUTHORS]]
    if len(article.authors) > MAX_CITED_AUTHORS:
        names.append("et al")
    parts = []
    if names:
        parts.append(inline(", ".join(names)) + ".")
    title = article.display_title.strip()
    parts.append(inline(title) + ("" if title.endswith((".", "?", "!")) else "."))
    journal = article.journal_iso or article.container
    if journal:
        parts.append(f"*{inline(journal)}*.")
    where = str(article.year) if article.year is not None else ""
    if article.volume:
        where += f";{article.volume}"
    if article.issue:
        where += f"({article.issue})"
    if article.pages:
        where += f":{article.pages}"
    if where:
        parts.append(inline(where.lstrip(";")) + ".")
    return block_start(" ".join(parts))


def _role_source(sentences: Sequence[Sentence], fallback: str) -> str:
    if not sentences:
        return {"nlm": "NLM section label", "model": "predicted"}.get(fallback, "")
    sources = {s.source for s in sentences}
    if sources == {"nlm"}:
        return "NLM section label"
    confidence = sum(s.confidence for s in sentences) / len(sentences)
    kind = "predicted" if sources == {"model"} else "NLM label and predicted"
    return f"{kind}, confidence {confidence:.2f}"


def _article_section(number: int, article: Article) -> list[str]:
    heading = inline(article.display_title) or "(untitled)"
    if article.retracted:
        heading = "RETRACTED: " + heading
    lines = [f"## {number}. {heading}", ""]
    if article.retracted:
        lines += [
            "> [!WARNING]",
            "> **This article has been retracted.** Do not cite its findings without reading "
            "the retraction notice linked from PubMed.",
            "",
        ]
    lines += [citation(article), ""]
    links = [link(f"PubMed {article.pmid}", article.pubmed_url)]
    if article.doi:
        links.append(link(f"doi:{article.doi}", doi_url(article.doi)))
    if article.pmcid:
        links.append(link(article.pmcid, f"https://pmc.ncbi.nlm.nih.gov/articles/{article.pmcid}/"))
    lines += [" · ".join(links), ""]
    if article.publication_types:
        lines += [f"**Publication types:** {inline('; '.join(article.publication_types))}", ""]
    summary = article.summary
    if not article.abstract:
        lines += ["*No abstract in PubMed.*", ""]
    elif not article.sentences:
        # Roles were skipped (--no-roles): the abstract itself, not "not stated" three times.
        lines += [f"**Abstract** (roles not assigned): {inline(article.abstract)}", ""]
    for label, role, text in (
        ("Purpose", "purpose", summary.purpose),
        ("Findings", "findings", summary.findings),
        ("Conclusions", "conclusions", summary.conclusions),
    ):
        if not article.sentences:
            break
        if not text:
            lines += [f"**{label}:** *not stated in the abstract*", ""]
            continue
        of_role = [s for s in article.sentences if s.role == role]
        source = _role_source(of_role, summary.source)
        tag = f" ({source})" if source else ""
        lines += [f"**{label}**{tag}: {inline(text)}", ""]
    if article.mesh_terms:
        lines += [f"**MeSH terms:** {inline('; '.join(article.mesh_terms))}", ""]
    if article.keywords:
        lines += [f"**Keywords:** {inline('; '.join(article.keywords))}", ""]
    return lines


def _overview(articles: Sequence[Article]) -> list[str]:
    lines = [
        "| # | Year | First author | Title | Key finding | PubMed |",
        "|---:|---:|---|---|---|---|",
    ]
    for number, article in enumerate(articles, 1):
        title = inline(article.display_title)
        if article.retracted:
            title = "**RETRACTED:** " + title
        finding = inline(article.summary.key_findings) or "–"
        year = str(article.year) if article.year is not None else "–"
        pubmed = link(article.pmid, article.pubmed_url)
        lines.append(
            f"| {number} | {year} | {inline(first_author(article)) or '–'} | {title} "
            f"| {finding} | {pubmed} |"
        )
    return lines


def _provenance(provenance: Provenance, count: int) -> str:
    created = provenance.created.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    inputs = list(provenance.inputs[:MAX_LISTED_INPUTS])
    listed = ", ".join(inline(i) for i in inputs) or "no inputs"
    if len(provenance.inputs) > MAX_LISTED_INPUTS:
        listed += f" and {len(provenance.inputs) - MAX_LISTED_INPUTS} more"
    noun = "article" if count == 1 else "articles"
    return (
        f"{count} {noun}, made on {created} by cytoreview {inline(provenance.tool_version)} "
        f"with the {inline(provenance.command)} command from: {listed}."
    )


def render(articles: Iterable[Article], provenance: Provenance, title: str | None = None) -> str:
    """The whole digest as one Markdown string."""
    items = list(articles)
    lines = [f"# {inline(title) if title else 'Literature digest'}", ""]
    lines += [_provenance(provenance, len(items)), ""]
    if not items:
        lines += ["No articles.", ""]
    else:
        lines += ["## Overview", "", *_overview(items), ""]
    if len(items) > 1:
        years = year_counts(items)
        mesh = mesh_counts(items, MESH_TOP)
        if not years.empty or not mesh.empty:
            lines += ["## Charts", ""]
        if not years.empty:
            lines += [mermaid_bar_chart(years, "Publications per year", "Articles"), ""]
            if years.missing:
                lines += [f"{years.missing} of {years.articles} articles have no year.", ""]
        if not mesh.empty:
            chart = mermaid_bar_chart(
                mesh, f"Most frequent MeSH descriptors (top {MESH_TOP})", "Articles", True
            )
            lines += [chart, ""]
    for number, article in enumerate(items, 1):
        lines += _article_section(number, article)
    lines += ["---", "", f"*{inline(NCBI_NOTE)}*", ""]
    return "\n".join(lines)


def write(
    articles: Iterable[Article], out: TextIO, provenance: Provenance, title: str | None = None
) -> int:
    """Write the digest to ``out``; returns the number of articles in it.

    On Ctrl-C while the articles are still arriving, the digest of those that arrived is
    written before the interrupt goes on, as the CLI promises to keep what was fetched."""
    items: list[Article] = []
    try:
        items.extend(articles)
    except KeyboardInterrupt:
        out.write(render(items, provenance, title))
        raise
    out.write(render(items, provenance, title))
    return len(items)
