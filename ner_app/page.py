"""The page's handlers: what each event of the page (the button, 实时侦测, the filters, the dictionary, an upload)
does, with plain Chinese (or English) messages for anything the visitor can fix."""
from __future__ import annotations

import html
import logging
import time
from dataclasses import dataclass, replace

import gradio as gr

import ner
from ner.entity import TYPE_NAMES_EN
from ner.outputs import OUTPUTS, count_by_type
from ner.textio import decode_bytes

from . import userdict, view
from .base import ServiceBase
from .files import REFUSALS, UploadRefused, read_file
from .i18n import COLUMNS, current, pick
from .request import TOO_LARGE, Options, Refused

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prefs:
    """One visitor's page settings, kept in that visitor's ``gr.State`` (never shared): their own dictionary
    and the filters of what is shown."""

    dictionary: ner.Dictionary | None = None
    min_score: float = 0.0
    #: the types shown (None: every type)
    types: tuple[str, ...] | None = None

    def keep(self, entities) -> list[ner.Entity]:
        """The entities these filters show (the one filter rule, :meth:`ner_app.request.Options.keep`)."""
        return Options(min_score=self.min_score,
                       types=None if self.types is None else frozenset(self.types)).keep(entities)


@dataclass(frozen=True)
class Shown:
    """The last recognition on a visitor's page, before the filters: the filters redraw it without the model."""

    text: str
    entities: tuple[ner.Entity, ...]


