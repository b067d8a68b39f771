"""A visitor's or a request's own dictionary: size limits, parsing by :class:`ner.Dictionary`, messages for each side.

The page's "自定义词典" box and the REST field ``"dictionary"`` hold the lines of a
dictionary file (``文本<TAB>类型`` forces an entity, ``-文本<TAB>类型`` blocks one; see
:mod:`ner.dictionary`).  The parsed dictionary applies to that visitor's or that
request's recognitions only: it is passed per call, never stored on the server.
"""
from __future__ import annotations

import re
from collections.abc import Sequence

import ner

from .config import Settings

_LINE = re.compile(r":(\d+): (.*)", re.S)


class DictionaryRefused(ValueError):
    """A dictionary that cannot be used; ``line`` is the 1-based line at fault (0: the whole dictionary)."""

    def __init__(self, message: str, line: int = 0, kind: str = "format", message_zh: str = ""):
        super().__init__(message)
        self.message = message
        self.line = line
        self.kind = kind  # "format", "type", "conflict" or "size"
        self.message_zh = message_zh

    def chinese(self, types: Sequence[str]) -> str:
        """The refusal in plain Chinese for the page, naming the line."""
        if self.message_zh:
            return self.message_zh
        where = f"自定义词典第 {self.line} 行" if self.line else "自定义词典"
        if self.kind == "type":
            return f"{where}：类型不是当前模型的类型（可用：{'、'.join(types)}）。"
        if self.kind == "conflict":
            return f"{where}：同一个文本被指定成了两种类型，请只保留一行。"
        return (f"{where}格式不对：每行写「文本<Tab>类型」，例如「字节跳动<Tab>ORG」；"
                f"屏蔽误报写「-文本<Tab>类型」。")


def parse(text: str, settings: Settings, types: Sequence[str], name: str = "dictionary") -> ner.Dictionary | None:
    """The dictionary of ``text`` (``None`` when it has no entry), checked against the limits and the model's
    ``types``; :class:`DictionaryRefused` says what is wrong."""
    if not isinstance(text, str):
        raise DictionaryRefused(f"{name} must be text, one entry per line")
    if len(text) > settings.max_dict_chars:
        raise DictionaryRefused(f"{name} has {len(text)} characters; at most {settings.max_dict_chars}", 0, "size",
                                f"自定义词典太长：共 {len(text):,} 个字符，上限 {settings.max_dict_chars:,} 个字符。"
                                f"大词典请由管理员通过 NER_USER_DICT 配置。")
    entries = sum(1 for line in text.split("\n") if line.strip() and not line.lstrip().startswith("#"))
    if entries > settings.max_dict_entries:
        raise DictionaryRefused(f"{name} has {entries} entries; at most {settings.max_dict_entries}", 0, "size",
                                f"自定义词典条目太多：共 {entries:,} 条，上限 {settings.max_dict_entries:,} 条。"
                                f"大词典请由管理员通过 NER_USER_DICT 配置。")
    if not entries:
        return None
    try:
        dictionary = ner.Dictionary.parse(text, name)
        dictionary.check_types(types)
    except ner.FormatError as exc:
        message = str(exc)
        found = _LINE.search(message)
        line, detail = (int(found.group(1)), found.group(2)) if found else (0, message)
        kind = ("type" if "not one of the model's types" in detail
                else "conflict" if "forced as" in detail else "format")
        raise DictionaryRefused(f"{name} line {line}: {detail}" if line else detail, line, kind) from None
    return dictionary


def from_lines(lines: object, settings: Settings, types: Sequence[str]) -> ner.Dictionary | None:
    """The REST field ``"dictionary"``: a list of lines (``"字节跳动\\tORG"``), or :class:`DictionaryRefused`."""
    if lines is None:
        return None
    if not isinstance(lines, list) or not all(isinstance(x, str) for x in lines):
        raise DictionaryRefused('"dictionary" must be a list of strings such as "字节跳动\\tORG"')
    if any("\n" in x or "\r" in x for x in lines):
        raise DictionaryRefused('each "dictionary" entry is one line: no line breaks inside an entry')
    return parse("\n".join(lines), settings, types, name='"dictionary"')
