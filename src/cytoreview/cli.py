"""The ``cytoreview`` command: a thin Typer layer over :mod:`cytoreview.service` and friends.

Errors become a one-line message and an exit code in one place, :func:`_handled`; data goes to
stdout (or ``-o FILE``, written atomically), everything else to stderr.
"""

from __future__ import annotations

import io
import os
import signal
import sys
import warnings
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext, suppress
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TextIO, TypeVar

import typer
from rich.console import Console
from typer.core import TyperGroup

from . import __version__
from .errors import (
    CytoreviewError,
    CytoreviewWarning,
    ExitStatus,
    Interrupted,
    InvalidInput,
    UnreadableFile,
)
from .ids import Identifier
from .model import Article
from .output import Consoles, check_writable, open_output, progress_bar, stdout_reader
from .procs import terminate_as_interrupt

_T = TypeVar("_T")

if TYPE_CHECKING:
    from .fetcher import FetchResult

# Click's base exception, without importing click (Typer may carry its own copy of it).
_UsageProblem: type[Exception] = next(
    c for c in typer.BadParameter.__mro__ if c.__name__ == "ClickException")


class _Group(TyperGroup):
    """Usage errors as one line naming the command and the problem, like every other bad
    input ("cytoreview fetch: No such option: --bogus (see cytoreview fetch -h)"), not
    Click's four-line block."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        # Keywords only past args and prog_name, as click's callers pass them; the
        # signature itself differs between Typer versions.
        standalone = kwargs.pop("standalone_mode", True)
        kwargs["standalone_mode"] = False
        if not standalone:
            return super().main(*args, **kwargs)
        try:
            status = super().main(*args, **kwargs)
        except _UsageProblem as error:
            exc: Any = error  # a Click exception: format_message, show, exit_code, ctx
            message = exc.format_message()
            if "\n" in message:  # the help itself (a bare `cytoreview`): shown as it is
                exc.show()
            else:
                ctx = getattr(exc, "ctx", None)
                where = ctx.command_path if ctx is not None else "cytoreview"
                print(f"{where}: {message} (see {where} -h)", file=sys.stderr)
            sys.exit(exc.exit_code)
        except Exception as exc:
            # Click's Abort: Typer before 0.13 turns a Ctrl-C outside a command into it.
            if type(exc).__name__ == "Abort":
                raise KeyboardInterrupt from exc
            raise
        sys.exit(status if isinstance(status, int) else 0)


app = typer.Typer(
    cls=_Group,
    name="cytoreview",
    help="From PMIDs and DOIs to what each paper was for, what it found and what it concludes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
    rich_markup_mode=None,
)
cache_app = typer.Typer(help="Inspect or clear the local record cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


class OutputFormat(str, Enum):
    table = "table"
    json = "json"
    jsonl = "jsonl"
    md = "md"
    csv = "csv"
    ris = "ris"
    bibtex = "bibtex"


# -- shared options, defined once ---------------------------------------------------------------
FormatOpt = Annotated[OutputFormat, typer.Option(
    "--format", "-f", case_sensitive=False,
    help="table (for reading), json, jsonl, md (Markdown digest), csv, ris or bibtex.")]
OutputOpt = Annotated[Path | None, typer.Option(
    "--output", "-o", dir_okay=False, help="Write to FILE (atomically) instead of stdout.")]
FullOpt = Annotated[bool, typer.Option(
    "--full", help="Table format: show every article in full, not the overview.")]
AllRolesOpt = Annotated[bool, typer.Option(
    "--all-roles",
    help="Table format: also show Background and Methods (every article in full).")]
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar or notes.")]
RefreshOpt = Annotated[bool, typer.Option(
    "--refresh", help="Ignore cached records and fetch them again.")]
OfflineOpt = Annotated[bool, typer.Option(
    "--offline", help="Use only the cache; inputs not in it fail (exit 1).")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the cache.")]


def _consoles(ctx: typer.Context) -> Consoles:
    if not isinstance(ctx.obj, Consoles):
        ctx.obj = Consoles()
    return ctx.obj


@contextmanager
def _handled(cons: Consoles) -> Iterator[None]:
    """The one place where errors become messages and exit codes. Never a traceback."""
    try:
        yield
    except Interrupted as exc:
        then = ("fetched records are cached, run the same command again to finish"
                if exc.cached else "nothing was cached (--no-cache)")
        cons.say(f"cytoreview: {exc}; {then}", style="yellow")
        if exc.remaining:
            cons.say("not fetched: " + ", ".join(exc.remaining[:20])
                     + (f" and {len(exc.remaining) - 20} more" if len(exc.remaining) > 20 else ""))
        raise typer.Exit(ExitStatus.INTERRUPTED) from None
    except CytoreviewError as exc:
        cons.say(f"cytoreview: {exc}", style="red")
        raise typer.Exit(exc.exit_status) from None
    except KeyboardInterrupt:
        cons.say("cytoreview: interrupted", style="yellow")
        raise typer.Exit(ExitStatus.INTERRUPTED) from None


def _emit(
    cons: Consoles,
    articles: Iterable[Article],
    fmt: OutputFormat,
    output: Path | None,
    command: str,
    inputs: list[str],
    *,
    full: bool = False,
    all_roles: bool = False,
) -> int:
    """Write articles in ``fmt``; returns how many were written."""
    from .export import Provenance, write

    with open_output(output) as stream:
        if fmt is OutputFormat.table:
            from .render import show

            shown = list(articles)
            console = cons.out if output is None else Console(file=stream, width=100,
                                                              no_color=True)
            show(shown, console, full=full, all_roles=all_roles)
            return len(shown)
        provenance = Provenance(command=command, inputs=tuple(inputs))
        return write(articles, fmt.value, stream, provenance)
    return 0  # stdout's reader went away


def _run_fetch(ctx: typer.Context, command: str, inputs: list[str], fetch_job: str,
               fmt: OutputFormat, output: Path | None, *, quiet: bool, refresh: bool,
               offline: bool, no_cache: bool, full: bool, all_roles: bool,
               identifiers: Sequence[Identifier] = (), query: str | None = None,
               max_results: int = 20) -> None:
    """Shared by fetch, batch and search: run the service, write what came back, name
    failures, exit with INTERFACE.md's code. On Ctrl-C the partial result is written."""
    from .cache import Cache
    from .export import RENDERED_FORMATS
    from .service import fetch, search

    cons = _consoles(ctx)
    # Big fetches render these formats in their worker processes, as records arrive.
    render = fmt.value if fmt.value in RENDERED_FORMATS else None
    with _handled(cons):
        check_writable(output)
        cache = None if no_cache else Cache.from_env()
        bar = progress_bar(cons, quiet)
        interrupted: Interrupted | None = None
        result: FetchResult
        try:
            with bar if bar else nullcontext():
                if fetch_job == "search":
                    assert query is not None
                    result = search(query, max_results=max_results, cache=cache,
                                    refresh=refresh, offline=offline, progress=bar,
                                    render=render)
                else:
                    result = fetch(identifiers, cache=cache, refresh=refresh,
                                   offline=offline, progress=bar, render=render)
        except Interrupted as exc:
            interrupted, result = exc, exc.result
        finally:
            if cache:
                cache.close()
        if result.fatal:
            cons.say(f"cytoreview: {result.fatal}", style="red")
        if render is not None and result.rendered:
            written = _emit_rendered(result, render, output)
        else:
            written = _emit(cons, result.articles, fmt, output, command, inputs,
                            full=full, all_roles=all_roles)
        if interrupted:
            if not quiet and output is not None:
                cons.say(f"wrote the {written} record(s) fetched so far to {output}", style="dim")
            raise interrupted
        for failure in result.failures:
            cons.say(f"cytoreview: {failure.input}: {failure.reason}", style="red")
        if result.note and not quiet:
            cons.say(result.note, style="yellow")
        if not quiet and output is not None:
            cons.say(f"wrote {written} record(s) to {output}", style="dim")
        raise typer.Exit(result.exit_status)


