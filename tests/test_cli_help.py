"""Every command explains itself with an example, and the README documents every command."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from cytoreview.cli import app

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [["fetch"], ["batch"], ["search"], ["parse"], ["cache", "info"], ["cache", "clear"]]


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_an_example(command: list[str]) -> None:
    result = CliRunner().invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Example:" in result.output
    assert f"cytoreview {' '.join(command)}" in result.output


@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_every_command_is_in_the_readme(command: list[str]) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"cytoreview {' '.join(command)}" in readme


def test_shared_options_are_on_all_four_data_commands() -> None:
    for command in ("fetch", "batch", "search", "parse"):
        text = CliRunner().invoke(app, [command, "--help"]).output
        for option in ("--format", "--output", "-o"):
            assert option in text, (command, option)


def test_readme_test_command_is_the_one_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert "python -m pytest -q" in readme
    assert "python -m pytest -q" in ci


@pytest.mark.parametrize(
    ("args", "line"),
    [
        (["fetch", "15461571", "--format", "xml"],
         "cytoreview fetch: Invalid value for '--format' / '-f': 'xml' is not one of"),
        (["fetch", "--bogus", "1"], "cytoreview fetch: No such option: --bogus"),
        (["fetchh", "1"], "cytoreview: No such command 'fetchh'."),
        (["fetch"], "cytoreview fetch: Missing argument"),
        (["fetch", "1", "-f"], "cytoreview: Option '-f' requires an argument."),
    ],
)
def test_a_usage_error_is_one_line_naming_the_command_and_the_problem(
        args: list[str], line: str) -> None:
    # It was Click's four-line block (Usage:, Try ..., a blank line, Error: ...).
    result = CliRunner().invoke(app, args, prog_name="cytoreview")
    assert result.exit_code == 2
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(line)
    assert result.stderr.rstrip().endswith("-h)")


def test_bare_commands_still_show_their_help() -> None:
    for args in ([], ["cache"]):
        result = CliRunner().invoke(app, args, prog_name="cytoreview")
        assert "Usage: cytoreview" in result.output and "Commands" in result.output
