"""A visitor's or a request's own dictionary: size limits, parsing by :class:`ner.Dictionary`, messages for each side.

The page's "自定义词典" box and the REST field ``"dictionary"`` hold the lines of a
dictionary file, read by the one parser of :mod:`ner.dictionary` (``字节跳动 ORG``,
``字节跳动,ORG``, ``字节跳动：机构名`` or ``字节跳动<TAB>ORG`` force an entity, ``-星巴克 PER``
blocks one, ``#`` starts a comment).  The parsed dictionary applies to that visitor's or
that request's recognitions only: it is passed per call, never stored on the server.
"""
from __future__ import annotations

import html
from collections.abc import Mapping, Sequence

import ner

from .config import Settings

#: the longest piece of a visitor's own line quoted back in a message
QUOTE_CHARS = 40


class DictionaryRefused(ValueError):
    """A dictionary that cannot be used; ``line`` is the 1-based line at fault (0: the whole dictionary),
    ``kind`` what is wrong (:class:`ner.FormatError`'s kinds, or ``"size"``), ``value`` the line or name at fault."""

    def __init__(self, message: str, line: int = 0, kind: str = "format", value: str = "",
                 limit: int = 0, found: int = 0):
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind
        self.value = value
        self.limit, self.found = limit, found

    def chinese(self, types: Sequence[str], names: Mapping[str, str] | None = None) -> str:
        """The refusal in plain Chinese for the page, naming the line; HTML-escaped (the page shows it as HTML)."""
        return html.escape(self._chinese(types, names or {}), quote=False)

    def english(self, types: Sequence[str], names: Mapping[str, str] | None = None) -> str:
        """The refusal in plain English for the page, naming the line; HTML-escaped."""
        return html.escape(self._english(types, names or {}), quote=False)

    def _quoted(self) -> str:
        value = self.value.strip()
        return value if len(value) <= QUOTE_CHARS else value[: QUOTE_CHARS - 1] + "…"

    def _chinese(self, types: Sequence[str], names: Mapping[str, str]) -> str:
        where = f"自定义词典第 {self.line} 行" if self.line else "自定义词典"
        quoted = f"「{self._quoted()}」" if self.value.strip() else ""
        choices = "、".join(f"{t}（{names[t]}）" if names.get(t, t) != t else t for t in types)
        if self.kind == "size" and self.value == "entries":
            return (f"自定义词典条目太多：共 {self.found:,} 条，上限 {self.limit:,} 条。"
                    f"大词典请由管理员通过 NER_USER_DICT 配置。")
        if self.kind == "size":
            return (f"自定义词典太长：共 {self.found:,} 个字符，上限 {self.limit:,} 个字符。"
                    f"大词典请由管理员通过 NER_USER_DICT 配置。")
        if self.kind == "type":
            return f"{where}：类型{quoted}不是当前模型的类型。可用的类型：{choices}。"
        if self.kind == "label":
            return f"{where}：{quoted}不是类型名。可用的类型：{choices}。"
        if self.kind == "conflict":
            return f"{where}：{quoted}被指定成了两种类型，请只保留一行。"
        if self.kind == "text":
            return f"{where}{quoted}：缺少要匹配的文本。"
        return (f"{where}{quoted}格式不对：每行写「文本 类型」，文本和类型之间用空格、Tab、逗号或冒号隔开，"
                f"例如「字节跳动 ORG」或「字节跳动：机构名」；屏蔽误报写「-文本 类型」，例如「-星巴克 PER」。")

    def _english(self, types: Sequence[str], names: Mapping[str, str]) -> str:
        where = f"Dictionary line {self.line}" if self.line else "The dictionary"
        quoted = f" “{self._quoted()}”" if self.value.strip() else ""
        choices = ", ".join(types)
        if self.kind == "size" and self.value == "entries":
            return (f"The dictionary has {self.found:,} entries; at most {self.limit:,}. "
                    f"A large dictionary is set up by the administrator with NER_USER_DICT.")
        if self.kind == "size":
            return (f"The dictionary has {self.found:,} characters; at most {self.limit:,}. "
                    f"A large dictionary is set up by the administrator with NER_USER_DICT.")
        if self.kind == "type":
            return f"{where}: type{quoted} is not one of this model's types ({choices})."
        if self.kind == "label":
            return f"{where}:{quoted} is not a type name. Types: {choices}."
        if self.kind == "conflict":
            return f"{where}:{quoted} is given two different types; keep one line."
        if self.kind == "text":
            return f"{where}{quoted}: the entry has no text."
        return (f"{where}{quoted}: write “TEXT TYPE” on each line, separated by a space, a tab, a comma or a "
                f"colon, for example “字节跳动 ORG”; to block a wrong result write “-TEXT TYPE”, "
                f"for example “-星巴克 PER”.")


def parse(text: str, settings: Settings, types: Sequence[str], name: str = "dictionary",
          names: Mapping[str, str] | None = None) -> ner.Dictionary | None:
    """The dictionary of ``text`` (``None`` when it has no entry), checked against the limits and the model's
    ``types`` (type names such as 机构名 and ``names``' display names become types);
    :class:`DictionaryRefused` says what is wrong."""
    if not isinstance(text, str):
        raise DictionaryRefused(f"{name} must be text, one entry per line")
    if len(text) > settings.max_dict_chars:
        raise DictionaryRefused(f"{name} has {len(text)} characters; at most {settings.max_dict_chars}", 0, "size",
                                limit=settings.max_dict_chars, found=len(text))
    entries = sum(1 for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#"))
    if entries > settings.max_dict_entries:
        raise DictionaryRefused(f"{name} has {entries} entries; at most {settings.max_dict_entries}",
                                0, "size", "entries", limit=settings.max_dict_entries, found=entries)
    if not entries:
        return None
    try:
        return ner.Dictionary.parse(text, name).resolve(types, names)
    except ner.FormatError as exc:
        message = f"{name} line {exc.line}: {exc.detail}" if exc.line else exc.detail
        raise DictionaryRefused(message, exc.line, exc.kind, exc.value) from None


def from_lines(lines: object, settings: Settings, types: Sequence[str],
               names: Mapping[str, str] | None = None) -> ner.Dictionary | None:
    """The REST field ``"dictionary"``: a list of lines (``"字节跳动 ORG"``), or :class:`DictionaryRefused`."""
    if lines is None:
        return None
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise DictionaryRefused('"dictionary" must be a list of strings such as "字节跳动 ORG"')
    if any("\n" in x or "\r" in x for x in lines):
        raise DictionaryRefused('each "dictionary" entry is one line: no line breaks inside an entry')
    return parse("\n".join(lines), settings, types, name='"dictionary"', names=names)
