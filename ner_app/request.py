"""The one home of a request's options and limits: every road in checks a request here, and the REST schema is
written from here.

A request is one text or several, each at most ``NER_MAX_CHARS`` characters, with optional ``dictionary``,
``min_score``, ``types`` and ``offsets``.  REST (:mod:`ner_app.rest`), the Gradio client endpoints on every road
(``/call``, ``/run``, ``/api``, the queue: :mod:`ner_app.client_api`), MCP, the page and Ray Serve call
:class:`RequestChecks`, so the same bad input gets the same status and the same message everywhere:

* 400: not the shape of a request (not JSON, not an object, neither or both of ``text`` and ``texts``);
* 413: over a limit (a text's characters, the number of texts, the characters of all texts, the dictionary's
  entries or characters);
* 422: a field whose value cannot be used (a text that is not a string, ``min_score`` 5, a type the model does not
  have) -- Gradio's clients read a 422 as a refused parameter and name it.

To add a request option: a row in :data:`FIELDS`, its check in :meth:`RequestChecks.options`, its use where the
options are applied (:meth:`Options.keep`, or the engine call).
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ner
from ner.textio import well_formed

from . import userdict
from .config import Settings

MALFORMED, TOO_LARGE, INVALID = 400, 413, 422
#: ``offsets``: code points (Python string indices) or UTF-16 code units (JavaScript's: an emoji counts 2)
OFFSET_MODES = ("code-points", "utf16")
#: the one text every example and pre-filled request holds
EXAMPLE = "张三在北京清华大学任职。"

#: Each field of a request: what it is and what /docs, ``view_api()`` and the MCP tool list say of it.
FIELDS: dict[str, str] = {
    "text": "one Chinese text (a lone surrogate is read as U+FFFD, one code point for one)",
    "texts": "several texts, answered in order (REST only)",
    "dictionary": "this request's own user dictionary, one entry per item: \"字节跳动 ORG\" forces an entity, "
                  "\"-星巴克 PER\" blocks one (text and type separated by a space, tab, comma or colon; REST only)",
    "min_score": "keep entities whose score is at least this (0 to 1; default 0: all)",
    "types": "keep only these entity types, e.g. [\"PER\", \"ORG\"] (default: every type of the model)",
    "offsets": "\"code-points\" (default; Python string indices) or \"utf16\" (JavaScript string indices: an emoji "
               "counts 2)",
}


class Refused(ValueError):
    """A request the server will not run: ``status`` (400, 413 or 422), the ``field`` at fault (None: the request
    as a whole) and a ``message`` that is safe to show and says what to change."""

    def __init__(self, status: int, message: str, field: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field


@dataclass(frozen=True)
class Options:
    """The optional fields of one request, checked."""

    dictionary: ner.Dictionary | None = None
    min_score: float = 0.0
    types: frozenset[str] | None = None
    offsets: str = "code-points"

    def keep(self, entities: Sequence[ner.Entity]) -> list[ner.Entity]:
        """The entities at or above ``min_score`` whose type is one of ``types``.

        Scores compare as shown (``Entity.to_dict`` rounds to 4 places): a threshold typed from a shown score
        keeps that entity."""
        return [e for e in entities
                if round(e.score, 4) >= self.min_score and (self.types is None or e.label in self.types)]


@dataclass(frozen=True)
class Call:
    """A checked request: its texts (well-formed), whether it was one ``text`` (not ``texts``), its options."""

    texts: list[str]
    single: bool
    options: Options


class InFlight:
    """The requests being worked on by the roads outside Gradio's queue (REST, ``/run`` and ``/api``, MCP): at most
    ``limit`` at once (``NER_QUEUE_SIZE``, the queue's own cap).  REST and ``/run`` refuse a request when it is
    :meth:`full`; an MCP call waits for its turn (``async with``)."""

    def __init__(self, limit: int):
        self._slots = asyncio.Semaphore(limit)

    def full(self) -> bool:
        return self._slots.locked()

    async def __aenter__(self) -> None:
        await self._slots.acquire()

    async def __aexit__(self, *exc: object) -> None:
        self._slots.release()


def json_type(value: object) -> str:
    """``value``'s type as a JSON client calls it: "null", "a list", "an object"..."""
    if value is None:
        return "null"
    return {bool: "a boolean", int: "a number", float: "a number", str: "a string", list: "a list",
            tuple: "a list", dict: "an object"}.get(type(value), type(value).__name__)


def _shown(value: object) -> str:
    """A client's value quoted back, short."""
    try:
        out = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError):
        out = json_type(value)
    return out if len(out) <= 40 else out[:39] + "…"