def _emit_rendered(result: FetchResult, fmt: str, output: Path | None) -> int:
    """Write ``result``'s articles in ``fmt``, using the text its workers already rendered
    (the same bytes :func:`_emit` would write; records from the cache are rendered here)."""
    from .export import render_records, write_rendered

    texts = result.rendered
    with open_output(output) as stream:
        return write_rendered(((texts.get(a.pmid) or render_records([a], fmt), 1)
                               for a in result.articles), fmt, stream)
    return 0  # stdout's reader went away


# -- commands -----------------------------------------------------------------------------------


@app.command()
def fetch(
    ctx: typer.Context,
    ids: Annotated[list[str], typer.Argument(
        help="PMIDs, DOIs, PMCIDs, PubMed or doi.org URLs, 'PMID: 123'.", metavar="ID...",
        show_default=False)],
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    full: FullOpt = False,
    all_roles: AllRolesOpt = False,
    quiet: QuietOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Fetch records by identifier and show what each paper was for, found and concluded.

    Example:

    \b
        cytoreview fetch 15461571 10.1097/01.cco.0000142070.45097.68 --format json
    """
    from .ids import parse_identifiers

    cons = _consoles(ctx)
    with _handled(cons):
        identifiers = parse_identifiers(ids)  # every ID checked before any request
    _run_fetch(ctx, "fetch", ids, "fetch", fmt, output, quiet=quiet, refresh=refresh,
               offline=offline, no_cache=no_cache, full=full, all_roles=all_roles,
               identifiers=identifiers)


@app.command()
def batch(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(
        help="ID list: one per line, '#' comments and blank lines ignored; '-' for stdin.",
        metavar="FILE", show_default=False)],
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    full: FullOpt = False,
    all_roles: AllRolesOpt = False,
    quiet: QuietOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Fetch every identifier in an ID list file; interrupted runs resume from the cache.

    Example:

    \b
        cytoreview batch data/seeds/ids.txt --format md -o digest.md
    """
    from .ids import read_id_list

    cons = _consoles(ctx)
    with _handled(cons):
        data = _read_input(file)
        listing = read_id_list(data, "stdin" if file == "-" else file)
    for lineno, error in listing.invalid:
        cons.say(f"cytoreview: {file}:{lineno}: {error} (skipped)", style="yellow")
    if not listing.identifiers:
        # Not an error (a pipeline's empty search is a valid list), but worth a word: an empty
        # "[]" alone looks like every ID was dropped.
        cons.say(f"cytoreview: {'stdin' if file == '-' else file}: no identifiers "
                 "(only comments and blank lines)", style="yellow")
    inputs = [i.raw for i in listing.identifiers]
    try:
        _run_fetch(ctx, "batch", inputs, "fetch", fmt, output, quiet=quiet, refresh=refresh,
                   offline=offline, no_cache=no_cache, full=full, all_roles=all_roles,
                   identifiers=listing.identifiers)
    except typer.Exit as done:
        if listing.invalid and done.exit_code == ExitStatus.SUCCESS:
            raise typer.Exit(ExitStatus.PARTIAL) from None
        raise


def _read_input(file: str) -> bytes:
    if file == "-":
        if sys.stdin is None or sys.stdin.closed:
            raise InvalidInput("stdin: no input")
        return sys.stdin.buffer.read()
    path = Path(file)
    try:
        return path.read_bytes()
    except FileNotFoundError as exc:
        raise InvalidInput(f"{file}: no such file") from exc
    except IsADirectoryError as exc:
        raise InvalidInput(f"{file}: is a directory") from exc
    except OSError as exc:
        raise InvalidInput(f"{file}: cannot read ({exc.strerror})") from exc


@app.command()
def search(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="A PubMed query.", metavar="QUERY",
                                         show_default=False)],
    max_results: Annotated[int, typer.Option(
        "--max", min=1, max=9999, help="How many results to fetch (PubMed allows 9,999).")] = 20,
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    full: FullOpt = False,
    all_roles: AllRolesOpt = False,
    quiet: QuietOpt = False,
    refresh: RefreshOpt = False,
    offline: OfflineOpt = False,
    no_cache: NoCacheOpt = False,
) -> None:
    """Search PubMed, then fetch and summarize the results.

    Example:

    \b
        cytoreview search "interleukin-2 AND melanoma" --max 30 --format md -o il2.md
    """
    _run_fetch(ctx, "search", [query], "search", fmt, output, quiet=quiet, refresh=refresh,
               offline=offline, no_cache=no_cache, full=full, all_roles=all_roles,
               query=query, max_results=max_results)


