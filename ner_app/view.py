"""Entities -> plain data for the page and the APIs: highlight value and tokens, table rows, counts, the header,
colours, and entity dicts with the API's offset modes (the download files are :mod:`ner.outputs`)."""
from __future__ import annotations

import bisect
import colorsys
import html
from collections.abc import Iterable, Mapping, Sequence

from ner import Entity
from ner.entity import TYPE_NAMES, TYPE_NAMES_EN
from ner.textio import decode_bytes

from .i18n import both, both_text
from .request import OFFSET_MODES

#: Highlight colour of the seed types; every other type gets a colour from FALLBACK_COLORS, then generated ones.
COLORS = {"PER": "#FF5E5E", "LOC": "#00FFFF", "ORG": "#FFFF00"}
#: Light, saturated colours far from the seed three and from each other: dark text stays readable on each,
#: and each stands out on the dark page.
FALLBACK_COLORS = ("#FF00FF", "#39FF14", "#FF9F1C", "#B388FF", "#FF80AB", "#64FFDA", "#82B1FF", "#EEFF41",
                   "#FFAB91", "#EA80FC", "#A7FFEB", "#FFD180")


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
    """A distinct colour for each type: the fixed ones for PER/LOC/ORG, then the fallback palette, then
    generated light colours (golden-angle hues), so no two types share one however many a model has."""
    extra = iter(FALLBACK_COLORS)
    out: dict[str, str] = {}
    for k, t in enumerate(types):
        color = COLORS.get(t) or next(extra, None)
        if color is None:
            r, g, b = colorsys.hls_to_rgb((k * 0.618034) % 1.0, 0.72, 1.0)
            color = f"#{round(r * 255):02X}{round(g * 255):02X}{round(b * 255):02X}"
        out[t] = color
    return out


def display_names(types: Sequence[str], card_names: Mapping[str, str] | None = None) -> dict[str, str]:
    """A Chinese name for each type: 人名/地名/机构名 for the seed three, else the model card's, else the type."""
    card_names = card_names or {}
    return {t: TYPE_NAMES.get(t) or card_names.get(t) or t for t in types}


def engine_types(engine) -> tuple[list[str], dict[str, str]]:
    """The types an engine finds, in order, and the name shown for each: the model's own (config.json); a bare
    engine (a test's fake) has only its tag labels. The one place the page and the REST API read them."""
    types = list(getattr(engine, "entity_types", None) or entity_types(engine.labels))
    return types, display_names(types, getattr(engine, "display_names", None))


def legend_labels(names: Mapping[str, str]) -> dict[str, str]:
    """What the highlight and its legend show for each type: ``"人名 PER"`` (the type alone when it has no name)."""
    return {t: t if name == t else f"{name} {t}" for t, name in names.items()}


def entity_dicts(text: str, entities: Sequence[Entity], offsets: str = "code-points") -> list[dict]:
    """``Entity.to_dict`` of each entity; with ``offsets="utf16"`` start and end count UTF-16 code units
    (JavaScript's ``String`` indices: a character outside the BMP, such as an emoji, counts 2)."""
    if offsets not in OFFSET_MODES:
        raise ValueError(f"offsets must be one of {', '.join(OFFSET_MODES)}, not {offsets!r}")
    dicts = [e.to_dict() for e in entities]
    if offsets == "utf16":
        astral = [i for i, ch in enumerate(text) if ord(ch) > 0xFFFF]
        if astral:
            for d in dicts:
                d["start"] += bisect.bisect_left(astral, d["start"])
                d["end"] += bisect.bisect_left(astral, d["end"])
    return dicts


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


def highlight_tokens(text: str, entities: Sequence[Entity]) -> list[tuple[str, str | None]]:
    """The text cut at the entity spans, ``(token, type or None)`` in order, with no empty token: what the client
    endpoint ``/recognize`` returns (``"".join`` of the tokens is the text)."""
    out: list[tuple[str, str | None]] = []
    last = 0
    for e in entities:
        if e.start > last:
            out.append((text[last : e.start], None))
        out.append((text[e.start : e.end], e.label))
        last = e.end
    if last < len(text):
        out.append((text[last:], None))
    return out


