"""`cytoreview search`: a PubMed query through esearch, then fetched and summarized."""

from __future__ import annotations

import json
import re

from typer.testing import CliRunner

from cytoreview.cli import app
from cytoreview.testing.eutils_server import EutilsServer
from cytoreview.testing.query import run_query


def _mentions(record: dict[str, object], pattern: str) -> bool:
    text = " ".join([str(record["title"]), str(record["abstract"]),
                     *map(str, record["mesh_terms"]), *map(str, record["keywords"])])  # type: ignore[call-overload]
    return re.search(pattern, text, re.IGNORECASE) is not None


def test_search_returns_summarized_records_that_match(eutils: EutilsServer) -> None:
    expected = run_query(eutils.store, "interleukin-2").pmids
    assert len(expected) >= 10  # the stand-in's share of PubMed's IL-2 literature
    result = CliRunner().invoke(app, ["search", "interleukin-2", "--max", "30", "-f", "json"])
    assert result.exit_code == 0, result.stderr
    records = json.loads(result.stdout)
    assert {r["pmid"] for r in records} == set(sorted(expected, key=int)[-30:])
    for record in records:
        assert _mentions(record, r"interleukin[- ]2\b"), record["pmid"]
        assert record["abstract"] == "" or record["sentences"]
        assert set(record["summary"]) >= {"purpose", "findings", "conclusions"}
    esearch = [r for r in eutils.requests if r.endpoint == "esearch"]
    assert len(esearch) == 1 and esearch[0].params["retmax"] == "30"


def test_search_says_when_pubmed_has_more(eutils: EutilsServer) -> None:
    result = CliRunner().invoke(app, ["search", "interleukin-2", "--max", "5", "-f", "jsonl"])
    assert result.exit_code == 0, result.stderr
    assert len(result.stdout.splitlines()) == 5
    assert "showing the first 5" in result.stderr


def test_search_without_results_says_so(eutils: EutilsServer) -> None:
    result = CliRunner().invoke(app, ["search", "qqqzzzxxyy", "-f", "json"])
    assert result.exit_code == 0
    assert json.loads(result.stdout) == []
    assert "no PubMed results" in result.stderr