@app.command()
def parse(
    ctx: typer.Context,
    files: Annotated[list[Path], typer.Argument(
        help="PubMed XML files (.xml or .xml.gz): efetch output, baseline or update files.",
        metavar="FILE...", show_default=False)],
    fmt: FormatOpt = OutputFormat.table,
    output: OutputOpt = None,
    full: FullOpt = False,
    all_roles: AllRolesOpt = False,
    quiet: QuietOpt = False,
    jobs: Annotated[int | None, typer.Option(
        "--jobs", "-j", min=1, help="Worker processes (default: all cores).")] = None,
    no_roles: Annotated[bool, typer.Option(
        "--no-roles", help="Skip sentence roles (faster; sentences and summary stay empty).")
    ] = False,
) -> None:
    """Parse local PubMed XML and summarize every record, streaming.

    Example:

    \b
        cytoreview parse data/seeds/seeds.xml
        cytoreview parse pubmed25n0001.xml.gz pubmed25n0002.xml.gz -f jsonl -o out.jsonl
    """
    from .export import RENDERED_FORMATS, write_rendered
    from .filepool import parse_files, render_files

    cons = _consoles(ctx)
    errors: list[CytoreviewError] = []
    state = {"interrupted": False}
    paths = [str(f) for f in files]

    def failed(error: CytoreviewError) -> None:
        errors.append(error)
        cons.say(f"cytoreview: {error}", style="red")

    def kept(items: Iterable[_T | UnreadableFile]) -> Iterator[_T]:
        # A broken file is named and the stream goes on; Ctrl-C ends it with what was read.
        try:
            for item in items:
                if isinstance(item, UnreadableFile):
                    failed(item)
                else:
                    yield item
        except KeyboardInterrupt:
            state["interrupted"] = True

    count = 0
    stdout_reader["gone"] = False  # per run: a test runner calls commands in one process
    with _handled(cons):
        check_writable(output)
        if fmt.value in RENDERED_FORMATS:
            # The workers write the records' JSON/CSV text; this process only writes bytes.
            rendered = render_files(paths, fmt.value, jobs=jobs, roles=not no_roles)
            with open_output(output) as stream:
                count = write_rendered(kept(rendered), fmt.value, stream)
        else:
            records = kept(parse_files(paths, jobs=jobs, roles=not no_roles))
            count = _emit(cons, records, fmt, output, "parse", paths, full=full,
                          all_roles=all_roles)
    if count == 0 and not errors and not state["interrupted"] and not stdout_reader["gone"]:
        # Well-formed XML without a PubmedArticle (a DeleteCitation-only update file, an
        # esearch answer saved by mistake): say so rather than print nothing at all.
        cons.say(f"cytoreview: no PubMed records in {', '.join(paths)}", style="yellow")
    if state["interrupted"]:
        cons.say("cytoreview: interrupted; the output holds the records parsed so far",
                 style="yellow")
        raise typer.Exit(ExitStatus.INTERRUPTED)
    if errors:
        raise typer.Exit(max(e.exit_status for e in errors))


