"""Deprecated: the number rules this module held (it held no settings) are :mod:`ner.commands`'
:func:`~ner.commands.positive_int` and :func:`~ner.commands.positive_seconds`."""
from __future__ import annotations

import warnings

from .commands import positive_int, positive_seconds

__all__ = ["positive_int", "positive_seconds"]

warnings.warn("ner.settings is deprecated: import positive_int and positive_seconds from ner.commands",
              DeprecationWarning, stacklevel=2)