def table_rows(entities: Sequence[Entity]) -> list[list]:
    """One row per entity, columns as in :data:`ner_app.i18n.COLUMNS`."""
    return [[d["text"], d["type"], d["start"], d["end"], d["score"]] for d in (e.to_dict() for e in entities)]


def counts_html(counts: dict[str, int], colors: dict[str, str], names: Mapping[str, str] | None = None) -> str:
    """The per-type counts as small neon cards, which are also the highlight's legend: each type's colour,
    name (Chinese and English, :func:`ner_app.i18n.both`) and code (every string escaped)."""
    names = names or TYPE_NAMES
    cards = []
    for kind, n in counts.items():
        color = html.escape(colors.get(kind, FALLBACK_COLORS[0]))
        name = both_text(names.get(kind, kind), TYPE_NAMES_EN.get(kind, kind))
        cards.append(f'<div class="stat-card" data-type="{html.escape(kind)}" style="--accent:{color}">'
                     f'<span class="stat-num">{n}</span><span class="stat-type">{html.escape(kind)}</span>'
                     f'<span class="stat-name"><i class="swatch"></i>{name}</span></div>')
    total = sum(counts.values())
    cards.append(f'<div class="stat-card stat-total"><span class="stat-num">{total}</span>'
                 f'<span class="stat-type">{both("合计", "Total")}</span>'
                 f'<span class="stat-name">{both("全部实体", "all entities")}</span></div>')
    return f'<div class="stat-row legend" role="list" aria-label="legend">{"".join(cards)}</div>'


def live_limit_html(chars: int, limit: int) -> str:
    """What the counts row says while 实时侦测 is on and the text is over its limit: why nothing is shown and
    how to run the text anyway (in both languages, :func:`ner_app.i18n.both`)."""
    return ('<div class="live-limit" role="status">'
            + both(f"实时侦测只处理 {limit:,} 字以内的文本，当前文本有 {chars:,} 字，所以结果已清空。"
                   f"请点击「🚀 开始侦测」侦测全文。",
                   f"Live mode handles texts of up to {limit:,} characters; this one has {chars:,}, so the result "
                   f"was cleared. Press “🚀 Detect” to run the whole text.")
            + "</div>")


def decode_text(data: bytes) -> tuple[str, str]:
    """``(text, encoding)`` of an uploaded file, by :func:`ner.textio.decode_bytes` (which also says how sure it is)."""
    text, encoding, _confident = decode_bytes(data)
    return text, encoding


def header_html(title: str, model_name: str, colors: dict[str, str], notice: str | None = None,
                names: Mapping[str, str] | None = None, title_en: str | None = None) -> str:
    """The page header: title, what is found (in each type's colour), the model's name and any notice; every
    sentence in Chinese and English (:func:`ner_app.i18n.both`: the page shows its language's)."""
    names = names or TYPE_NAMES

    def kinds(lang_names: Mapping[str, str]) -> str:
        return " · ".join(f'<b style="color:{html.escape(c)}">{html.escape(lang_names.get(k, k))} {html.escape(k)}</b>'
                          if lang_names.get(k, k) != k else f'<b style="color:{html.escape(c)}">{html.escape(k)}</b>'
                          for k, c in colors.items())

    heading = both_text(title, title_en) if title_en else html.escape(title)
    model = f"<code>{html.escape(model_name)}</code>"
    return (f'<header class="hero"><h1 class="neon-title">{heading}</h1>'
            f'<p class="subtitle">{both(f"识别中文文本中的 {kinds(names)}", f"Finds {kinds(TYPE_NAMES_EN)} in Chinese text")}</p>'
            f'<p class="model-tag">{both(f"模型：{model}", f"Model: {model}")}</p>'
            + (f'<p class="notice">⚠ {both("所选模型不可用，已改用内置模型。", "The chosen model is unavailable; using the embedded model. ")}'
               f'{html.escape(notice)}</p>' if notice else "")
            + "</header>")