class PageHandlers(ServiceBase):
    """The page's event handlers, a part of :class:`ner_app.service.NerService`."""

    # ------------------------------------------------------------ checks

    def check_text(self, text) -> str:
        """``text`` made well-formed if it can be recognized (:meth:`ner_app.request.RequestChecks.text`, the
        one check of every road), else ``gr.Error`` saying what to change."""
        if not isinstance(text, str) or not text.strip():
            raise gr.Error(pick("请先输入或上传要侦测的中文文本，输入框目前是空的。",
                                "Type, paste or upload the Chinese text to recognize first: the box is empty."),
                           title=pick("没有文本", "No text"), print_exception=False)
        try:
            return self.checks.text(text)
        except Refused as exc:
            if exc.status != TOO_LARGE:
                raise
            raise gr.Error(pick(f"文本太长：共 {len(text):,} 个字符，超过单次上限 {self.settings.max_chars:,} 个字符。"
                                f"请分段提交。",
                                f"The text has {len(text):,} characters, more than the {self.settings.max_chars:,} of "
                                f"one recognition: send it in parts."),
                           title=pick("文本过长", "Text too long"), print_exception=False) from None

    def check_size(self, text: str) -> None:
        """An uploaded file's text must fit one recognition; else ``gr.Error`` (the textbox keeps what it had)."""
        if len(text) > self.settings.max_chars:
            raise gr.Error(pick(f"文件内容太长：共 {len(text):,} 个字符，超过单次上限 {self.settings.max_chars:,} 个"
                                f"字符。请把文件分成几段分别上传；输入框中原有的文字保持不变。",
                                f"The file holds {len(text):,} characters, more than the {self.settings.max_chars:,} "
                                f"of one recognition: upload it in parts. The text box keeps what it had."),
                           title=pick("文件过长", "File too long"), print_exception=False)
    # ------------------------------------------------------------ UI handlers

    def analyze(self, text: str | None, prefs: Prefs | None = None):
        """``(highlight, table rows, counts HTML, JSON path, CSV path)`` for ``text``: the first five outputs
        of :meth:`analyze_page`."""
        return self.analyze_page(text, prefs)[:5]

    def analyze_page(self, text: str | None, prefs: Prefs | None = None):
        """The button: the visitor's dictionary applies; the outputs are :meth:`present`'s plus the new
        :class:`Shown`, which the filters redraw without the model."""
        prefs = prefs or Prefs()
        text = self.check_text(text)
        started = time.perf_counter()
        entities = self._recognize([text], prefs.dictionary)[0]
        log.info("recognized %d entities in %d chars in %.1f ms", len(entities), len(text),
                 1000 * (time.perf_counter() - started))
        if not entities:
            gr.Warning(html.escape(pick(f"没有找到{'、'.join(self.names.values())}。",  # names from the model card
                                        f"No {', '.join(TYPE_NAMES_EN.get(k, k).lower() for k in self.types)} found.")),
                       title=pick("结果为空", "Nothing found"))
        shown = Shown(text, tuple(entities))
        return (*self.present(shown, prefs), shown)

    def present(self, shown: Shown | None, prefs: Prefs | None = None, downloads: bool = True):
        """``(highlight, rows, counts, JSON, CSV, doccano, Label Studio, CoNLL)`` of ``shown`` through the
        visitor's filters (highlights, table, counts and downloads all show the same entities)."""
        prefs = prefs or Prefs()
        if shown is None:
            return (None, self.table([]), view.counts_html(dict.fromkeys(self.types, 0), self.colors, self.names),
                    *[None] * len(OUTPUTS))
        entities = prefs.keep(shown.entities)
        paths = self.write_downloads(shown.text, entities) if downloads else [None] * len(OUTPUTS)
        counts = count_by_type(entities, self.types)
        return (view.highlight_value(shown.text, entities), self.table(entities),
                view.counts_html(counts, self.colors, self.names), *paths)

    def table(self, entities) -> dict:
        """The entity table's value: its rows and the column names in the visitor's language (as plain text:
        every answer, the ``/call`` API's too, is JSON)."""
        return {"headers": COLUMNS[current()], "data": view.table_rows(entities)}

    def cleared(self):
        """After an error: no stale result stays on screen under the error message."""
        return (*self.present(None), None)

    def rerun(self, prefs: Prefs | None, shown: Shown | None):
        """After the visitor applied a dictionary: their last text again, with it (nothing when there is none)."""
        if shown is None:
            return tuple(gr.skip() for _ in range(len(OUTPUTS) + 4))
        return self.analyze_page(shown.text, prefs)

    def analyze_live(self, text: str | None, live: bool, prefs: Prefs | None = None, shown: Shown | None = None):
        """实时侦测 while typing: like the button, for a text of at most ``live_max_chars`` characters; a longer text
        clears the result and says why (:meth:`over_live_limit`); otherwise (switch off, empty text, or the text
        already shown, as after an upload) nothing changes."""
        if not live or not isinstance(text, str) or not text.strip() or (shown is not None and shown.text == text):
            return tuple(gr.skip() for _ in range(len(OUTPUTS) + 4))
        if len(text) > self.settings.live_max_chars:
            return self.over_live_limit(len(text), shown is not None)
        return self.analyze_page(text, prefs)

    def over_live_limit(self, chars: int, clearing: bool):
        """实时侦测 with a text over ``live_max_chars``: the last (now unrelated) result is cleared and the counts row
        says why and that the button runs the text; a toast says so once, when a result is cleared."""
        limit = self.settings.live_max_chars
        if clearing:
            gr.Warning(pick(f"实时侦测只处理 {limit:,} 字以内的文本（当前 {chars:,} 字），结果已清空。"
                            f"请点击「🚀 开始侦测」侦测全文。",
                            f"Live mode handles up to {limit:,} characters (this text: {chars:,}); the result was "
                            f"cleared. Press “🚀 Detect” to run the whole text."),
                       title=pick("超出实时侦测范围", "Too long for live mode"))
        highlight, rows, _counts, *downloads, shown = self.cleared()
        return (highlight, rows, view.live_limit_html(chars, limit), *downloads, shown)

    def set_filters(self, min_score: float | None, types: list[str] | None, prefs: Prefs | None,
                    shown: Shown | None):
        """A filter moved: the new :class:`Prefs` and the last result redrawn, without running the model."""
        try:  # the one check of min_score and types (a page event can be sent by any client)
            options = self.checks.options({"min_score": min_score, "types": types})
        except Refused as exc:
            raise gr.Error(exc.message, title=pick("筛选条件有误", "Bad filter"), print_exception=False) from None
        prefs = replace(prefs or Prefs(), min_score=options.min_score,
                        types=None if options.types is None else tuple(t for t in self.types if t in options.types))
        return (prefs, *self.present(shown, prefs))

    def set_dictionary(self, lines: str | None, prefs: Prefs | None):
        """The visitor's "应用词典": their dictionary, parsed and checked, for their next recognitions only."""
        try:
            dictionary = userdict.parse(lines or "", self.settings, self.types, name="自定义词典", names=self.names)
        except userdict.DictionaryRefused as exc:
            raise gr.Error(pick(exc.chinese(self.types, self.names), exc.english(self.types, self.names)),
                           title=pick("词典有误", "Dictionary error"), print_exception=False) from None
        if dictionary is None:
            gr.Info(pick("自定义词典已清空。", "The custom dictionary is empty now."), title=pick("词典", "Dictionary"))
        else:
            gr.Info(pick(f"已应用 {len(dictionary)} 条词典条目（仅对您本人的侦测生效）。",
                         f"Applied {len(dictionary)} dictionary entries (to your own recognitions only)."),
                    title=pick("词典", "Dictionary"))
        return replace(prefs or Prefs(), dictionary=dictionary)

    def validate_upload(self, path: str | None) -> str:
        """The upload's validator: runs when the request arrives, so a refusal is an HTTP 400 at once.

        Gradio's preprocessing has already refused any file it did not receive
        (:class:`ner_app.files.UploadsOnlyBlocks`); this refuses a missing one.
        """
        if not path:
            raise gr.Error(pick("没有收到文件，请重新上传一个 .txt 文本文件。", "No file arrived; upload a .txt file again."),
                           title=pick("没有文件", "No file"), print_exception=False)
        return path

    def validate_upload_event(self, path: str | None, prefs: Prefs | None = None) -> list[dict]:
        """:meth:`validate_upload` as the upload event's validator: one verdict per input (file, visitor state)."""
        self.validate_upload(path)
        return [gr.validate(True, ""), gr.validate(True, "")]

    def analyze_file(self, path: str | None, prefs: Prefs | None = None):
        """The upload: the file's text followed by everything :meth:`analyze_page` returns.

        At most ``max_upload_bytes`` are read, from a regular file only (inside the
        FileArea when there is one, which then deletes the upload once read); the
        encoding is detected by :func:`ner.textio.decode_bytes`.
        """
        path = self.validate_upload(path)
        try:
            data = read_file(path, self.settings.max_upload_bytes, self.files)
        except UploadRefused as exc:
            log.warning("upload refused: %s", exc.reason)
            raise gr.Error(pick(*REFUSALS[exc.reason]), title=pick("文件不可用", "File refused"),
                           print_exception=False) from None
        finally:
            if self.files is not None:
                self.files.discard(path)
        text, encoding, confident = decode_bytes(data)
        if not confident:
            gr.Warning(pick(f"无法确定文件的编码，已按 {encoding} 读取；如果出现乱码，请把文件另存为 UTF-8 后重新上传。",
                            f"The file's encoding is unsure; it was read as {encoding}. If the text looks garbled, "
                            f"save the file as UTF-8 and upload it again."),
                       title=pick("编码提示", "Encoding"))
        log.info("uploaded file: %d bytes, %d chars, %s%s", len(data), len(text), encoding,
                 "" if confident else " (unsure)")
        self.check_size(text)
        return (text, *self.analyze_page(text, prefs))
