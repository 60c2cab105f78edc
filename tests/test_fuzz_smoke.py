"""A few hundred inputs of the parser fuzzer (benchmarks/fuzz_parse.py), and proof that its
oracle catches planted bugs: a harness that cannot fail would prove nothing."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from cytoreview import parse as cparse
from cytoreview.model import Article, Section

HARNESS = Path(__file__).resolve().parents[1] / "benchmarks" / "fuzz_parse.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fuzz_parse", HARNESS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["fuzz_parse"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


fuzz = _load()


@pytest.fixture(scope="module")
def corpus() -> list[Any]:
    return fuzz.load_corpus(real_per_file=10)


def _run(corpus: list[Any], tmp_path: Path, inputs: int = 300, **kwargs: Any) -> Any:
    return fuzz.run_campaign(inputs, seed=7, corpus=corpus, out_dir=tmp_path,
                             hard_timeout=None, **kwargs)


def _summary(report: Any) -> str:
    return "\n".join(f"{b.kind} {b.key} x{b.count}: {b.detail[:600]}"
                     for b in report.buckets.values())


def test_smoke_run_finds_nothing(corpus: list[Any], tmp_path: Path) -> None:
    report = _run(corpus, tmp_path)
    assert report.inputs == 300
    assert set(report.by_mode) == set(fuzz.MODES)
    assert report.crashes == [], _summary(report)
    assert report.violations == [], _summary(report)


def test_inputs_are_deterministic(corpus: list[Any], tmp_path: Path) -> None:
    ctx = fuzz.Context(corpus, str(tmp_path / "canary"))
    first = [fuzz.make_input(ctx, 3, i) for i in range(30)]
    again = [fuzz.make_input(ctx, 3, i) for i in range(30)]
    assert [(a.data, a.ops, a.mode) for a in first] == [(a.data, a.ops, a.mode) for a in again]
    assert len({a.data for a in first}) > 20


def _bytes_only(corpus: list[Any], tmp_path: Path, targets: Any) -> Any:
    return _run(corpus, tmp_path, inputs=40, targets=targets, modes={"bytes": 1},
                canary_token="CANARY-planted")


def test_oracle_catches_an_unexpected_exception(corpus: list[Any], tmp_path: Path) -> None:
    def broken(data: bytes, source: str = "", stats: Any = None) -> list[Article]:
        articles = cparse.parse_bytes(data, source, stats)
        return [{"pmid": a.pmid}["doi"] for a in articles]  # KeyError on any record

    report = _bytes_only(corpus, tmp_path, fuzz.Targets(parse_bytes=broken))
    assert [b.key.split(" @ ")[0] for b in report.crashes] == ["KeyError"]
    assert any(tmp_path.glob("crash-*.xml")) and any(tmp_path.glob("crash-*.txt"))


def test_oracle_catches_a_bad_offset(corpus: list[Any], tmp_path: Path) -> None:
    def off_by_one(data: bytes, source: str = "", stats: Any = None) -> list[Article]:
        return [Article(pmid="1", title="t", abstract="abc def",
                        sections=(Section(None, None, "abc", 1, 4),))]

    report = _bytes_only(corpus, tmp_path, fuzz.Targets(parse_bytes=off_by_one))
    assert report.crashes == []
    assert any("abstract[start:end] != text" in b.key for b in report.violations)


def test_oracle_catches_a_leaked_canary_and_lost_exceptions(corpus: list[Any],
                                                             tmp_path: Path) -> None:
    def leaky(data: bytes, source: str = "", stats: Any = None) -> list[Article]:
        return [Article(pmid="1", title="CANARY-planted", abstract="")]

    report = _bytes_only(corpus, tmp_path, fuzz.Targets(parse_bytes=leaky))
    assert any("canary" in b.key for b in report.violations)

    def swallowing(elem: Any) -> Article:
        raise ValueError("invalid literal for int() with base 10: '\u00b2'")

    report = _run(corpus, tmp_path, inputs=40, targets=fuzz.Targets(parse_article=swallowing),
                  modes={"element": 1})
    assert any(b.key.startswith("record silently skipped: ValueError") for b in report.crashes)


def test_oracle_checks_sentences(corpus: list[Any], tmp_path: Path) -> None:
    article = Article(pmid="1", title="t", abstract="One. Two.")
    bad = fuzz.check_article(article, b"", annotated=True)
    assert "text after the last sentence is in no sentence" in bad


def test_chunked_reader_feeds_the_parser() -> None:
    data = fuzz.wrap_records([b"<PubmedArticle><MedlineCitation><PMID>5</PMID>"
                              b"</MedlineCitation></PubmedArticle>"])
    reader: Any = fuzz.ChunkedReader(data, 1)
    pmids: Iterator[str] = (a.pmid for a in cparse.iter_articles(reader))
    assert list(pmids) == ["5"]
