"""Rich views for a person: one article in full, or an overview of many.

Everything here takes a :class:`rich.console.Console` and reads :class:`~cytoreview.model.Article`
objects; nothing parses or fetches.
"""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console, Group, RenderableType
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from .model import Article

ROLE_STYLE = {
    "background": "bright_black",
    "purpose": "cyan",
    "methods": "magenta",
    "findings": "green",
    "conclusions": "yellow",
}
ROLE_TITLE = {
    "background": "Background",
    "purpose": "Purpose",
    "methods": "Methods",
    "findings": "Findings",
    "conclusions": "Conclusions",
}
MAX_AUTHORS = 6
#: Up to this many articles are shown in full; more get the overview table.
FULL_VIEW_MAX = 3
#: Charts say something only for a set of articles.
CHARTS_MIN = 10


def authors_line(article: Article, limit: int = MAX_AUTHORS) -> str:
    names = [a.name for a in article.authors]
    if len(names) > limit:
        return ", ".join(names[: limit - 1]) + f", … {names[-1]} ({len(names)} authors)"
    return ", ".join(names)


def role_source(article: Article) -> str:
    """Where the roles came from, in words a reviewer understands."""
    sources = {s.source for s in article.sentences}
    if not sources:
        return "no abstract"
    if sources == {"nlm"}:
        return "the abstract's own section labels (NLM categories)"
    if sources == {"model"}:
        from .roles import using_model

        kind = "trained model" if using_model() else "cue-phrase baseline"
        return f"predicted by cytoreview's {kind} (the abstract has no section labels)"
    return "section labels where present, predicted for the unlabelled sections"


def _header(article: Article) -> Text:
    text = Text()
    if article.retracted:
        text.append(" RETRACTED ", style="bold white on red")
        text.append("  this article has been retracted\n\n", style="bold red")
    text.append(article.title or "(no title)", style="bold")
    text.append("\n")
    if article.authors:
        text.append(authors_line(article) + "\n", style="italic")
    journal = " · ".join(p for p in (article.container or article.journal_iso,
                                      article.pub_date or (str(article.year)
                                                           if article.year else None))
                         if p)
    if journal:
        text.append(journal + "\n")
    text.append("PMID ", style="dim")
    text.append(article.pmid, style=f"link {article.pubmed_url}")
    if article.doi:
        text.append("   DOI ", style="dim")
        text.append(article.doi, style=f"link {article.doi_url}")
    if article.pmcid:
        text.append(f"   {article.pmcid}", style="dim")
    if article.publication_types:
        text.append("\n" + " · ".join(article.publication_types), style="dim")
    return text


def _role_table(article: Article, all_roles: bool) -> Table:
    roles = (("background", "purpose", "methods", "findings", "conclusions") if all_roles
             else ("purpose", "findings", "conclusions"))
    table = Table(box=box.SIMPLE_HEAD, show_header=False, expand=True, padding=(0, 1))
    table.add_column("role", style="bold", no_wrap=True, width=12)
    table.add_column("text", ratio=1)
    summary = article.summary
    for role in roles:
        body = getattr(summary, role)
        cell = Text(body) if body else Text("—", style="dim")
        table.add_row(Text(ROLE_TITLE[role], style=ROLE_STYLE[role]), cell)
    return table


def article_view(article: Article, *, all_roles: bool = False) -> RenderableType:
    """The single-article view: header, role table and where the roles came from."""
    parts: list[RenderableType] = [_header(article)]
    if article.abstract:
        parts.append(_role_table(article, all_roles))
        low = [s for s in article.sentences if s.source == "model" and s.confidence < 0.5]
        note = f"Roles: {role_source(article)}."
        if low:
            note += f" {len(low)} sentence(s) below 0.5 confidence."
        parts.append(Text(note, style="dim"))
    else:
        parts.append(Text("\nNo abstract in PubMed.", style="dim"))
    border = "red" if article.retracted else "blue"
    return Panel(Group(*parts), border_style=border, title=f"PMID {article.pmid}",
                 title_align="left")


def overview(articles: Sequence[Article]) -> Table:
    """One row per article: the compact batch view, with the key sentence per role."""
    table = Table(box=box.SIMPLE_HEAD, expand=True, show_lines=False)
    table.add_column("PMID", no_wrap=True)
    table.add_column("Year", no_wrap=True)
    table.add_column("First author", no_wrap=True, max_width=18)
    table.add_column("Title", ratio=2)
    table.add_column("Key finding", ratio=3)
    for article in articles:
        title = Text(article.title)
        if article.retracted:
            title = Text.assemble(("RETRACTED ", "bold red"), article.title)
        first = article.authors[0].name if article.authors else ""
        finding = (article.summary.key_findings or article.summary.key_conclusions
                   or article.summary.key_purpose)
        table.add_row(Text(article.pmid, style=f"link {article.pubmed_url}"),
                      str(article.year or ""), first, title,
                      Text(finding) if finding else Text("—", style="dim"))
    return table


def show(
    articles: Sequence[Article],
    console: Console,
    *,
    full: bool = False,
    all_roles: bool = False,
) -> None:
    """One article, or ``full``: every article in full; otherwise the overview and charts."""
    if not articles:
        return
    if len(articles) <= FULL_VIEW_MAX or full:
        for article in articles:
            console.print(article_view(article, all_roles=all_roles))
        return
    console.print(overview(articles))
    if len(articles) >= CHARTS_MIN:
        from .charts import mesh_chart, year_chart

        console.print(year_chart(articles))
        console.print(mesh_chart(articles))
    console.print(Text(f"{len(articles)} articles. --full shows each one with its Purpose, "
                       "Findings and Conclusions.", style="dim"))
