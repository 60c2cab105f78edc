"""Test helpers shipped with cytoreview: the local NCBI E-utilities stand-in.

``from cytoreview.testing import EutilsServer, load_store`` (imported lazily, so that
``python -m cytoreview.testing.eutils_server`` runs cleanly).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .eutils_server import FAULT_KINDS, EutilsServer, RequestRecord
    from .records import RecordStore, find_data_files, load_store

__all__ = [
    "FAULT_KINDS",
    "EutilsServer",
    "RecordStore",
    "RequestRecord",
    "find_data_files",
    "load_store",
]

_WHERE = {
    "FAULT_KINDS": "eutils_server",
    "EutilsServer": "eutils_server",
    "RequestRecord": "eutils_server",
    "RecordStore": "records",
    "find_data_files": "records",
    "load_store": "records",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        import importlib

        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
