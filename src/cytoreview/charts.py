"""Publications per year and the most frequent MeSH descriptors.

The counting lives here once; :mod:`cytoreview.digest` draws the same counts as Mermaid charts and
this module draws them as Rich bar charts for the terminal (block characters in a table, so no
plotting dependency and it degrades to plain text when piped or with ``NO_COLOR``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rich.console import Console, ConsoleOptions, JustifyMethod, RenderableType, RenderResult
from rich.table import Table
from rich.text import Text

from cytoreview.model import Article

#: More single-year bars than this stop being readable in a terminal or a Mermaid chart, so
#: longer spans are grouped into bins of one of these widths (the smallest that fits).
MAX_BARS = 40
_BIN_WIDTHS = (2, 5, 10, 20, 25, 50, 100)

_EIGHTHS = " ▏▎▍▌▋▊▉"


@dataclass(frozen=True, slots=True)
class Tally:
    """Bars in display order, plus how many articles had nothing to count."""

    bars: tuple[tuple[str, int], ...]
    articles: int
    missing: int

    @property
    def empty(self) -> bool:
        return not self.bars


def year_counts(articles: Iterable[Article]) -> Tally:
    """Articles per publication year, oldest first, with empty years shown as zero.

    Gaps are filled because a chart that silently skips years misleads about trends; spans
    longer than :data:`MAX_BARS` years are grouped into aligned bins (``1970–1974``).
    """
    counts: Counter[int] = Counter()
    total = missing = 0
    for article in articles:
        total += 1
        if article.year is None:
            missing += 1
        else:
            counts[article.year] += 1
    if not counts:
        return Tally((), total, missing)
    first, last = min(counts), max(counts)
    if last - first + 1 <= MAX_BARS:
        bars = tuple((str(y), counts[y]) for y in range(first, last + 1))
        return Tally(bars, total, missing)
    width = next(
        (w for w in _BIN_WIDTHS if last // w - first // w + 1 <= MAX_BARS), _BIN_WIDTHS[-1]
    )
    binned: list[tuple[str, int]] = []
    for start in range(first // width * width, last + 1, width):
        end = start + width - 1
        binned.append((f"{start}–{end}", sum(counts[y] for y in range(start, end + 1))))
    return Tally(tuple(binned), total, missing)


def mesh_counts(articles: Iterable[Article], top: int = 10) -> Tally:
    """The ``top`` most frequent MeSH descriptors, each counted once per article.

    Ties are broken alphabetically so that the same articles always give the same chart.
    """
    counts: Counter[str] = Counter()
    total = missing = 0
    for article in articles:
        total += 1
        descriptors = set(article.mesh_terms)
        if not descriptors:
            missing += 1
        counts.update(descriptors)
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0].casefold(), item[0]))
    return Tally(tuple(ranked[: max(top, 0)]), total, missing)


def bar(value: int, maximum: int, width: int) -> str:
    """A horizontal bar in eighth-block resolution; any non-zero value shows at least a sliver."""
    if maximum <= 0 or value <= 0:
        return ""
    eighths = max(1, round(value / maximum * width * 8))
    full, rest = divmod(eighths, 8)
    return "█" * full + (_EIGHTHS[rest] if rest else "")


@dataclass(frozen=True, slots=True)
class BarChart:
    """A tally drawn as a table of bars, sized when printed: the bars shrink to fit a narrow
    terminal instead of wrapping or being cut off."""

    tally: Tally
    title: str
    label: str
    note: str
    width: int = 40
    numeric: bool = True

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        if self.tally.empty:
            yield Text(f"{self.title}: nothing to chart ({self.note}).", style="dim")
            return
        maximum = max(count for _, count in self.tally.bars)
        # Cells, not characters: CJK descriptors take two columns each.
        label_width = max(len(self.label), *(Text(n).cell_len for n, _ in self.tally.bars))
        count_width = max(1, len(str(maximum)))
        # Two gaps of two spaces between the three columns (box=None, pad_edge=False).
        width = max(4, min(self.width, options.max_width - label_width - count_width - 4))
        table = Table(
            title=self.title, title_justify="left", box=None, pad_edge=False, show_header=True
        )
        justify: JustifyMethod = "right" if self.numeric else "left"
        table.add_column(self.label, justify=justify, style="bold", no_wrap=True)
        table.add_column("", style="cyan", no_wrap=True, width=width)
        table.add_column("n", justify="right", no_wrap=True, min_width=count_width)
        for name, count in self.tally.bars:
            # Text, not str: a descriptor like "[bold]x" is data, never Rich markup.
            table.add_row(Text(name), bar(count, maximum, width), str(count))
        yield table
        if self.tally.missing:
            missing = f"{self.tally.missing} of {self.tally.articles} {self.note}."
            yield Text(missing, style="dim")


def year_chart(articles: Iterable[Article], width: int = 40) -> RenderableType:
    """Publications per year as a Rich bar chart."""
    tally = year_counts(articles)
    return BarChart(tally, "Publications per year", "Year", "articles have no year", width)


def mesh_chart(articles: Iterable[Article], top: int = 10, width: int = 40) -> RenderableType:
    """The most frequent MeSH descriptors as a Rich bar chart."""
    tally = mesh_counts(articles, top)
    title = f"Most frequent MeSH descriptors (top {top})"
    return BarChart(tally, title, "Descriptor", "articles have no MeSH terms", width, False)
