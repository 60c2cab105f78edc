"""Signals for the command and its worker processes.

The command ends the same way whether a person presses Ctrl-C or a scheduler sends SIGTERM
(``timeout``, ``kill``, a batch system cancelling a job): what was fetched is kept, workers
are stopped and temporary files removed (:func:`terminate_as_interrupt`). Workers leave that
to the parent: they ignore Ctrl-C (it reaches the whole process group), die at once on
SIGTERM, and exit by themselves if the parent is killed outright (SIGKILL, out of memory),
which would otherwise leave them asleep for ever with their spill files on disk
(:func:`init_worker`).
"""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

__all__ = ["ORPHAN_POLL_SECONDS", "forking", "init_worker", "say_once", "terminate_as_interrupt"]

#: How often a worker looks whether its parent is still there.
ORPHAN_POLL_SECONDS = 0.5


_owner: int | None = None  # the process whose SIGTERM is an interrupt


def _token() -> tuple[int, tuple[int, int]] | None:
    """A pipe holding one byte, and its identity (device, inode); None where pipes cannot be
    read without blocking (Windows before Python 3.12)."""
    if not hasattr(os, "set_blocking"):
        return None
    read, write = os.pipe()
    os.write(write, b"!")
    os.close(write)
    os.set_blocking(read, False)
    return read, _identity(read)


def _identity(fd: int) -> tuple[int, int]:
    status = os.fstat(fd)
    return status.st_dev, status.st_ino


# One byte in a pipe made before any worker is forked: every worker inherits the same pipe,
# and reading one byte is atomic, so exactly one process of the family gets it.
_SAY_ONCE = _token()
_said_here = False  # where the pipe cannot be used: once per process


def say_once() -> bool:
    """True for the first caller among this process and every worker forked from it, False
    for all later ones: a warning that each worker would meet (a damaged role model file)
    is printed once, by whichever process meets it first, not once per worker. (Workers
    started by spawn, off Linux, each say it once.)"""
    global _said_here
    token = _SAY_ONCE
    try:
        # The descriptor must still be our pipe: a daemonising caller may have closed it and
        # the number been reused for a file of its own.
        if token is not None and _identity(token[0]) == token[1]:
            return os.read(token[0], 1) == b"!"
    except BlockingIOError:
        return False
    except OSError:
        pass
    first, _said_here = not _said_here, True
    return first


def _interrupt(signum: int, frame: FrameType | None) -> None:
    if os.getpid() != _owner:
        # A process forked from the command, hit before it set its own handler (a worker
        # starting up): it ends as SIGTERM ends any process, not with a traceback.
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    raise KeyboardInterrupt


def terminate_as_interrupt() -> None:
    """In the command's process: SIGTERM is handled like Ctrl-C (exit status 130)."""
    global _owner
    _owner = os.getpid()
    signal.signal(signal.SIGTERM, _interrupt)


_STOPS = {signal.SIGINT, signal.SIGTERM}


@contextmanager
def forking() -> Iterator[None]:
    """Around a fork: Ctrl-C and SIGTERM wait until it is over. One that came while Python ran
    its at-fork callbacks was swallowed ("Exception ignored in: _releaseLock"), and one that
    reached a new worker before Python reset its signal flags was lost: either way the
    command never stopped (1 run in 20 of a SIGTERM at start-up). Blocked, the signal waits
    in the kernel: the parent gets it as soon as the fork is done, the worker once
    :func:`init_worker` has set what it does there. The mask is the calling thread's: the
    command forks its workers while it has that one thread."""
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no fork either
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _STOPS)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def init_worker(leftovers: str | None = None) -> None:
    """In a worker process, first thing: the parent decides on Ctrl-C, SIGTERM ends the
    worker (a forked worker inherits the parent's handler, which would raise in it), and the
    worker exits, removing ``leftovers`` (a directory), once its parent is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # forked under forking(): a SIGTERM may be waiting
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _STOPS)
    # The pid the parent recorded when it made this process: os.getppid() here would already
    # be init's if the parent died while this one started.
    creator = multiprocessing.parent_process()
    parent = creator.pid if creator is not None and creator.pid else os.getppid()
    threading.Thread(
        target=_exit_with_parent, args=(parent, leftovers), name="orphan-watch", daemon=True
    ).start()


def _exit_with_parent(parent: int, leftovers: str | None) -> None:
    # An orphan is adopted by another process (init, or a subreaper): its parent id changes.
    while os.getppid() == parent:
        time.sleep(ORPHAN_POLL_SECONDS)
    if leftovers is not None:
        shutil.rmtree(leftovers, ignore_errors=True)
    os._exit(1)
