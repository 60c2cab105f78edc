"""cytoreview's exceptions and exit statuses.

One tree, so a caller can catch ``CytoreviewError`` and a script can rely on exit codes::

    CytoreviewError              anything cytoreview raises on purpose
    ├── InvalidInput             exit 2: bad identifier, ID list file, option or local file
    │   ├── InvalidIdentifier
    │   └── UnreadableFile       missing, unreadable, not XML, truncated (names file and position)
    ├── NotFound                 exit 1: an input that NCBI does not know
    ├── Interrupted              exit 130: Ctrl-C during a fetch (holds what was fetched)
    ├── Cancelled                (in eutils) a request of a cancelled client; fetch and search
    │                            cancel only the client they made for the run
    └── ServiceError             exit 1: E-utilities could not be reached or kept failing
        ├── ServiceUnavailable   connection refused, DNS failure, timeouts (names the URL)
        └── QueryRejected        exit 2: NCBI cannot read a search query (not retried)

    CytoreviewWarning            the work goes on, but the user should know (a damaged role
                                 model file: the cue-phrase baseline stands in)

Low-level errors (httpx, lxml, OSError) are translated into these in one place per module,
always with ``raise ... from exc`` so the cause survives for debugging.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from cytoreview.fetcher import FetchResult


class ExitStatus(IntEnum):
    """The exit codes of INTERFACE.md."""

    SUCCESS = 0
    PARTIAL = 1  # some inputs not found or not retrieved; the rest was output
    USAGE = 2  # usage error or unreadable input
    INTERRUPTED = 130  # Ctrl-C; what was fetched is kept


class CytoreviewError(Exception):
    """Base class. ``str(err)`` is a one-line message that names the input concerned."""

    exit_status: ExitStatus = ExitStatus.PARTIAL


class CytoreviewWarning(UserWarning):
    """Issued with :func:`warnings.warn`; the command line prints it as one line."""


class InvalidInput(CytoreviewError):
    """Something the caller gave cannot be used: an option, an ID list, a query, a setting."""

    exit_status = ExitStatus.USAGE


class InvalidIdentifier(InvalidInput):
    """An identifier that is no PMID, DOI, PMCID or record URL; ``text`` is what was given."""

    def __init__(self, text: str, reason: str = "not a PMID, DOI, PMCID or PubMed/doi.org URL"):
        self.text = text
        self.reason = reason
        # A pasted paragraph stays a one-line message.
        shown = repr(text) if len(text) <= 120 else f"{text[:100]!r}... ({len(text):,} characters)"
        super().__init__(f"{shown}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # Rebuilt from its own arguments: raised in a worker process, it crosses back pickled
        # (the default passes the message as the only argument and breaks the pool).
        return type(self), (self.text, self.reason)


class UnreadableFile(InvalidInput):
    """A local file that is missing, unreadable, not PubMed XML or cut short; ``reason`` says
    which, with the line and column or byte where that is known."""

    def __init__(self, path: str, reason: str):
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.path, self.reason)


class NotFound(CytoreviewError):
    """An input that PubMed does not know (a fetch reports these in ``result.failures``)."""

    exit_status = ExitStatus.PARTIAL


class Interrupted(CytoreviewError):
    """Ctrl-C: ``result`` holds everything fetched so far (it is in the cache too).

    Defined here rather than in :mod:`cytoreview.fetcher` so that catching it does not
    import the HTTP stack (``parse`` never needs it)."""

    exit_status = ExitStatus.INTERRUPTED

    def __init__(self, result: FetchResult, remaining: list[str], cached: bool = True):
        self.result = result
        self.remaining = remaining
        self.cached = cached  # whether what was fetched is in the cache (not with --no-cache)
        super().__init__(f"interrupted: {len(remaining)} input(s) not fetched")


class ServiceError(CytoreviewError):
    """E-utilities answered wrongly or kept failing after the retries NCBI's advice allows."""

    exit_status = ExitStatus.PARTIAL


class QueryRejected(ServiceError):
    """NCBI answered that it cannot read the query ("(cancer AND"): asking again is no use."""

    exit_status = ExitStatus.USAGE


class ServiceUnavailable(ServiceError):
    """E-utilities (or the PMC ID Converter) cannot be reached at all: refused, no such host,
    timed out. ``url`` is the one that failed, without its query (and so without the key)."""

    def __init__(self, url: str, reason: str):
        self.url = url
        self.reason = reason
        super().__init__(f"cannot reach {url}: {reason}")

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return type(self), (self.url, self.reason)
