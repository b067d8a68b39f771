"""The page in Chinese (the default) and in English: static strings through Gradio's ``gr.I18n``, messages by the
visitor's ``Accept-Language``, server-drawn HTML in both languages with CSS showing the page's one.

* Labels, buttons, placeholders and hints are ``gr.I18n`` keys (:data:`I18N`, :func:`t`); Gradio's page picks
  the browser's language (``zh-*`` Chinese, ``en-*`` English; others get Gradio's fallback, English) and
  writes it into ``<html lang>``.
* Toasts are written on the server in one language: each page handler is wrapped by :func:`localized`, which
  reads the request's ``Accept-Language`` (Chinese unless its first language is not Chinese; Chinese without
  the header) into a context variable that :func:`pick` reads.
* HTML the server draws before any request (the header, the counts row) holds both languages, each in a
  ``<span class="i18n-zh">`` / ``<span class="i18n-en">`` (:func:`both`); ``assets/style.css`` hides the one
  that is not the page's language.
"""
from __future__ import annotations

import contextvars
import functools
import html
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ner.outputs import OUTPUTS

if TYPE_CHECKING:  # the plain-text helpers (view, rest) do not need Gradio
    import gradio as gr

LANGS = ("zh", "en")
_lang: contextvars.ContextVar[str] = contextvars.ContextVar("ner_app_lang", default="zh")


#: key -> (Chinese, English) of every static page string
STRINGS: dict[str, tuple[str, str]] = {
    "input_label": ("输入中文文本", "Chinese text"),
    "input_placeholder": ("在这里粘贴或输入中文文本，例如：张三在北京清华大学任职。",
                          "Paste or type Chinese text here, for example: 张三在北京清华大学任职。"),
    "run": ("🚀 开始侦测", "🚀 Detect"),
    "upload_label": ("或上传 .txt 文件（UTF-8 / GB18030 / Big5 / UTF-16 等）",
                     "Or upload a .txt file (UTF-8, GB18030, Big5, UTF-16…)"),
    "dictionary": ("自定义词典", "Custom dictionary"),
    "dictionary_label": ("词典条目（只对您本人的侦测生效）", "Entries (for your own recognitions only)"),
    "dictionary_placeholder": ("每行一条：文本 类型（用空格、逗号或冒号隔开），例如\n字节跳动 ORG\n字节跳动：机构名\n"
                               "屏蔽误报：-文本 类型，例如\n-星巴克 PER",
                               "One entry a line: text and type, separated by a space, comma or colon, e.g.\n"
                               "字节跳动 ORG\nTo block a wrong result: -text type, e.g.\n-星巴克 PER"),
    "apply_dictionary": ("应用词典", "Apply dictionary"),
    "examples": ("示例文本（点击即侦测）", "Examples (click one to detect)"),
    "min_score": ("最低置信度", "Minimum confidence"),
    "types": ("显示的类型", "Types shown"),
    "highlight": ("侦测结果", "Result"),
    "table": ("实体列表（可左右滑动）", "Entities (scroll sideways)"),
    "example_0": ("人物 · 机构 · 地点", "People · organizations · places"),
    "example_1": ("新闻报道", "News report"),
    "example_2": ("长篇报告", "Long report"),
    "example_3": ("社交媒体帖子", "Social media post"),
    "example_4": ("中英文数字混排", "Chinese, English and digits"),
    # each download button's label, from the one table of output formats
    **{f"download_{key}": (out.label_zh, out.label_en) for key, out in OUTPUTS.items()},
}
#: the entity table's columns (text, type, start, end, score) in each language
COLUMNS = {"zh": ["实体", "类型", "起始", "结束", "置信度"], "en": ["Entity", "Type", "Start", "End", "Score"]}


def t(key: str) -> Any:
    """The ``gr.I18n`` key of a page string: one of :data:`STRINGS`, or one the app adds from the model and the
    settings (``app.page_strings``)."""
    from gradio.i18n import I18nData

    return I18nData(key)


#: Gradio's own strings that its Chinese locale lacks (its page then shows the key, e.g. "common.complete" in the
#: status it announces to screen readers when an event completes), with the English of its English locale
GRADIO_GAPS: dict[str, tuple[str, str]] = {
    "common.complete": ("完成", "Complete"),
    "common.progress": ("进度", "Progress"),
    "status.queue_position": ("排队中：第 {position} 位，共 {size} 位", "In queue: {position} of {size}"),
}


def translations(extra: Mapping[str, tuple[str, str]] | None = None) -> "gr.I18n":
    """The page's ``gr.I18n``: :data:`STRINGS` plus ``extra`` (strings made from the model's settings), and the
    :data:`GRADIO_GAPS` of Gradio's own.

    Chinese is registered as ``zh`` (so ``zh-CN``, ``zh-TW``... find it) and English as ``en``."""
    import gradio as gr

    strings = {**GRADIO_GAPS, **STRINGS, **(extra or {})}
    return gr.I18n(zh={k: zh for k, (zh, _) in strings.items()}, en={k: en for k, (_, en) in strings.items()})


def language(accept_language: str | None) -> str:
    """``"zh"`` or ``"en"`` for an ``Accept-Language`` header: Chinese when the first language is Chinese or
    there is no header, English otherwise (as Gradio's page falls back to English)."""
    first = (accept_language or "").split(",")[0].split(";")[0].strip().lower()
    return "zh" if not first or first.startswith("zh") or first == "*" else "en"


def current() -> str:
    """The language of the request being handled (``"zh"`` outside a request)."""
    return _lang.get()


def pick(zh: str, en: str) -> str:
    """``zh`` or ``en``, by the language of the request being handled."""
    return en if _lang.get() == "en" else zh


def both(zh: str, en: str) -> str:
    """HTML holding both (already escaped) texts; the page's CSS shows the one of its language."""
    return f'<span class="i18n-zh" lang="zh">{zh}</span><span class="i18n-en" lang="en">{en}</span>'


def both_text(zh: str, en: str) -> str:
    """:func:`both` of plain texts (escaped here)."""
    return both(html.escape(zh), html.escape(en))


def localized(fn: Callable) -> Callable:
    """``fn`` as a Gradio handler that first sets the language of this request (see :func:`pick`): the wrapper
    adds a last positional ``request: gr.Request`` parameter, which Gradio fills (it looks at positional
    parameters only), and passes everything else on."""
    import gradio as gr

    signature = inspect.signature(fn)
    params = [p for p in signature.parameters.values()
              if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)]
    n = len(params)

    @functools.wraps(fn)
    def handler(*args, **kwargs):
        request = args[n] if len(args) > n else kwargs.pop("request", None)
        headers = getattr(request, "headers", None)
        token = _lang.set(language(headers.get("accept-language") if headers is not None else None))
        try:
            return fn(*args[:n], **kwargs)
        finally:
            _lang.reset(token)

    request = inspect.Parameter("request", inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None,
                                annotation=gr.Request)
    handler.__signature__ = signature.replace(parameters=[*params, request])  # type: ignore[attr-defined]
    # Gradio finds the parameters to fill by their type hints: the request's alone (the wrapped ones are strings
    # of another module's names)
    handler.__annotations__ = {"request": gr.Request}
    return handler
