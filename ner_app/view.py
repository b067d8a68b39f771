"""Entities -> plain data for the UI and the downloads (highlight value, table rows, counts, JSON, CSV)."""
from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Iterable, Sequence

from ner import Entity
from ner.textio import decode_bytes

#: Highlight colour of each entity type; types missing here get a colour from FALLBACK_COLORS.
COLORS = {"PER": "#FF5E5E", "LOC": "#00FFFF", "ORG": "#FFFF00"}
FALLBACK_COLORS = ("#FF00FF", "#39FF14", "#FF9F1C", "#B388FF")
#: Plain-language names shown next to the type codes.
TYPE_NAMES = {"PER": "人名", "LOC": "地名", "ORG": "机构名"}
TABLE_HEADERS = ["实体", "类型", "起始", "结束", "置信度"]  # text, type, start, end, score
CSV_FIELDS = ["text", "type", "start", "end", "score"]


def entity_types(labels: Iterable[str]) -> list[str]:
    """Entity types named by a model's tag labels, in order.

    ``["O", "B-PER", "E-PER", "S-LOC"]`` -> ``["PER", "LOC"]``
    """
    types: list[str] = []
    for label in labels:
        if label != "O":
            kind = label.split("-", 1)[-1]
            if kind not in types:
                types.append(kind)
    return types


def color_map(types: Sequence[str]) -> dict[str, str]:
    """A colour for each type: the fixed ones for PER/LOC/ORG, then the fallback palette."""
    extra = iter(FALLBACK_COLORS * (len(types) // len(FALLBACK_COLORS) + 1))
    return {t: COLORS.get(t) or next(extra) for t in types}


def highlight_css(colors: dict[str, str], elem_id: str) -> str:
    """CSS that paints highlighted spans in their full colour.

    Gradio draws spans and legend items at half opacity (``rgba(r, g, b, 0.5)``
    in their inline style); on a dark page that turns neon colours muddy, so
    these rules restore the exact colour, matched through that inline style.
    """
    rules = []
    for hex_color in colors.values():
        r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
        rules.append(f'#{elem_id} [style*="rgba({r}, {g}, {b}, 0.5)"] '
                     f"{{ background-color: rgb({r}, {g}, {b}) !important; color: #05050a !important; }}")
    return "\n".join(rules)


def highlight_value(text: str, entities: Sequence[Entity]) -> dict:
    """The ``gr.HighlightedText`` value: the whole text with each entity span marked by its type."""
    return {"text": text, "entities": [{"entity": e.label, "start": e.start, "end": e.end} for e in entities]}


def table_rows(entities: Sequence[Entity]) -> list[list]:
    """One row per entity, columns as in :data:`TABLE_HEADERS`."""
    return [[d["text"], d["type"], d["start"], d["end"], d["score"]] for d in (e.to_dict() for e in entities)]


def count_by_type(entities: Sequence[Entity], types: Sequence[str]) -> dict[str, int]:
    """Number of entities of each type; every type in ``types`` is present, even with 0."""
    counts = dict.fromkeys(types, 0)
    for e in entities:
        counts[e.label] = counts.get(e.label, 0) + 1
    return counts


def counts_html(counts: dict[str, int], colors: dict[str, str]) -> str:
    """The per-type counts as small neon cards (every string escaped)."""
    cards = []
    for kind, n in counts.items():
        color = html.escape(colors.get(kind, FALLBACK_COLORS[0]))
        name = html.escape(TYPE_NAMES.get(kind, kind))
        cards.append(f'<div class="stat-card" style="--accent:{color}"><span class="stat-num">{n}</span>'
                     f'<span class="stat-type">{html.escape(kind)}</span><span class="stat-name">{name}</span></div>')
    total = sum(counts.values())
    cards.append(f'<div class="stat-card stat-total"><span class="stat-num">{total}</span>'
                 f'<span class="stat-type">TOTAL</span><span class="stat-name">合计</span></div>')
    return f'<div class="stat-row">{"".join(cards)}</div>'


def to_json(text: str, entities: Sequence[Entity], model: str, types: Sequence[str]) -> str:
    """The downloadable JSON: model name, the text, counts and entities (``Entity.to_dict`` shape)."""
    return json.dumps({"model": model, "text": text, "counts": count_by_type(entities, types),
                       "entities": [e.to_dict() for e in entities]}, ensure_ascii=False, indent=2)


def to_csv(entities: Sequence[Entity]) -> str:
    """The downloadable CSV (RFC 4180: CRLF rows, so a CR inside a cell is quoted): a header row, then one row
    per entity, every text cell made inert (:func:`csv_cell`)."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=CSV_FIELDS, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    writer.writerows({k: csv_cell(v) for k, v in e.to_dict().items()} for e in entities)
    return buf.getvalue()


#: A cell starting with one of these is a formula to a spreadsheet program (OWASP "CSV Injection"; ASVS adds NUL).
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")


def csv_cell(value):
    """``value`` as a spreadsheet will read it as plain text: a string starting with = + - @ tab, CR or NUL
    gets a leading ``'`` (OWASP's rule; the quote is shown, the formula never runs).  Numbers are unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def decode_text(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of an uploaded file, by :func:`ner.textio.decode_bytes` (which also says how sure it is)."""
    text, encoding, _confident = decode_bytes(data)
    return text, encoding


def header_html(title: str, model_name: str, colors: dict[str, str], notice: str | None = None) -> str:
    """The page header: title, what is found (in each type's colour), the model's name and any notice."""
    kinds = " · ".join(f'<b style="color:{html.escape(c)}">{html.escape(TYPE_NAMES.get(k, k))} {html.escape(k)}</b>'
                       for k, c in colors.items())
    title = html.escape(title)
    return (f'<header class="hero"><h1 class="neon-title" data-text="{title}">{title}</h1>'
            f'<p class="subtitle">识别中文文本中的 {kinds}</p>'
            f'<p class="model-tag">模型 MODEL：<code>{html.escape(model_name)}</code></p>'
            + (f'<p class="notice">⚠ 所选模型不可用，已改用内置模型。{html.escape(notice)}</p>' if notice else "")
            + "</header>")
