"""Where the command's output goes: the one stdout and one stderr console, the output file
(written atomically), and the progress bar. Nothing here knows what a record is."""

from __future__ import annotations

import errno
import os
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from rich.console import Console

from .errors import InvalidInput


class _StdoutConsole(Console):
    def on_broken_pipe(self) -> None:
        # Rich's own answer is SystemExit(1); let open_output end every format the same way.
        self.quiet = True
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


class _StderrConsole(Console):
    def on_broken_pipe(self) -> None:
        # Nobody reads the messages any more; the data on stdout or in -o still counts.
        self.quiet = True


@dataclass
class Consoles:
    """The one stdout console and the one stderr console, passed to whatever prints."""

    out: Console = field(default_factory=lambda: _StdoutConsole(highlight=False))
    err: Console = field(default_factory=lambda: _StderrConsole(stderr=True, highlight=False))

    def say(self, message: str, style: str | None = None) -> None:
        # soft_wrap keeps each message on one line however narrow the terminal.
        self.err.print(message, style=style, markup=False, highlight=False, soft_wrap=True)


#: Set when stdout's reader went away (`| head`): nothing more is written, nothing is missing.
stdout_reader = {"gone": False}


@contextmanager
def open_output(path: Path | None) -> Iterator[TextIO]:
    """stdout, or a temporary file renamed over ``path`` only once complete."""
    if path is None:
        try:
            yield sys.stdout
            sys.stdout.flush()
        except BrokenPipeError:
            # The reader stopped (`| head`): it has what it wanted. Writing ends here, quietly
            # and the same way in every format (Click and Rich said exit 1 for some, 0 for
            # others); the caller still names failed inputs and picks the exit code from them.
            # Python flushes stdout again at exit: point it at /dev/null so that cannot fail.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            stdout_reader["gone"] = True
        return
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with suppress(OSError):
        tmp.unlink()  # left by a killed process with this pid
    try:
        # Created, never truncated: ext4 writes back a file that was truncated to zero and
        # filled again when it is closed (auto_da_alloc), 0.1 s for a 270 MB output.
        handle = open(tmp, "x", encoding="utf-8", newline="")  # noqa: SIM115
    except OSError as exc:
        raise InvalidInput(f"{path}: cannot write ({exc.strerror})") from exc
    try:
        with handle:
            yield handle
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()


def check_writable(path: Path | None) -> None:
    """Fail before the work, not after it: a 3,000-record batch fetched everything and only
    then found that ``-o``'s folder did not exist."""
    if path is None:
        return
    folder = path.parent  # the option itself refuses a folder as the file
    if not folder.is_dir():
        raise InvalidInput(f"{path}: cannot write (no folder {folder})")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise InvalidInput(f"{path}: cannot write (permission denied in {folder})")


def progress_bar(cons: Consoles, quiet: bool) -> ProgressBar | None:
    if quiet or not cons.err.is_terminal:
        return None
    return ProgressBar(cons.err)


class ProgressBar:
    """A Rich progress bar on stderr: records done of wanted, requests sent, rate, ETA."""

    def __init__(self, console: Console):
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"), BarColumn(),
            MofNCompleteColumn(), TextColumn("{task.fields[requests]} requests"),
            TimeElapsedColumn(), TimeRemainingColumn(), console=console, transient=True)
        self._task = self._progress.add_task("records", total=None, requests=0)

    def __call__(self, done: int, total: int, requests: int) -> None:
        self._progress.update(self._task, completed=done, total=total or None,
                              requests=requests)

    def __enter__(self) -> ProgressBar:
        # A warning printed while the bar is live goes through Rich's redirect of stderr and
        # is wrapped at the terminal's width: held back, it comes after as one line.
        self._held = warnings.catch_warnings(record=True)
        self._caught = self._held.__enter__()
        self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()
        self._held.__exit__(None, None, None)
        for w in self._caught:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno, w.file, w.line)