@cache_app.command("info")
def cache_info(ctx: typer.Context) -> None:
    """Show where the cache is and what it holds.

    Example:

    \b
        cytoreview cache info
    """
    from .cache import Cache

    cons = _consoles(ctx)
    with _handled(cons), Cache.from_env() as cache:
        info = cache.info()

    def when(ts: float | None) -> str:
        return datetime.fromtimestamp(ts).isoformat(timespec="seconds") if ts else "-"

    with open_output(None):
        cons.out.print(
            f"path:     {info.path}\nrecords:  {info.records}\naliases:  {info.aliases}"
            f"\nsearches: {info.searches}"
            f"\nsize:     {info.size_bytes / 1e6:.1f} MB\noldest:   {when(info.oldest)}"
            f"\nnewest:   {when(info.newest)}", markup=False, highlight=False)


@cache_app.command("clear")
def cache_clear(ctx: typer.Context) -> None:
    """Delete every cached record.

    Example:

    \b
        cytoreview cache clear
    """
    from .cache import Cache

    cons = _consoles(ctx)
    with _handled(cons), Cache.from_env() as cache:
        count = cache.clear()
    cons.say(f"removed {count} cached record(s) from {cache.path}")


def _version(value: bool) -> None:
    if value:
        print(f"cytoreview {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option(
        "--version", callback=_version, is_eager=True, help="Show the version.")] = False,
) -> None:
    # Records are UTF-8 whatever the locale says: "IFN-α" must not crash a pipe.
    if not sys.stdout.isatty() and isinstance(sys.stdout, io.TextIOWrapper):
        sys.stdout.reconfigure(encoding="utf-8")
    ctx.obj = Consoles()


