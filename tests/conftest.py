"""Shared fixtures: the local E-utilities stand-in, loaded once per session with real records.

No test talks to anything but 127.0.0.1: ``eutils`` points the tool at a fresh stand-in server
and a fresh cache directory for every test, and in this process any connection to an address
that is not loopback, and any name lookup but localhost, fails at once (the commands that
tests run as child processes get the stand-in's URL from the environment the same fixture
sets).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from cytoreview.testing.eutils_server import EutilsServer
from cytoreview.testing.records import RecordStore, load_store

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "data" / "seeds"
SHARED_DATA = ROOT.parent / "shared" / "data"
TRAIN_2021 = SHARED_DATA / "pubmed21n1298.train.xml.gz"
BASELINE_2020 = SHARED_DATA / "pubmed20n0014.xml.gz"


def pytest_configure(config: pytest.Config) -> None:
    # Without the real files the stand-in serves the seeds only, and a third of the suite
    # would fail on records it lacks, each in its own way: one clear stop instead.
    missing = [p for p in (TRAIN_2021, BASELINE_2020) if not p.is_file()]
    if missing:
        raise pytest.UsageError(
            f"the tests need the real PubMed files of ../shared/data beside this checkout; "
            f"not found: {', '.join(map(str, missing))}"
        )


class NetworkRefused(OSError):
    """A test tried to reach a host other than this machine."""


def _refuse_beyond_loopback(host: Any) -> None:
    """Raise unless ``host`` is this machine; a name other than localhost is refused before
    any DNS query goes out."""
    host = str(host)
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        loopback = False
    if not loopback:
        raise NetworkRefused(f"tests may only connect to 127.0.0.1, not {host}")


def _loopback_only(real: Any) -> Any:
    def connect(sock: socket.socket, address: Any) -> Any:
        if sock.family in (socket.AF_INET, socket.AF_INET6):
            _refuse_beyond_loopback(address[0])
        return real(sock, address)

    return connect


def _resolve_loopback_only(real: Any) -> Any:
    # Address literals need no lookup (connect() above judges them; servers bind to 0.0.0.0),
    # nor does this machine's own name: only other names are refused.
    local = {"", "localhost", socket.gethostname()}

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and name not in local:
            try:
                ipaddress.ip_address(name)
            except ValueError:
                _refuse_beyond_loopback(name)
        return real(host, *args, **kwargs)

    return getaddrinfo


@pytest.fixture(scope="session", autouse=True)
def _no_network_beyond_loopback() -> Iterator[None]:
    saved = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    socket.socket.connect = _loopback_only(saved[0])  # type: ignore[method-assign]
    socket.socket.connect_ex = _loopback_only(saved[1])  # type: ignore[method-assign]
    socket.getaddrinfo = _resolve_loopback_only(saved[2])
    try:
        yield
    finally:
        socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = saved  # type: ignore[method-assign]


@pytest.fixture(scope="session")
def store() -> RecordStore:
    """The seed records plus the 16,599 real 2021 records."""
    files = [SEEDS / "seeds.xml"]
    if TRAIN_2021.exists():
        files.append(TRAIN_2021)
    return load_store(files)


@pytest.fixture
def eutils(store: RecordStore, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
           ) -> Iterator[EutilsServer]:
    """A stand-in with NCBI's rate limit; the environment points cytoreview at it."""
    with EutilsServer(store=store) as server:
        monkeypatch.setenv("CYTOREVIEW_EUTILS_URL", server.url)
        monkeypatch.setenv("CYTOREVIEW_IDCONV_URL", server.idconv_url)
        monkeypatch.setenv("CYTOREVIEW_CACHE_DIR", str(tmp_path / "cache"))
        monkeypatch.setenv("NCBI_EMAIL", "reviewer@example.org")
        monkeypatch.delenv("NCBI_API_KEY", raising=False)
        monkeypatch.setenv("NO_COLOR", "1")
        yield server
