"""Annotation formats, each owned both ways here: every reader is the inverse of its writer.

==================  ===========================================================================
``conll``           one ``char<TAB>tag`` per line, a blank line between sentences; BIO or BIOES
                    tags (``M-`` of BMES reads as ``I-``); a token longer than one character is
                    taken as those characters, its tag spanning them all
``doccano``         JSON lines ``{"text", "label": [[start, end, "TYPE"], ...]}`` (doccano's
                    sequence-labelling export; ``"entities": [{"start_offset", "end_offset",
                    "label"}]`` reads too)
``label-studio``    Label Studio's JSON export: ``[{"data": {"text"}, "annotations"|"predictions":
                    [{"result": [{"value": {"start", "end", "text", "labels"}, "from_name",
                    "to_name", "type": "labels"}]}]}]``; reading takes a task's first annotation
                    that was not cancelled, else its first prediction
``cluener``         CLUENER2020 JSON lines ``{"text", "label": {type: {mention: [[start, end]]}}}``
                    with *inclusive* ends
==================  ===========================================================================

In memory every format is a list of :class:`~ner.training.corpora.Example`: the text and
its spans ``(start, end, label)``, half-open code-point offsets into the text, sorted.
Labels are kept as the file spells them (any label set).  A file that cannot be read
raises :class:`ner.FormatError` naming the file and line.
"""
from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from .errors import FormatError
from .tags import SCHEMES, Span, drop_overlaps, spans_to_tags, split_tag, tags_to_spans


@dataclass
class Example:
    """One annotated text: its text and gold spans ``(start, end, label)``, half-open character offsets."""

    text: str
    spans: list[tuple[int, int, str]] = field(default_factory=list)

#: the annotation formats read and written here (the outputs a user downloads are :data:`ner.outputs.OUTPUTS`)
ANNOTATION_FORMATS = ("conll", "doccano", "label-studio", "cluener")
_LABEL = re.compile(r"[^\W\d][\w.]*")
_PREFIXES = {"B": "B", "I": "I", "M": "I", "E": "E", "S": "S"}


# ---------------------------------------------------------------- shared checks

def _check_label(label, where: str) -> str:
    if not isinstance(label, str) or not _LABEL.fullmatch(label):
        raise FormatError(f"{where}: {label!r} is not a type name (letters, digits, '_' or '.', for example ORG)")
    return label


def _check_span(text: str, start, end, label, where: str) -> Span:
    if not (isinstance(start, int) and isinstance(end, int)) or isinstance(start, bool) or isinstance(end, bool):
        raise FormatError(f"{where}: offsets must be integers, not {start!r}, {end!r}")
    if not 0 <= start < end <= len(text):
        raise FormatError(f"{where}: span [{start}, {end}) is outside the text of {len(text)} characters "
                          f"(offsets are half-open code points)")
    return start, end, _check_label(label, where)


