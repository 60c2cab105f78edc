"""Terminal charts and the counts they share with the digest."""

from __future__ import annotations

import io

from rich.console import Console, RenderableType

from cytoreview.charts import bar, mesh_chart, mesh_counts, year_chart, year_counts
from cytoreview.model import Article, MeshHeading


def _article(year: int | None, *mesh: str) -> Article:
    return Article(
        pmid=str(year), title="t", year=year, mesh_headings=tuple(MeshHeading(m) for m in mesh)
    )


def _plain(renderable: RenderableType, width: int = 80) -> str:
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, legacy_windows=False).print(renderable)
    return out.getvalue()


def test_years_are_counted_oldest_first_with_empty_years_shown() -> None:
    tally = year_counts([_article(2004), _article(2001), _article(2004), _article(None)])
    assert tally.bars == (("2001", 1), ("2002", 0), ("2003", 0), ("2004", 2))
    assert (tally.articles, tally.missing) == (4, 1)


def test_long_spans_are_binned_so_the_chart_stays_readable() -> None:
    tally = year_counts([_article(1950), _article(1953), _article(2021)])
    assert len(tally.bars) <= 40
    assert tally.bars[0] == ("1950–1951", 1) and tally.bars[1] == ("1952–1953", 1)
    assert tally.bars[-1] == ("2020–2021", 1)
    assert sum(count for _, count in tally.bars) == 3
    wide = year_counts([_article(1800), _article(2024)])
    assert len(wide.bars) <= 40 and wide.bars[0][0] == "1800–1809"


def test_mesh_descriptors_count_once_per_article_ties_alphabetical() -> None:
    articles = [
        _article(2000, "Humans", "Interleukin-2", "Humans"),
        _article(2001, "Interleukin-2", "Melanoma"),
        _article(2002, "Animals"),
        _article(2003),
    ]
    tally = mesh_counts(articles, top=3)
    assert tally.bars == (("Interleukin-2", 2), ("Animals", 1), ("Humans", 1))
    assert tally.missing == 1


def test_bars_scale_to_the_largest_value_in_eighths() -> None:
    assert bar(10, 10, 4) == "████"
    assert bar(5, 10, 4) == "██"
    assert bar(8, 80, 10) == "█"
    assert bar(3, 8, 1) == "▍"
    assert bar(1, 1000, 10) == "▏", "a non-zero count never disappears"
    assert bar(0, 10, 4) == ""


def test_year_chart_shows_each_year_with_a_proportional_bar() -> None:
    text = _plain(year_chart([_article(2004), _article(2004), _article(2006), _article(None)]))
    lines = {line.split()[0]: line for line in text.splitlines() if line.strip()[:2] == "20"}
    assert set(lines) == {"2004", "2005", "2006"}
    assert lines["2004"].count("█") == 2 * lines["2006"].count("█") > 0
    assert "█" not in lines["2005"]
    assert lines["2004"].rstrip().endswith("2")
    assert "Publications per year" in text
    assert "1 of 4 articles have no year." in text


def test_mesh_chart_and_empty_sets() -> None:
    text = _plain(mesh_chart([_article(2000, "Carcinoma, Renal Cell"), _article(2001)], top=5))
    assert "Carcinoma, Renal Cell" in text and "top 5" in text
    assert "1 of 2 articles have no MeSH terms." in text
    assert "nothing to chart" in _plain(year_chart([]))
    assert "nothing to chart" in _plain(mesh_chart([_article(None)]))


def test_bars_shrink_to_fit_a_narrow_terminal() -> None:
    articles = [_article(2000, "Carcinoma, Renal Cell")] * 30 + [_article(2001, "Humans")]
    for width in (40, 60, 120):
        text = _plain(mesh_chart(articles), width=width)
        lines = [line for line in text.splitlines() if "Carcinoma" in line]
        assert len(lines) == 1 and len(lines[0].rstrip()) <= width
        assert lines[0].rstrip().endswith("30"), "the count is never cut off"
