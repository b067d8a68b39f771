"""The Gradio client API (``/recognize`` and ``/extract``, also the MCP tools): hidden typed inputs, the handlers
(batched: concurrent calls share one engine call) and their validator, all checked by :mod:`ner_app.request`."""
from __future__ import annotations

import logging
from collections.abc import Sequence

import gradio as gr

import ner

from . import view
from .base import ServiceBase
from .gate import EngineClosed
from .inputs import api_text, as_sent, describe, entities_json
from .request import FIELDS, OFFSET_MODES, Call, Refused

log = logging.getLogger(__name__)

#: each client endpoint's parameters, in order (what its ``data`` list holds)
PARAMS = {"recognize": ("text", "min_score", "types"), "extract": ("text", "min_score", "types", "offsets")}
#: what the API panel ("通过 API 使用") says of each client endpoint; the REST API is the other way in
REST_NOTE = ("The same recognizer is a JSON REST API on this server: POST /api/v1/ner with {\"text\": \"...\"} "
             "or {\"texts\": [...]} (plus optional dictionary, min_score, types, offsets); see /docs.")
API_NOTE = {"recognize": "Find the people, places and organizations in a Chinese text; returns the text cut into "
                         "tokens, each with its entity type or null. " + REST_NOTE,
            "extract": "Find the people (PER), places (LOC) and organizations (ORG) in a Chinese text; returns "
                       "{\"entities\": [{\"text\", \"type\", \"start\", \"end\", \"score\", \"source\"}]} with "
                       "text == input[start:end]. " + REST_NOTE}
#: requests of one engine call at most (Gradio's batch)
MAX_BATCH = 16


class ClientHandlers(ServiceBase):
    """The client endpoints' handlers and validator, a part of :class:`ner_app.service.NerService`."""

    def check_call(self, values: Sequence, params: Sequence[str]) -> Call:
        """One client call's values (in the order of ``params``) checked by the one request check."""
        return self.checks.call(list(values), params)

    def validate_call(self, text: list, *params: list) -> list[list]:
        """The client endpoints' validator: runs on each request before it joins a batch.

        Returns one ``gr.validate`` per input for each request: a refusal is an HTTP 422 whose message
        gradio_client shows against the parameter at fault ("- types: types: "XX" is not a type..."), and fails
        only that request, never its batch-mates.  Batch functions get one list per input, so ``text`` is a list
        (of one text) despite its name; ``params`` are min_score, types and offsets, as many as the endpoint has.
        """
        names = PARAMS["extract"][: 1 + len(params)]
        n = len(text)
        columns = [list(p) for p in params]
        verdicts = [[gr.validate(True, "")] * n for _ in names]
        for i in range(n):
            try:
                self.check_call([text[i], *(c[i] for c in columns)], names)
            except Refused as exc:
                verdicts[names.index(exc.field) if exc.field in names else 0][i] = gr.validate(False, exc.message)
        return verdicts

    def _recognize_each(self, texts: list[str]) -> list[list[ner.Entity] | None]:
        """Entities of each text of a batch; ``None`` for a text the engine failed on.

        The requests of a Gradio batch come from different callers: when the
        engine fails on the batch, each text is retried alone, so one bad text
        cannot fail its batch-mates.
        """
        try:
            return list(self.engine.recognize_batch(texts))
        except EngineClosed:
            return [None] * len(texts)
        except Exception:
            log.exception("batch of %d failed; retrying each text alone", len(texts))
        out: list[list[ner.Entity] | None] = []
        for t in texts:
            try:
                out.append(self.engine.recognize(t))
            except Exception:
                log.exception("recognition failed for one text of %d chars", len(t))
                out.append(None)
        return out

    def _calls(self, columns: Sequence[Sequence | None], params: Sequence[str]) -> list[Call | Refused]:
        """Each request of a batch, checked (a refused one stays a :class:`Refused`: it fails alone)."""
        n = len(columns[0] or [])
        cols = [list(c) if c is not None else [None] * n for c in columns]
        out: list[Call | Refused] = []
        for i in range(n):
            try:
                out.append(self.check_call([c[i] for c in cols], params))
            except Refused as exc:
                out.append(exc)
        return out

    def _run(self, calls: list[Call | Refused]) -> list[list[ner.Entity] | None]:
        texts = [c.texts[0] for c in calls if isinstance(c, Call)]
        found = iter(self._recognize_each(texts))
        return [next(found) if isinstance(c, Call) else None for c in calls]

    def highlight_entities(self, text: list[str], min_score: list[float] | None = None,
                           types: list[list[str] | None] | None = None) -> tuple[list[list[tuple[str, str | None]]]]:
        """Find the people, places and organizations in a Chinese text, as a highlighted text.

        Args:
            text: the Chinese text (one string, at most NER_MAX_CHARS characters; a lone surrogate is read as U+FFFD).
            min_score: keep only entities whose confidence is at least this (0 to 1; default 0: all).
            types: keep only these entity types, e.g. ["PER", "ORG"] (default: every type of the model).

        Returns:
            the text cut into tokens, none empty: [{"token": "张三", "class_or_confidence": "PER"}, {"token": "在", "class_or_confidence": null}, ...]
        """
        calls = self._calls([text, min_score, types], PARAMS["recognize"])
        return ([view.highlight_tokens(c.texts[0], c.options.keep(ents or [])) if isinstance(c, Call) else []
                 for c, ents in zip(calls, self._run(calls), strict=True)],)

    def extract_entities(self, text: list[str], min_score: list[float] | None = None,
                         types: list[list[str] | None] | None = None,
                         offsets: list[str] | None = None) -> tuple[list[dict]]:
        """Find the people (PER), places (LOC) and organizations (ORG) in a Chinese text, with offsets and scores.

        Args:
            text: the Chinese text (one string, at most NER_MAX_CHARS characters; a lone surrogate is read as U+FFFD).
            min_score: keep only entities whose confidence is at least this (0 to 1; default 0: all).
            types: keep only these entity types, e.g. ["PER", "ORG"] (default: every type of the model).
            offsets: "code-points" (default; Python string indices) or "utf16" (JavaScript string indices: an emoji counts 2).

        Returns:
            {"entities": [{"text": "张三", "type": "PER", "start": 0, "end": 2, "score": 0.98, "source": "model"}, ...]}: text == input[start:end]; source is "dictionary" for an entity the server's user dictionary forced
        """
        calls = self._calls([text, min_score, types, offsets], PARAMS["extract"])
        out: list[dict] = []
        for c, ents in zip(calls, self._run(calls), strict=True):
            if isinstance(c, Refused):
                out.append({"entities": [], "error": c.message})
            elif ents is None:
                out.append({"entities": [], "error": "recognition failed inside the engine"})
            else:
                out.append({"entities": view.entity_dicts(c.texts[0], c.options.keep(ents), c.options.offsets)})
        return (out,)