def _exit_at_once(status: int) -> None:
    """After an interrupt, what was fetched is written and cached: exit without waiting for
    request threads, which a stalled answer can hold for the whole read timeout (30 s, and a
    second Ctrl-C meanwhile printed a traceback from the interpreter's exit). Worker processes
    are waited for (a few seconds at most): one still parsing a fetched batch caches it
    before it leaves, so a rerun need not fetch it again."""
    import multiprocessing
    import time

    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    deadline = time.monotonic() + _WORKER_GRACE_SECONDS
    for child in multiprocessing.active_children():
        child.join(max(0.0, deadline - time.monotonic()))
    os._exit(status)


_WORKER_GRACE_SECONDS = 10.0


def _show_warning(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                  file: TextIO | None = None, line: str | None = None) -> None:
    if issubclass(category, CytoreviewWarning):
        with suppress(OSError):  # stderr closed: the warning has nowhere to go
            print(f"cytoreview: warning: {message}", file=sys.stderr)
    else:
        _default_show_warning(message, category, filename, lineno, file, line)


_default_show_warning = warnings.showwarning


def main() -> None:
    """Console-script entry point: the last guard against tracebacks."""
    terminate_as_interrupt()
    warnings.showwarning = _show_warning
    try:
        app()
    except SystemExit as exc:
        if exc.code == ExitStatus.INTERRUPTED:
            _exit_at_once(ExitStatus.INTERRUPTED)
        _finished["status"] = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        raise
    except KeyboardInterrupt:
        print("cytoreview: interrupted", file=sys.stderr)
        _exit_at_once(ExitStatus.INTERRUPTED)
    except Exception as exc:  # a bug: one line for the user, the traceback on request
        _finished["status"] = ExitStatus.PARTIAL
        if os.environ.get("CYTOREVIEW_DEBUG"):
            raise
        print(f"cytoreview: internal error: {type(exc).__name__}: {exc} "
              "(set CYTOREVIEW_DEBUG=1 for the traceback)", file=sys.stderr)
        sys.exit(ExitStatus.PARTIAL)
    finally:
        # The work is done and written; a Ctrl-C or SIGTERM while the interpreter shuts down
        # printed "Exception ignored in: <module 'threading'>" and exited 1.
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, _late_interrupt)


#: The exit status the finished command chose, kept if a signal comes while Python exits.
_finished = {"status": int(ExitStatus.INTERRUPTED)}


def _late_interrupt(signum: int, frame: object) -> None:
    for stream in (sys.stdout, sys.stderr):
        with suppress(Exception):
            stream.flush()
    os._exit(_finished["status"])
