"""Lazy imports of the optional heavy dependencies, with an error that says what to install."""
from __future__ import annotations

import importlib

EXTRAS_FILE = "requirements-export.txt"


def require(module: str, purpose: str):
    """Import ``module`` or raise ``ImportError`` naming the requirements file that provides it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise ImportError(
            f"{purpose} needs the optional package '{module.split('.')[0]}', which is not installed. "
            f"Install the extras with: pip install -r {EXTRAS_FILE}"
        ) from exc