def _decode(data: bytes, where: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise FormatError(f"{where}:{line}: not UTF-8 (byte {data[exc.start]:#04x}); save the file as UTF-8") from None


def read_text(path: Path) -> str:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FormatError(f"cannot read {str(path)!r}: {exc.strerror}") from None
    return _decode(data, str(path))


def _json_lines(text: str, where: str) -> Iterator[tuple[int, dict]]:
    for n, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise FormatError(f"{where}:{n}: not JSON ({exc.msg} at column {exc.colno})") from None
        if not isinstance(obj, dict):
            raise FormatError(f"{where}:{n}: expected a JSON object, found {type(obj).__name__}")
        yield n, obj


def _text_of(obj: dict, where: str) -> str:
    text = obj.get("text")
    if not isinstance(text, str):
        raise FormatError(f"{where}: no \"text\" string")
    return text


# ---------------------------------------------------------------- CoNLL (BIO / BIOES)

def conll_sentences(text: str, where: str = "<conll>") -> Iterator[tuple[int, list[str], list[str]]]:
    """``(first line, tokens, tags)`` of each sentence, tags exactly as written."""
    tokens: list[str] = []
    tags: list[str] = []
    first = 0
    for n, raw in enumerate(text.split("\n"), 1):
        line = raw[:-1] if raw.endswith("\r") else raw  # CRLF files
        if not line.strip():
            if tokens:
                yield first, tokens, tags
            tokens, tags = [], []
            continue
        sep = "\t" if "\t" in line else " "
        token, found, tag = line.rpartition(sep)
        if not found or not tag.strip():
            raise FormatError(f"{where}:{n}: expected CHARACTER<TAB>TAG, found {line!r}")
        if not tokens:
            first = n
        tokens.append(token or " ")
        tags.append(tag.strip())
    if tokens:
        yield first, tokens, tags


def conll_example(tokens: Sequence[str], tags: Sequence[str], where: str) -> Example:
    """One sentence's tokens and tags (BIO, BIOES or BMES) as an example with character offsets."""
    chars: list[str] = []
    char_tags: list[str] = []
    for k, (token, tag) in enumerate(zip(tokens, tags)):
        prefix, label = split_tag(tag)
        if tag != "O":
            if prefix not in _PREFIXES or not label:
                raise FormatError(f"{where} (token {k + 1}): {tag!r} is not a tag: use O or B-/I-/E-/S- and a type")
            _check_label(label, f"{where} (token {k + 1})")
            prefix = _PREFIXES[prefix]
        # a token of several characters: its tag covers them all
        for j, ch in enumerate(token):
            chars.append(ch)
            if prefix == "O":
                char_tags.append("O")
            elif len(token) == 1:
                char_tags.append(f"{prefix}-{label}")
            else:
                begin = j == 0 and prefix in ("B", "S")
                end = j == len(token) - 1 and prefix in ("E", "S")
                char_tags.append(f"{'S' if begin and end else 'B' if begin else 'E' if end else 'I'}-{label}")
    return Example("".join(chars), tags_to_spans(char_tags, "BIOES"))


def loads_conll(text: str, where: str = "<conll>", *, token_map: Callable[[str], str] | None = None,
                tag_map: Callable[[str], str] | None = None) -> list[Example]:
    """Examples of a CoNLL text; ``token_map``/``tag_map`` rewrite each token/tag first (corpus quirks)."""
    out = []
    for first, tokens, tags in conll_sentences(text, where):
        if token_map:
            tokens = [token_map(t) for t in tokens]
        if tag_map:
            tags = [tag_map(t) for t in tags]
        out.append(conll_example(tokens, tags, f"{where}:{first}"))
    return out


def dumps_conll(examples: Iterable[Example], scheme: str = "BIO") -> str:
    """One ``char<TAB>tag`` line per character, a blank line after each sentence (overlaps: first kept)."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, not {scheme!r}")
    parts = []
    for k, ex in enumerate(examples):
        if "\n" in ex.text:
            raise ValueError(f"example {k}: CoNLL has one character per line and cannot hold a line break; "
                             f"split the text into lines first")
        tags = spans_to_tags(drop_overlaps(ex.spans), len(ex.text), scheme)
        parts.append("".join(f"{ch}\t{tag}\n" for ch, tag in zip(ex.text, tags)) + "\n")
    return "".join(parts)


# ---------------------------------------------------------------- doccano

def loads_doccano(text: str, where: str = "<doccano>") -> list[Example]:
    out = []
    for n, obj in _json_lines(text, where):
        at = f"{where}:{n}"
        body = _text_of(obj, at)
        spans = []
        if "entities" in obj and "label" not in obj:  # doccano's newer export
            items = obj["entities"]
            if not isinstance(items, list):
                raise FormatError(f"{at}: \"entities\" must be a list")
            for item in items:
                if not isinstance(item, dict):
                    raise FormatError(f"{at}: each entity must be an object with start_offset, end_offset, label")
                spans.append(_check_span(body, item.get("start_offset"), item.get("end_offset"), item.get("label"), at))
        else:
            items = obj.get("label", obj.get("labels", []))
            if not isinstance(items, list):
                raise FormatError(f"{at}: \"label\" must be a list of [start, end, \"TYPE\"]")
            for item in items:
                if not isinstance(item, list) or len(item) != 3:
                    raise FormatError(f"{at}: each label must be [start, end, \"TYPE\"], not {item!r}")
                spans.append(_check_span(body, item[0], item[1], item[2], at))
        out.append(Example(body, sorted(spans)))
    return out


def dumps_doccano(examples: Iterable[Example]) -> str:
    return "".join(json.dumps({"text": ex.text, "label": [[s, e, t] for s, e, t in sorted(ex.spans)]},
                              ensure_ascii=False) + "\n" for ex in examples)


# ---------------------------------------------------------------- Label Studio

def _json_array_items(text: str, where: str) -> Iterator[tuple[int, object]]:
    """``(line, item)`` of each item of a top-level JSON array, so errors can name a task's line."""
    decoder = json.JSONDecoder()

    def fail(exc: json.JSONDecodeError):
        raise FormatError(f"{where}:{exc.lineno}: not JSON ({exc.msg} at column {exc.colno})") from None

    pos = len(text) - len(text.lstrip())
    if text.startswith("{", pos):  # a single task
        try:
            obj, _ = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            fail(exc)
        yield text.count("\n", 0, pos) + 1, obj
        return
    if not text.startswith("[", pos):
        raise FormatError(f"{where}:1: a Label Studio export is a JSON array of tasks")
    pos += 1
    while True:
        while pos < len(text) and text[pos] in " \t\r\n,":
            pos += 1
        if pos >= len(text):
            raise FormatError(f"{where}:{text.count(chr(10)) + 1}: the JSON array is not closed")
        if text[pos] == "]":
            return
        try:
            obj, end = decoder.raw_decode(text, pos)
        except json.JSONDecodeError as exc:
            fail(exc)
        yield text.count("\n", 0, pos) + 1, obj
        pos = end


def _ls_results(task: dict, at: str) -> list:
    for key in ("annotations", "completions", "predictions"):
        entries = task.get(key) or []
        if not isinstance(entries, list):
            raise FormatError(f"{at}: \"{key}\" must be a list")
        for entry in entries:
            if isinstance(entry, dict) and not entry.get("was_cancelled"):
                result = entry.get("result", [])
                if not isinstance(result, list):
                    raise FormatError(f"{at}: \"result\" must be a list")
                return result
    return []


def loads_label_studio(text: str, where: str = "<label-studio>") -> list[Example]:
    out = []
    for n, task in _json_array_items(text, where):
        at = f"{where}:{n}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            raise FormatError(f"{at}: each task must be an object with \"data\": {{\"text\": ...}}")
        data = task["data"]
        strings = [v for v in data.values() if isinstance(v, str)]
        body = data.get("text", strings[0] if len(strings) == 1 else None)
        if not isinstance(body, str):
            raise FormatError(f"{at}: the task's data has no \"text\" string")
        spans = []
        for item in _ls_results(task, at):
            if not isinstance(item, dict) or item.get("type", "labels") != "labels":
                continue  # choices, relations, ratings: not entity spans
            value = item.get("value")
            if not isinstance(value, dict) or not isinstance(value.get("labels"), list):
                raise FormatError(f"{at}: a \"labels\" result needs \"value\": {{\"start\", \"end\", \"labels\"}}")
            for label in value["labels"]:
                span = _check_span(body, value.get("start"), value.get("end"), label, at)
                if "text" in value and value["text"] != body[span[0] : span[1]]:
                    raise FormatError(f"{at}: span [{span[0]}, {span[1]}) is {body[span[0]:span[1]]!r} in the "
                                      f"text but the result says {value['text']!r}")
                spans.append(span)
        out.append(Example(body, sorted(spans)))
    return out