def add_client_api(service: ClientHandlers) -> None:
    """Declare the client endpoints inside the page's ``gr.Blocks`` (hidden): ``/recognize`` and ``/extract``,
    batched up to :data:`MAX_BATCH` requests, as many batches at once as the engine gate has slots (Gradio's
    default is one per event).  The roads in front of Gradio (:mod:`ner_app.roads`) know them by their
    ``api_name`` (the keys of :data:`PARAMS`)."""
    settings = service.settings
    text = api_text("text", f"{FIELDS['text']}; at most {settings.max_chars} characters")
    min_score = describe(as_sent(gr.Slider(0, 1, value=0, label="min_score", visible=False)), FIELDS["min_score"])
    types = describe(as_sent(gr.Dropdown(service.types, value=None, multiselect=True, allow_custom_value=True,
                                         label="types", visible=False)), FIELDS["types"])
    offsets = describe(as_sent(gr.Dropdown(list(OFFSET_MODES), value="code-points", allow_custom_value=True,
                                           label="offsets", visible=False)), FIELDS["offsets"])
    recognize, extract = gr.Button(visible=False), gr.Button(visible=False)
    recognize.click(service.highlight_entities, [text, min_score, types],
                    gr.HighlightedText(label="highlighted text", color_map=service.colors, visible=False),
                    api_name="recognize", batch=True, max_batch_size=MAX_BATCH, validator=service.validate_call,
                    api_description=API_NOTE["recognize"], concurrency_limit=settings.engine_slots)
    extract.click(service.extract_entities, [text, min_score, types, offsets], entities_json("entities"),
                  api_name="extract", batch=True, max_batch_size=MAX_BATCH, validator=service.validate_call,
                  api_description=API_NOTE["extract"], concurrency_limit=settings.engine_slots)
