"""The trained sentence-role model (placeholder until the model file ships)."""

from __future__ import annotations

from typing import Any


def load_default() -> Any:
    return None
