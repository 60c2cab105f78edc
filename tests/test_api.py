"""The library's front door: what `import cytoreview` offers a notebook or a pipeline."""

from __future__ import annotations

import subprocess
import sys

import cytoreview


def test_every_public_name_resolves_and_is_listed() -> None:
    for name in cytoreview.__all__:
        assert getattr(cytoreview, name) is not None, name
    assert set(dir(cytoreview)) >= set(cytoreview.__all__)  # tab completion
    assert issubclass(cytoreview.ServiceUnavailable, cytoreview.CytoreviewError)


def test_importing_the_package_stays_cheap() -> None:
    # The command's --help and every worker process import it: nothing heavy on import.
    code = ("import sys, cytoreview\n"
            "print(sorted(m for m in ('httpx', 'lxml', 'numpy') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, timeout=60)
    assert out.stdout.strip() == "[]"
