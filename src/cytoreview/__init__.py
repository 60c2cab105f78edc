"""cytoreview: from PMIDs and DOIs to what each paper was for, what it found, what it concludes.

The library comes first; ``cytoreview`` the command is a thin caller of it::

    from cytoreview import fetch
    result = fetch(["15461571", "10.1097/01.cco.0000142070.45097.68"])
    for article in result.articles:
        print(article.title, article.summary.key_findings)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from .model import Article
    from .service import FetchResult, fetch, search

__all__ = ["Article", "FetchResult", "__version__", "fetch", "search"]


def __getattr__(name: str) -> Any:
    # Lazy, so `import cytoreview` stays cheap for the CLI's --help and worker processes.
    if name in ("fetch", "search", "FetchResult"):
        from . import service

        return getattr(service, name)
    if name == "Article":
        from .model import Article

        return Article
    raise AttributeError(name)
