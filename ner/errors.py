"""The one exception family of the package: every error it raises on purpose is a :class:`NerError`."""
from __future__ import annotations


class NerError(Exception):
    """Base of the package's own errors; the message says what is wrong and how to fix it."""


class ModelError(NerError, RuntimeError):
    """A model directory that cannot be used."""


class HubError(NerError, RuntimeError):
    """A model could not be fetched from ModelScope."""


class HubUnavailable(HubError):
    """ModelScope cannot be reached from this machine."""


class FormatError(NerError, ValueError):
    """An annotation or dictionary file that cannot be read; the message names the file and line."""
