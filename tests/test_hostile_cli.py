"""Hostile and broken input at the command line: the exit code of INTERFACE.md, one line on
stderr naming the input, no traceback, nothing read that should not be (issue 7)."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from cytoreview.cli import app

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "xml"
SEEDS_XML = ROOT / "data" / "seeds" / "seeds.xml"


def run(*args: str) -> Result:
    result = CliRunner().invoke(app, list(args))
    # Anything but a clean exit would be a traceback for a user.
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result


def one_line_naming(result: Result, name: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert name in lines[0]


@pytest.fixture
def canary(tmp_path: Path) -> tuple[Path, str]:
    secret = "CANARY-7f3a9c-never-print-me"
    path = tmp_path / "secret.txt"
    path.write_text(secret, encoding="utf-8")
    return path, secret


def test_external_entity_content_never_appears(tmp_path: Path, canary: tuple[Path, str]
                                               ) -> None:
    secret_path, secret = canary
    hostile = tmp_path / "xxe.xml"
    hostile.write_text(
        f'<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [\n'
        f'<!ENTITY xxe SYSTEM "file://{secret_path}">]>\n'
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>"
        "<ArticleTitle>Before &xxe; after</ArticleTitle><Abstract><AbstractText>Text &xxe;."
        "</AbstractText></Abstract></Article></MedlineCitation></PubmedArticle>"
        "</PubmedArticleSet>\n", encoding="utf-8")
    for fmt in ("json", "csv", "md", "ris", "bibtex", "table"):
        result = run("parse", str(hostile), "-f", fmt)
        assert secret not in result.stdout and secret not in result.stderr


def test_entity_declarations_are_refused_cleanly(tmp_path: Path) -> None:
    # An internal-subset entity whose replacement text is broken markup once made lxml print
    # "Exception ignored ... Tried to unregister unknown proxy": such files are refused whole.
    good = SEEDS_XML.read_text(encoding="utf-8")
    body = good[good.index("<PubmedArticleSet"):]
    hostile = tmp_path / "entities.xml"
    hostile.write_text(
        '<?xml version="1.0"?>\n<!DOCTYPE PubmedArticleSet [\n'
        '<!ENTITY m "<i>markup"><!ENTITY e "</b>x<b>">\n]>\n'
        + body.replace("<ArticleTitle>", "<ArticleTitle>&m; &e; ", 2), encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "cytoreview", "parse", str(hostile), str(SEEDS_XML),
         "-f", "jsonl", "--jobs", "1"],
        capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and str(hostile) in lines[0] and "entities" in lines[0], proc.stderr
    # The good file after it is still output, in full.
    assert len(proc.stdout.splitlines()) == 3


@pytest.mark.parametrize("name", ["billion_laughs.xml", "quadratic_blowup.xml",
                                  "deep_nesting.xml"])
def test_expansion_bombs_and_deep_nesting_are_refused_quickly(name: str) -> None:
    started = time.monotonic()
    result = run("parse", str(FIXTURES / name), "-f", "json")
    assert time.monotonic() - started < 10
    assert result.exit_code == 2
    one_line_naming(result, name)
    assert json.loads(result.stdout) == []


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00binary garbage\xff\xfe", ""),
        (b"just some text, not XML\n", ""),
        (b"<html><body>Not PubMed</body></html>", "not PubMed XML"),
    ],
    ids=["empty", "binary", "text", "other-xml"],
)
def test_files_that_are_not_pubmed_xml(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "input.xml"
    path.write_bytes(content)
    result = run("parse", str(path), "-f", "jsonl")
    assert result.exit_code == 2
    one_line_naming(result, str(path))
    assert reason in result.stderr
    assert result.stdout == ""


def test_truncated_gzip_keeps_the_records_before_the_cut(tmp_path: Path) -> None:
    whole = gzip.compress(SEEDS_XML.read_bytes())
    path = tmp_path / "cut.xml.gz"
    path.write_bytes(whole[: len(whole) * 2 // 3])
    result = run("parse", str(path), "-f", "jsonl")
    assert result.exit_code == 2
    one_line_naming(result, str(path))
    pmids = [json.loads(line)["pmid"] for line in result.stdout.splitlines()]
    assert pmids and pmids == ["15461571", "15627015", "2215513"][: len(pmids)]


def test_invalid_utf8_keeps_the_records_before_it(tmp_path: Path) -> None:
    data = SEEDS_XML.read_bytes()
    cut = data.index(b"<PubmedArticle>", data.index(b"2215513") - 3000)
    path = tmp_path / "bad-utf8.xml"
    path.write_bytes(data[:cut] + b"<PubmedArticle>\xff\xfe\xc3" + data[cut:])
    result = run("parse", str(path), "-f", "jsonl")
    assert result.exit_code == 2
    one_line_naming(result, str(path))
    assert [json.loads(line)["pmid"] for line in result.stdout.splitlines()] == [
        "15461571", "15627015"]


def test_a_bad_file_among_good_ones(tmp_path: Path) -> None:
    empty = tmp_path / "empty.xml"
    empty.write_bytes(b"")
    result = run("parse", str(SEEDS_XML), str(empty), str(SEEDS_XML), "-f", "jsonl")
    assert result.exit_code == 2
    one_line_naming(result, str(empty))
    assert len(result.stdout.splitlines()) == 6


@pytest.mark.parametrize("kind", ["missing", "directory"])
def test_missing_file_and_directory(tmp_path: Path, kind: str) -> None:
    path = tmp_path / "nothing.xml"
    if kind == "directory":
        path.mkdir()
    result = run("parse", str(path))
    assert result.exit_code == 2
    one_line_naming(result, str(path))


def test_huge_single_record_is_parsed(tmp_path: Path) -> None:
    words = " ".join(f"word{i}." for i in range(300_000))  # ~3 MB of abstract
    path = tmp_path / "huge.xml"
    path.write_text(
        "<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>42</PMID><Article>"
        f"<ArticleTitle>Huge</ArticleTitle><Abstract><AbstractText>{words}</AbstractText>"
        "</Abstract></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>",
        encoding="utf-8")
    result = run("parse", str(path), "-f", "jsonl", "--no-roles")
    assert result.exit_code == 0, result.stderr
    record = json.loads(result.stdout)
    assert record["pmid"] == "42" and len(record["abstract"]) == len(words)


@pytest.mark.parametrize("bad", ["abc", "PMID: 12x", "10.1/x", "doi:", "PMC", "0"])
def test_malformed_identifiers_exit_2_naming_them(bad: str) -> None:
    result = run("fetch", "15461571", bad)
    assert result.exit_code == 2
    one_line_naming(result, repr(bad))


def test_binary_id_list_is_a_usage_error(tmp_path: Path) -> None:
    path = tmp_path / "ids.bin"
    path.write_bytes(b"\x00\x01\x02\x03garbage")
    result = run("batch", str(path))
    assert result.exit_code == 2
    one_line_naming(result, str(path))


def test_no_traceback_from_a_real_process(tmp_path: Path) -> None:
    path = tmp_path / "garbage.xml.gz"
    path.write_bytes(b"\x1f\x8b\x08\x00garbage")
    proc = subprocess.run([sys.executable, "-m", "cytoreview", "parse", str(path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.skipif(shutil.which("id") is None or sys.platform == "win32", reason="posix")
def test_unwritable_output_is_a_usage_error(tmp_path: Path) -> None:
    target = tmp_path / "no-such-dir" / "out.json"
    result = run("parse", str(SEEDS_XML), "-f", "json", "-o", str(target))
    assert result.exit_code == 2
    one_line_naming(result, str(target))


def test_output_replaces_a_stale_temporary_file_of_the_same_pid(tmp_path: Path) -> None:
    # The output is written to ".NAME.PID.tmp", created exclusively; one left behind by a
    # killed process whose pid came round again must not stop the command.
    target = tmp_path / "out.jsonl"
    stale = tmp_path / f".out.jsonl.{os.getpid()}.tmp"
    stale.write_text("half a record from a killed run\n")
    result = run("parse", str(SEEDS_XML), "-f", "jsonl", "-o", str(target))
    assert result.exit_code == 0, result.output
    lines = target.read_text().splitlines()
    assert lines and all(line.startswith('{"pmid"') for line in lines)
    assert not stale.exists()


@pytest.mark.parametrize("fmt", ["table", "jsonl", "csv", "md"])
def test_a_reader_that_stops_early_is_no_failure(fmt: str) -> None:
    # `cytoreview parse ... | head -1` under `set -o pipefail`: the reader has gone before
    # anything is written; every format ends quietly with exit 0.
    proc = subprocess.Popen(
        [sys.executable, "-m", "cytoreview", "parse", str(FIXTURES / "pubmed21n1298_cases.xml"),
         "-f", fmt], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert err == ""


def test_a_file_without_records_says_so(tmp_path: Path) -> None:
    # A daily update file can hold only deletions; an empty "[]" alone looks like a bug.
    path = tmp_path / "deletions.xml"
    path.write_text('<?xml version="1.0"?>\n<PubmedArticleSet><DeleteCitation>'
                    '<PMID Version="1">1</PMID></DeleteCitation></PubmedArticleSet>\n')
    result = run("parse", str(path), "-f", "json")
    assert (result.exit_code, json.loads(result.stdout)) == (0, [])
    assert result.stderr.strip() == f"cytoreview: no PubMed records in {path}"


def test_a_reader_that_stops_early_still_hears_of_a_broken_file(tmp_path: Path) -> None:
    broken = tmp_path / "broken.xml"
    broken.write_text("this is not XML")
    proc = subprocess.Popen(
        [sys.executable, "-m", "cytoreview", "parse", str(broken),
         str(FIXTURES / "pubmed21n1298_cases.xml"), "-f", "jsonl", "--jobs", "1"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 2
    assert str(broken) in err and "Traceback" not in err


def test_cache_info_into_a_closed_pipe_is_quiet(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "cytoreview", "cache", "info"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env={**os.environ, "CYTOREVIEW_CACHE_DIR": str(tmp_path)})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert err == ""


def test_a_signal_while_the_interpreter_shuts_down_is_no_traceback() -> None:
    # The work is done and written; SIGTERM a moment later (here while a thread is still
    # being joined at exit) printed "Exception ignored in: <module 'threading'>". The exit
    # status stays the one the command chose (1: some inputs failed), not 130.
    import signal

    script = (
        "import sys, threading, time\n"
        "from cytoreview import cli\n"
        "def finished():\n"
        "    threading.Thread(target=time.sleep, args=(5,)).start()\n"
        "    print('written', flush=True)\n"
        "    sys.exit(1)\n"
        "cli.app = finished\n"
        "cli.main()\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline() == "written\n"
    time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 1
    assert "Traceback" not in err and "Exception ignored" not in err
