"""cytoreview: from PMIDs and DOIs to what each paper was for, what it found, what it concludes.

The library comes first; ``cytoreview`` the command is a thin caller of it::

    from cytoreview import fetch
    result = fetch(["15461571", "10.1097/01.cco.0000142070.45097.68"])
    for article in result.articles:
        print(article.title, article.summary.key_findings)

Also here: ``search``, ``parse_file`` / ``parse_files`` (local PubMed XML), ``annotate`` /
``annotate_many`` (sentence roles for articles built in code), ``Article``, and the exception
tree under ``CytoreviewError`` (:mod:`cytoreview.errors`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .errors import (
        CytoreviewError,
        CytoreviewWarning,
        InvalidIdentifier,
        InvalidInput,
        NotFound,
        QueryRejected,
        ServiceError,
        ServiceUnavailable,
        UnreadableFile,
    )
    from .filepool import parse_files
    from .localfiles import parse_file
    from .model import Article
    from .roles import annotate, annotate_many
    from .service import FetchResult, fetch, search

# Where each public name lives; imported on first use, so `import cytoreview` stays cheap for
# the command's --help and for worker processes.
_LAZY = {
    "fetch": "service", "search": "service", "FetchResult": "service",
    "parse_file": "localfiles", "parse_files": "filepool",
    "annotate": "roles", "annotate_many": "roles",
    "Article": "model",
    "CytoreviewError": "errors", "CytoreviewWarning": "errors", "InvalidInput": "errors",
    "InvalidIdentifier": "errors", "UnreadableFile": "errors", "NotFound": "errors",
    "ServiceError": "errors", "ServiceUnavailable": "errors", "QueryRejected": "errors",
}  # fmt: skip

__all__ = [
    "Article", "CytoreviewError", "CytoreviewWarning", "FetchResult", "InvalidIdentifier",
    "InvalidInput", "NotFound", "QueryRejected", "ServiceError", "ServiceUnavailable",
    "UnreadableFile", "__version__", "annotate", "annotate_many", "fetch", "parse_file",
    "parse_files", "search",
]  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cytoreview' has no attribute {name!r}")
    from importlib import import_module

    return getattr(import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    # Tab completion in a notebook shows the public names, lazy ones included.
    return sorted(__all__)