def dumps_label_studio(examples: Iterable[Example], kind: str = "predictions", *, model_version: str | None = None,
                       from_name: str = "label", to_name: str = "text",
                       scores: Sequence[Sequence[float]] | None = None) -> str:
    """Tasks with the spans as ``kind`` ("predictions": pre-annotations, or "annotations")."""
    if kind not in ("predictions", "annotations"):
        raise ValueError(f"kind must be 'predictions' or 'annotations', not {kind!r}")
    tasks = []
    for k, ex in enumerate(examples):
        result = []
        for j, (s, e, label) in enumerate(sorted(ex.spans)):
            item: dict[str, object] = {"id": f"t{k}s{j}", "from_name": from_name, "to_name": to_name, "type": "labels",
                    "value": {"start": s, "end": e, "text": ex.text[s:e], "labels": [label]}}
            if scores is not None:
                item["score"] = round(float(scores[k][j]), 4)
            result.append(item)
        entry: dict = {"result": result}
        if kind == "predictions" and model_version:
            entry["model_version"] = model_version
        tasks.append({"data": {"text": ex.text}, kind: [entry]})
    return json.dumps(tasks, ensure_ascii=False, indent=1) + "\n"


# ---------------------------------------------------------------- CLUENER

def loads_cluener(text: str, where: str = "<cluener>") -> list[Example]:
    out = []
    for n, obj in _json_lines(text, where):
        at = f"{where}:{n}"
        body = _text_of(obj, at)
        labels = obj.get("label") or {}
        if not isinstance(labels, dict):
            raise FormatError(f"{at}: \"label\" must be {{type: {{mention: [[start, end], ...]}}}}")
        spans = []
        for typ, mentions in labels.items():
            if not isinstance(mentions, dict):
                raise FormatError(f"{at}: mentions of {typ!r} must be {{mention: [[start, end], ...]}}")
            for mention, positions in mentions.items():
                if not isinstance(positions, list):
                    raise FormatError(f"{at}: positions of {mention!r} must be a list of [start, end]")
                for pos in positions:
                    if not isinstance(pos, list) or len(pos) != 2 or not isinstance(pos[1], int):
                        raise FormatError(f"{at}: positions of {mention!r} must be [start, end], not {pos!r}")
                    span = _check_span(body, pos[0], pos[1] + 1, typ, at)
                    if body[span[0] : span[1]] != mention:
                        raise FormatError(f"{at}: [{pos[0]}, {pos[1]}] is {body[span[0]:span[1]]!r} in the text, "
                                          f"not {mention!r} (CLUENER ends are inclusive)")
                    spans.append(span)
        out.append(Example(body, sorted(spans)))
    return out


