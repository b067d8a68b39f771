"""The one table of output formats: what the page's downloads, ``python -m ner --format`` and the page's labels read.

Each :class:`Output` says its key, its download file name, its label in Chinese and English, its writer and its
unit: ``"text"`` (the whole text is one record, offsets into it) or ``"line"`` (one record per non-blank line,
offsets into the line).  A per-line output is always cut from the result of the *whole* text (an entity across a
line break, which no line can hold, is left out), on the page and in the command alike, so the same text gives
the same file everywhere.  To add a format: a writer here (and its reader in :mod:`ner.formats` when tools send
files back), and a row in :data:`OUTPUTS`; the page's buttons, the CLI's ``--format`` and i18n follow.

``ner-batch`` writes corpora (JSONL, CSV, Parquet records of many texts, :mod:`ner.batch.writers`): a different
kind of output, named apart.
"""
from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from . import formats
from .csvout import entities_csv
from .entity import Entity
from .formats import Example

#: ``(text, entities, model name, the model's types) -> file content``
Writer = Callable[[str, Sequence[Entity], str, Sequence[str]], str]


@dataclass(frozen=True)
class Output:
    """One output format (see the module doc)."""

    key: str
    file_name: str
    label_zh: str
    label_en: str
    unit: str
    write: Writer
    #: how the file is encoded for download (CSV: with a BOM, so spreadsheet programs read the Chinese text)
    encoding: str = "utf-8"


def count_by_type(entities: Sequence[Entity], types: Sequence[str]) -> dict[str, int]:
    """Number of entities of each type; every type in ``types`` is present, even with 0."""
    counts = dict.fromkeys(types, 0)
    for e in entities:
        counts[e.label] = counts.get(e.label, 0) + 1
    return counts


def _lines(text: str, entities: Sequence[Entity]) -> list[tuple[str, list[tuple[int, int, str, float]]]]:
    """Each non-blank line of ``text`` with the ``(start, end, label, score)`` of the entities inside it, made
    relative to the line, sorted; an entity across a line break, which no line can hold, is left out."""
    out, k, start = [], 0, 0
    ordered = sorted(entities, key=lambda e: (e.start, e.end, e.label))
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
        end = start + len(body)
        spans = []
        while k < len(ordered) and ordered[k].start < end:
            e = ordered[k]
            if e.start >= start and e.end <= end:
                spans.append((e.start - start, e.end - start, e.label, e.score))
            k += 1
        if body.strip():
            out.append((body, spans))
        start += len(line)
    return out


def line_examples(text: str, entities: Sequence[Entity]) -> list[Example]:
    """One :class:`~ner.formats.Example` per non-blank line of ``text``, with the spans of ``entities`` (found in
    the whole text) inside that line, relative to it (see :func:`_lines`)."""
    return [Example(body, [(s, e, label) for s, e, label, _ in spans]) for body, spans in _lines(text, entities)]


def _json(text: str, entities: Sequence[Entity], model: str, types: Sequence[str]) -> str:
    return json.dumps({"model": model, "text": text, "counts": count_by_type(entities, types),
                       "entities": [e.to_dict() for e in entities]}, ensure_ascii=False, indent=2) + "\n"


def _csv(text: str, entities: Sequence[Entity], model: str, types: Sequence[str]) -> str:
    return entities_csv(e.to_dict() for e in entities)


def _doccano(text: str, entities: Sequence[Entity], model: str, types: Sequence[str]) -> str:
    return formats.dumps_doccano(line_examples(text, entities))


def _label_studio(text: str, entities: Sequence[Entity], model: str, types: Sequence[str]) -> str:
    lines = _lines(text, entities)
    examples = [Example(body, [(s, e, label) for s, e, label, _ in spans]) for body, spans in lines]
    return formats.dumps_label_studio(examples, "predictions", model_version=model,
                                      scores=[[score for *_, score in spans] for _, spans in lines])


def _conll(text: str, entities: Sequence[Entity], model: str, types: Sequence[str]) -> str:
    return formats.dumps_conll(line_examples(text, entities), "BIO")


#: Every output format, in the order the page shows its download buttons.
OUTPUTS: dict[str, Output] = {o.key: o for o in (
    Output("json", "entities.json", "下载 JSON", "Download JSON", "text", _json),
    Output("csv", "entities.csv", "下载 CSV", "Download CSV", "text", _csv, encoding="utf-8-sig"),
    Output("doccano", "entities-doccano.jsonl", "下载 doccano JSONL", "Download doccano JSONL", "line", _doccano),
    Output("label-studio", "entities-label-studio-tasks.json", "下载 Label Studio 预标注",
           "Download Label Studio tasks", "line", _label_studio),
    Output("conll", "entities-conll-bio.txt", "下载 CoNLL BIO", "Download CoNLL BIO", "line", _conll),
)}


def render(key: str, text: str, entities: Sequence[Entity], model: str, types: Sequence[str]) -> str:
    """``entities`` of ``text`` in the output format ``key`` (one of :data:`OUTPUTS`)."""
    try:
        output = OUTPUTS[key]
    except KeyError:
        raise ValueError(f"output format must be one of {', '.join(OUTPUTS)}, not {key!r}") from None
    return output.write(text, entities, model, types)
