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
#: Below this many columns views stack their parts instead of laying them side by side.
NARROW = 60
#: Below this many columns the overview drops its year and first-author columns.
MEDIUM = 80
#: Charts say something only for a set of articles.
CHARTS_MIN = 10


def authors_line(article: Article, limit: int = MAX_AUTHORS) -> str:
    names = [a.name for a in article.authors]
    if len(names) > limit:
        return ", ".join(names[: limit - 1]) + f", … {names[-1]} ({len(names)} authors)"
    return ", ".join(names)


def role_source(article: Article) -> str:
    """Where the roles came from, in words a reviewer understands."""
    if not article.abstract:
        return "no abstract"
    sources = {s.source for s in article.sentences}
    if not sources:
        return "not assigned (--no-roles)"
    if sources == {"nlm"}:
        return "the abstract's own section labels (NLM categories)"
    if sources == {"model"}:
        from .roles import using_model

        kind = "trained model" if using_model() else "cue-phrase baseline"
        # Labels NLM could not map (UNASSIGNED, or no category) are no help to the reader.
        why = ("its section labels have no NLM category" if any(s.label for s in article.sentences)
               else "the abstract has no section labels")
        return f"predicted by cytoreview's {kind} ({why})"
    return "section labels where present, predicted for the unlabelled sections"


def _header(article: Article) -> Text:
    text = Text()
    if article.retracted:
        text.append(" RETRACTED ", style="bold white on red")
        text.append("  this article has been retracted\n\n", style="bold red")
    text.append(article.display_title or "(no title)", style="bold")
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


def _role_rows(article: Article, all_roles: bool) -> list[tuple[str, Text]]:
    roles = (("background", "purpose", "methods", "findings", "conclusions") if all_roles
             else ("purpose", "findings", "conclusions"))
    rows = []
    for role in roles:
        body = getattr(article.summary, role)
        rows.append((role, Text(body) if body else Text("—", style="dim")))
    return rows


def _role_table(article: Article, all_roles: bool, width: int) -> RenderableType:
    rows = _role_rows(article, all_roles)
    if width < NARROW:
        # Too narrow for a 12-column label beside the text: stack them.
        return Group(*(Text.assemble("\n", (ROLE_TITLE[role], f"bold {ROLE_STYLE[role]}"),
                                     "\n", cell) for role, cell in rows))
    table = Table(box=box.SIMPLE_HEAD, show_header=False, expand=True, padding=(0, 1))
    table.add_column("role", style="bold", no_wrap=True, width=12)
    # fold, not the default ellipsis: a long regimen or URL must wrap, never lose characters.
    table.add_column("text", ratio=1, overflow="fold")
    for role, cell in rows:
        table.add_row(Text(ROLE_TITLE[role], style=ROLE_STYLE[role]), cell)
    return table


def article_view(article: Article, *, all_roles: bool = False,
                 width: int = 100) -> RenderableType:
    """The single-article view: header, role table and where the roles came from."""
    parts: list[RenderableType] = [_header(article)]
    if article.abstract and not article.sentences:
        parts.append(Text.assemble("\n", Text(article.abstract, overflow="fold")))
        parts.append(Text(f"\nRoles: {role_source(article)}.", style="dim"))
    elif article.abstract:
        parts.append(_role_table(article, all_roles, width))
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


def _key_finding(article: Article) -> Text:
    finding = (article.summary.key_findings or article.summary.key_conclusions
               or article.summary.key_purpose)
    return Text(finding) if finding else Text("—", style="dim")


def _title(article: Article) -> Text:
    if article.retracted:
        return Text.assemble(("RETRACTED ", "bold red"), article.display_title)
    return Text(article.display_title)


def overview(articles: Sequence[Article], width: int = 100) -> RenderableType:
    """One row per article: the compact batch view, with the key sentence per role.

    Below :data:`NARROW` columns a table would leave a few letters per line, so each article
    becomes a short stacked entry instead; below :data:`MEDIUM` the year and first author go.
    """
    if width < NARROW:
        entries = []
        for article in articles:
            # Assembled: a style given to Text() itself would run on into the year.
            head = Text.assemble((article.pmid, f"bold link {article.pubmed_url}"))
            if article.year:
                head.append(f" · {article.year}", style="dim")
            entries.append(Text.assemble(head, "\n", _title(article), "\n",
                                         _key_finding(article), "\n"))
        return Group(*entries)
    table = Table(box=box.SIMPLE_HEAD, expand=True, show_lines=False)
    # A PMID is what the reader copies: never wrapped or cut.
    table.add_column("PMID", no_wrap=True, min_width=8)
    medium = width >= MEDIUM
    if medium:
        table.add_column("Year", no_wrap=True, min_width=4)
        table.add_column("First author", no_wrap=True, max_width=18)
    table.add_column("Title", ratio=2, overflow="fold")
    table.add_column("Key finding", ratio=3, overflow="fold")
    for article in articles:
        pmid = Text(article.pmid, style=f"link {article.pubmed_url}")
        if medium:
            # Text, not str: a name like "[/]Roe" is data, never Rich markup.
            first = Text(article.authors[0].name if article.authors else "")
            table.add_row(pmid, str(article.year or ""), first, _title(article),
                          _key_finding(article))
        else:
            table.add_row(pmid, _title(article), _key_finding(article))
    return table


def show(
    articles: Sequence[Article],
    console: Console,
    *,
    full: bool = False,
    all_roles: bool = False,
) -> None:
    """One article, or ``full``: every article in full; otherwise the overview and charts.
    ``all_roles`` asks for each article's Background and Methods, so it implies ``full``."""
    if not articles:
        return
    if len(articles) <= FULL_VIEW_MAX or full or all_roles:
        for article in articles:
            console.print(article_view(article, all_roles=all_roles, width=console.width))
        return
    console.print(overview(articles, width=console.width))
    if len(articles) >= CHARTS_MIN:
        from .charts import mesh_chart, year_chart

        console.print(year_chart(articles))
        console.print(mesh_chart(articles))
    console.print(Text(f"{len(articles)} articles. --full shows each one with its Purpose, "
                       "Findings and Conclusions.", style="dim"))
