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


class BatchError(NerError):
    """A batch run (``ner-batch``) that cannot start or go on; the message says what to change."""


class StrictStop(BatchError):
    """``--strict``: the run stopped at a malformed record (everything before it is written)."""


class FormatError(NerError, ValueError):
    """An annotation or dictionary file that cannot be read; the message names the file and line.

    The same facts as fields, so a caller never parses the message: ``where`` (the file or
    field), ``line`` (1-based; 0 when the error is not about one line), ``kind`` (what is
    wrong, e.g. ``"type"`` for a type the model does not have; ``"format"`` when nothing
    more specific applies), ``detail`` (the message without ``where:line:``) and ``value``
    (the offending line or name, as written).
    """

    def __init__(self, message: str, *, where: str = "", line: int = 0, kind: str = "format",
                 detail: str = "", value: str = ""):
        super().__init__(message)
        self.where, self.line, self.kind, self.value = where, line, kind, value
        self.detail = detail or message

    @classmethod
    def at(cls, where: str, line: int, detail: str, kind: str = "format", value: str = "") -> "FormatError":
        """The error of line ``line`` of ``where``: its message reads ``where:line: detail``."""
        return cls(f"{where}:{line}: {detail}", where=where, line=line, kind=kind, detail=detail, value=value)

    def __reduce__(self):  # keep the fields across processes (the batch workers)
        return _rebuild_format_error, (str(self), self.where, self.line, self.kind, self.detail, self.value)


def _rebuild_format_error(message: str, where: str, line: int, kind: str, detail: str, value: str) -> FormatError:
    return FormatError(message, where=where, line=line, kind=kind, detail=detail, value=value)