def dumps_cluener(examples: Iterable[Example]) -> str:
    lines = []
    for ex in examples:
        label: dict[str, dict[str, list[list[int]]]] = {}
        for s, e, t in sorted(ex.spans):
            label.setdefault(t, {}).setdefault(ex.text[s:e], []).append([s, e - 1])
        lines.append(json.dumps({"text": ex.text, "label": label}, ensure_ascii=False) + "\n")
    return "".join(lines)


# ---------------------------------------------------------------- by name

LOADERS: dict[str, Callable[..., list[Example]]] = {
    "conll": loads_conll, "doccano": loads_doccano, "label-studio": loads_label_studio, "cluener": loads_cluener}
DUMPERS: dict[str, Callable[..., str]] = {
    "conll": dumps_conll, "doccano": dumps_doccano, "label-studio": dumps_label_studio, "cluener": dumps_cluener}


def detect_text(text: str, name: str = "") -> str:
    """The format of a file's content (``name`` is its file name, for the extension)."""
    head = text.lstrip()
    if head.startswith("["):
        return "label-studio"
    if head.startswith("{"):
        first = head.split("\n", 1)[0]
        try:
            obj = json.loads(first)
        except json.JSONDecodeError:
            return "label-studio"  # a pretty-printed single task; its reader reports any error
        if not isinstance(obj, dict) or "data" in obj:
            return "label-studio"
        return "cluener" if isinstance(obj.get("label"), dict) else "doccano"
    if name.lower().endswith((".json", ".jsonl")) and head:
        raise FormatError(f"{name}:1: a .json/.jsonl file that is not JSON")
    return "conll"


def check_format(fmt: str) -> str:
    if fmt not in ANNOTATION_FORMATS:
        raise ValueError(f"format must be one of {ANNOTATION_FORMATS}, not {fmt!r}")
    return fmt


def loads(text: str, fmt: str | None = None, where: str = "<text>") -> list[Example]:
    """Examples of ``text`` in ``fmt`` (detected from the content when ``None``)."""
    return LOADERS[check_format(fmt) if fmt else detect_text(text, where)](text, where)


def read(path: str | Path, fmt: str | None = None) -> list[Example]:
    """Examples of an annotation file in any of :data:`ANNOTATION_FORMATS` (detected from its content and extension)."""
    path = Path(path)
    return loads(read_text(path), fmt, str(path))


def dumps(examples: Iterable[Example], fmt: str, **options) -> str:
    """``examples`` in ``fmt``; options go to the writer (``scheme`` for conll, ``kind`` for label-studio)."""
    return DUMPERS[check_format(fmt)](examples, **options)


def write(path: str | Path, examples: Iterable[Example], fmt: str, **options) -> Path:
    path = Path(path)
    path.write_text(dumps(examples, fmt, **options), encoding="utf-8")
    return path


def labels_of(examples: Iterable[Example]) -> list[str]:
    """Every type the examples use, sorted."""
    return sorted({label for ex in examples for _, _, label in ex.spans})


def __getattr__(name: str):
    """``FORMATS``, the old name of :data:`ANNOTATION_FORMATS` (another module's ``FORMATS`` meant another list)."""
    if name == "FORMATS":
        import warnings

        warnings.warn("ner.formats.FORMATS is deprecated: use ner.formats.ANNOTATION_FORMATS", DeprecationWarning,
                      stacklevel=2)
        return ANNOTATION_FORMATS
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