class RequestChecks:
    """The checks of one server's requests: its limits (:class:`Settings`) and its model's ``types``."""

    def __init__(self, settings: Settings, types: Sequence[str], names: Mapping[str, str] | None = None):
        self.settings = settings
        self.types = list(types)
        self.names = dict(names or {})

    # ------------------------------------------------------------ fields

    def text(self, value: object, field: str = "text") -> str:
        """``value`` made well-formed (:func:`ner.textio.well_formed`), or :class:`Refused`."""
        if not isinstance(value, str):
            hint = "; send one text per call (REST takes several as \"texts\")" if isinstance(value, list) else ""
            raise Refused(INVALID, f"{field} must be a string, not {json_type(value)}{hint}", field)
        limit = self.settings.max_chars
        if len(value) > limit:
            raise Refused(TOO_LARGE, f"{field} has {len(value)} characters; at most {limit} per text: split it",
                          field)
        return well_formed(value)

    def texts(self, values: object) -> list[str]:
        """The REST field ``texts``: a list of at most ``max_texts`` texts of at most ``max_request_chars``
        characters in all."""
        if not isinstance(values, list):
            raise Refused(INVALID, f"texts must be a list of strings, not {json_type(values)}", "texts")
        if len(values) > self.settings.max_texts:
            raise Refused(TOO_LARGE, f"texts has {len(values)} items; at most {self.settings.max_texts} per request",
                          "texts")
        texts = [self.text(t, f"texts[{i}]") for i, t in enumerate(values)]
        total = sum(map(len, texts))
        if total > self.settings.max_request_chars:
            raise Refused(TOO_LARGE, f"texts have {total} characters in all; at most "
                                     f"{self.settings.max_request_chars} per request: split them over several "
                                     f"requests", "texts")
        return texts

    def options(self, values: Mapping[str, Any]) -> Options:
        """The optional fields ``dictionary``, ``min_score``, ``types`` and ``offsets`` (a missing or null one
        takes its default), or :class:`Refused`."""
        try:
            dictionary = userdict.from_lines(values.get("dictionary"), self.settings, self.types, self.names)
        except userdict.DictionaryRefused as exc:
            raise Refused(TOO_LARGE if exc.kind == "size" else INVALID, exc.message, "dictionary") from None
        min_score = values.get("min_score")
        if min_score is None:
            min_score = 0.0
        elif isinstance(min_score, bool) or not isinstance(min_score, (int, float)) or not 0 <= min_score <= 1:
            raise Refused(INVALID, f"min_score must be a number from 0 to 1, not {_shown(min_score)}", "min_score")
        wanted = values.get("types")
        if wanted is not None:
            if not isinstance(wanted, list) or not all(isinstance(t, str) for t in wanted):
                raise Refused(INVALID, f"types must be a list of type names such as {_shown(self.types[:2])}, "
                                       f"not {json_type(wanted)}", "types")
            unknown = [t for t in wanted if t not in self.types]
            if unknown:
                raise Refused(INVALID, f"types: {_shown(unknown[0])} is not a type of this model "
                                       f"({', '.join(self.types)})", "types")
        offsets = values.get("offsets")
        if offsets is None:
            offsets = "code-points"
        elif offsets not in OFFSET_MODES:
            raise Refused(INVALID, f"offsets must be one of {', '.join(OFFSET_MODES)}, not {_shown(offsets)}",
                          "offsets")
        return Options(dictionary, float(min_score), None if wanted is None else frozenset(wanted), offsets)

    # ------------------------------------------------------------ whole requests

    def body(self, raw: bytes) -> Call:
        """A REST body (JSON bytes), or :class:`Refused`."""
        try:
            payload = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            raise Refused(MALFORMED, "request body is not valid JSON") from None
        except RecursionError:  # arrays nested thousands deep: no request of ours looks like that
            raise Refused(MALFORMED, "request body is nested too deeply; send {\"text\": \"...\"}") from None
        return self.payload(payload)

    def payload(self, payload: object) -> Call:
        """A REST request as parsed JSON: exactly one of ``text`` and ``texts``, plus the options."""
        if not isinstance(payload, dict):
            raise Refused(MALFORMED, 'request body must be a JSON object: {"text": "..."} or {"texts": ["...", ...]}')
        has_text, has_texts = "text" in payload, "texts" in payload
        if has_text == has_texts:
            raise Refused(MALFORMED, 'send exactly one of "text" (a string) and "texts" (a list of strings)')
        texts = [self.text(payload["text"])] if has_text else self.texts(payload["texts"])
        return Call(texts, has_text, self.options(payload))

    def call(self, data: object, params: Sequence[str]) -> Call:
        """A Gradio client call or an MCP tool call: ``data``, its values in the order of ``params`` (the
        endpoint's parameters, ``text`` first; the rest may be left out), or a mapping of them by name."""
        if isinstance(data, Mapping):
            unknown = [k for k in data if k not in params]
            if unknown:
                raise Refused(MALFORMED, f"{_shown(unknown[0])} is not a parameter; the parameters are "
                                         f"{', '.join(params)}")
            values = dict(data)
        elif isinstance(data, list):
            if len(data) > len(params):
                raise Refused(MALFORMED, f"{len(data)} values sent; this endpoint takes at most {len(params)}: "
                                         f"{', '.join(params)}")
            values = dict(zip(params, data))
        else:
            raise Refused(MALFORMED, f"data must be a list of the values of {', '.join(params)}, not "
                                     f"{json_type(data)}")
        if "text" not in values:
            raise Refused(MALFORMED, f"no text sent; send the values of {', '.join(params)} in that order", "text")
        return Call([self.text(values["text"])], True, self.options(values))

    # ------------------------------------------------------------ what the docs say

    def schema(self) -> dict:
        """The JSON schema of a REST request body (OpenAPI 3.0), written from :data:`FIELDS` and the limits.

        Its ``example`` is a valid one-text request: what /docs pre-fills for "Try it out"."""
        s = self.settings
        text = {"type": "string", "maxLength": s.max_chars}
        return {
            "title": "NerRequest", "type": "object",
            "description": 'exactly one of "text" and "texts"; the other fields are optional',
            "properties": {
                "text": {**text, "description": FIELDS["text"], "example": EXAMPLE},
                "texts": {"type": "array", "items": text, "maxItems": s.max_texts, "description": FIELDS["texts"]},
                "dictionary": {"type": "array", "items": {"type": "string"}, "maxItems": s.max_dict_entries,
                               "description": FIELDS["dictionary"]},
                "min_score": {"type": "number", "minimum": 0, "maximum": 1, "default": 0,
                              "description": FIELDS["min_score"]},
                "types": {"type": "array", "items": {"type": "string", "enum": list(self.types)},
                          "description": FIELDS["types"]},
                "offsets": {"type": "string", "enum": list(OFFSET_MODES), "default": "code-points",
                            "description": FIELDS["offsets"]},
            },
            "example": {"text": EXAMPLE},
        }
