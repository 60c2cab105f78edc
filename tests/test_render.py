"""The terminal views: nothing a reader needs may be cut, restyled or misreported."""

from __future__ import annotations

import dataclasses
import io
import re
from pathlib import Path

import pytest
from rich.console import Console

from cytoreview.localfiles import parse_file
from cytoreview.model import Article, Author, MeshHeading
from cytoreview.render import show

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "xml"
# Two regimens from PMID 34092722's findings: one "word" wider than an 80-column role table.
REGIMEN = "rituximab/cyclophosphamide/doxorubicin/vincristine/prednisone"


def _records(path: Path, roles: bool = True) -> list[Article]:
    return list(parse_file(str(path), roles=roles).articles)


def _screen(articles: list[Article], width: int, **options: bool) -> str:
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, legacy_windows=False)
    show(articles, console, **options)
    return out.getvalue()


def _unwrapped(screen: str) -> str:
    """The text on screen with borders, padding and line breaks gone, to find folded words."""
    return re.sub(r"[\s│╭╮╰╯─━┃]+", "", screen)


def _seeds() -> list[Article]:
    return _records(ROOT / "data" / "seeds" / "seeds.xml")


@pytest.mark.parametrize("width", [40, 80, 120])
def test_a_long_word_wraps_and_is_never_cut(width: int) -> None:
    seed = _seeds()[0]
    summary = dataclasses.replace(seed.summary, findings=f"Patients received {REGIMEN} or R-CHOP.")
    screen = _screen([dataclasses.replace(seed, summary=summary)], width)
    assert "…" not in screen
    assert REGIMEN.replace("/", "") in _unwrapped(screen).replace("/", "")


@pytest.mark.parametrize("width", [40, 60, 80, 200])
def test_the_overview_keeps_every_pmid_and_title_whole(width: int) -> None:
    # Authors dropped: their column may end a long name with "…"; no other column may.
    records = [dataclasses.replace(a, authors=())
               for a in _records(FIXTURES / "pubmed21n1298_cases.xml")]
    assert len(records) > 3  # the overview, not the full view
    screen = _screen(records, width)
    assert "…" not in screen
    for article in records:
        assert article.pmid in screen  # on one line, never wrapped or cut
    assert all(len(line) <= width for line in screen.splitlines())


def test_names_and_descriptors_that_look_like_markup_are_shown_as_they_are() -> None:
    seeds = _seeds()
    odd = Author(last_name="[/]Wysocki", initials="PJ")
    articles = [dataclasses.replace(seeds[i % len(seeds)], pmid=str(i + 1),
                                    authors=(odd,) if i == 0 else seeds[i % len(seeds)].authors,
                                    mesh_headings=(MeshHeading("[bold]Interleukin-2[/]"),))
                for i in range(10)]  # ten: the overview and the charts
    screen = _screen(articles, 120)
    assert "[/]Wysocki" in screen
    assert "[bold]Interleukin-2[/]" in screen


def test_no_roles_shows_the_abstract_and_says_roles_were_skipped() -> None:
    (eklund,) = [a for a in _records(ROOT / "data" / "seeds" / "seeds.xml", roles=False)
                 if a.pmid == "15627015"]
    screen = _screen([eklund], 100)
    assert "Roles: not assigned (--no-roles)." in screen
    assert "no abstract" not in screen.lower()
    assert "IL-2 remains a valuable treatment option" in screen


def test_labels_without_an_nlm_category_are_not_called_missing() -> None:
    # PMID 29892698 has Objective/Methods/Results/Conclusions labels, all UNASSIGNED.
    (record,) = [a for a in _records(FIXTURES / "pubmed21n1298_cases.xml")
                 if a.pmid == "29892698"]
    screen = _screen([record], 120)
    assert "its section labels have no NLM category" in screen
    assert "has no section labels" not in screen


def test_all_roles_shows_background_and_methods_for_a_batch_too() -> None:
    records = _records(FIXTURES / "pubmed21n1298_cases.xml")
    assert "Methods" not in _screen(records, 120)
    screen = _screen(records, 120, all_roles=True)
    with_abstract = [a for a in records if a.abstract]
    assert with_abstract
    assert screen.count("Methods") == screen.count("Background") == len(with_abstract)
    assert all(f"PMID {a.pmid}" in screen for a in records)
