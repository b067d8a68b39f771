"""What the UI and the Gradio API endpoints call: input checks with plain Chinese messages, recognition, downloads."""
from __future__ import annotations

import atexit
import contextlib
import html
import logging
import shutil
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import gradio as gr

import ner
from ner.textio import decode_bytes, well_formed

from . import userdict, view
from .i18n import TABLE_HEADERS, TYPE_NAMES_EN, current, pick
from .config import Settings
from .files import REFUSALS, CacheFull, FileArea, UploadRefused, read_file
from .gate import Engine, EngineClosed, EngineGate  # noqa: F401  (EngineGate: where the tests find it)
from .inputs import NotText
from .view import json_type

log = logging.getLogger(__name__)

#: Export folders older than this are removed when new ones are written (without a FileArea).
EXPORT_TTL_S = 3600
#: The downloads of one analysis: (key, file name), JSON and CSV first (file names say what each holds)
DOWNLOADS = (("json", "entities.json"), ("csv", "entities.csv"),
             *((key, f"entities-{name}") for key, name, _ in view.ANNOTATION_FORMATS))


@dataclass(frozen=True)
class Prefs:
    """One visitor's page settings, kept in that visitor's ``gr.State`` (never shared): their own dictionary
    and the filters of what is shown."""

    dictionary: ner.Dictionary | None = None
    min_score: float = 0.0
    #: the types shown (None: every type)
    types: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Shown:
    """The last recognition on a visitor's page, before the filters: the filters redraw it without the model."""

    text: str
    entities: tuple[ner.Entity, ...]


class NerService:
    """One recognizer plus the limits of :class:`Settings`, with a handler for each UI event.

    Handlers raise ``gr.Error`` with a Chinese message for anything the user can
    fix (empty or over-long text, unreadable file); engine failures are logged
    and shown as a short apology, never as a stack trace.  Every text is made
    well-formed first (:func:`ner.textio.well_formed`: a lone surrogate becomes
    U+FFFD, offsets unchanged).  With a :class:`FileArea`, uploads are read only
    from it and deleted once read, and downloads are written into it under its cap.
    """

    def __init__(self, recognizer: Engine, settings: Settings, export_dir: str | Path | None = None,
                 notice: str | None = None, files: FileArea | None = None):
        self.rec = recognizer
        self.notice = notice
        self.settings = settings
        self.files = files
        self.types, self.names = view.engine_types(recognizer)
        self.colors = view.color_map(self.types)
        #: what the page's legend and type filter call each type ("人名 PER")
        self.legend = view.legend_labels(self.names)
        if files is not None:
            export_dir = files.downloads
        elif export_dir is None:
            export_dir = tempfile.mkdtemp(prefix="ner-app-exports-")
            atexit.register(shutil.rmtree, export_dir, ignore_errors=True)
        self.export_dir = Path(export_dir)
        self.export_dir.mkdir(parents=True, exist_ok=True)

    @property
    def model_name(self) -> str:
        return self.rec.name

    def close(self) -> None:
        """At shutdown: recognitions still waiting for the engine are refused (running ones finish)."""
        close = getattr(self.rec, "close", None)
        if close is not None:
            close()

    # ------------------------------------------------------------ checks

    def check_text(self, text) -> str:
        """``text`` made well-formed if it can be recognized, else ``gr.Error`` saying what to change."""
        if not isinstance(text, str) or not text.strip():
            raise gr.Error(pick("请先输入或上传要侦测的中文文本，输入框目前是空的。",
                                "Type, paste or upload the Chinese text to recognize first: the box is empty."),
                           title=pick("没有文本", "No text"), print_exception=False)
        if len(text) > self.settings.max_chars:
            raise gr.Error(pick(f"文本太长：共 {len(text):,} 个字符，超过单次上限 {self.settings.max_chars:,} 个字符。"
                                f"请分段提交。",
                                f"The text has {len(text):,} characters, more than the {self.settings.max_chars:,} of "
                                f"one recognition: send it in parts."),
                           title=pick("文本过长", "Text too long"), print_exception=False)
        return well_formed(text)

    def check_size(self, text: str) -> None:
        """An uploaded file's text must fit one recognition; else ``gr.Error`` (the textbox keeps what it had)."""
        if len(text) > self.settings.max_chars:
            raise gr.Error(pick(f"文件内容太长：共 {len(text):,} 个字符，超过单次上限 {self.settings.max_chars:,} 个"
                                f"字符。请把文件分成几段分别上传；输入框中原有的文字保持不变。",
                                f"The file holds {len(text):,} characters, more than the {self.settings.max_chars:,} "
                                f"of one recognition: upload it in parts. The text box keeps what it had."),
                           title=pick("文件过长", "File too long"), print_exception=False)

    def _recognize(self, texts: list[str], dictionary: ner.Dictionary | None = None) -> list[list[ner.Entity]]:
        try:
            if dictionary is not None:
                return self.rec.recognize_batch(texts, dictionary=dictionary)
            return self.rec.recognize_batch(texts)
        except EngineClosed:
            raise gr.Error(pick("服务正在重启，请稍后重试。", "The service is restarting; try again in a moment."),
                           title=pick("服务重启中", "Restarting"), print_exception=False) from None
        except Exception:
            log.exception("recognition failed for %d text(s)", len(texts))
            raise gr.Error(pick("侦测服务内部出错，请稍后重试。如果一直出错，请联系管理员。",
                                "Something went wrong inside the service; try again. If it keeps happening, tell "
                                "the administrator."),
                           title=pick("服务出错", "Service error"), print_exception=False) from None

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
                    *[None] * len(DOWNLOADS))
        entities = view.keep(shown.entities, prefs.min_score, prefs.types)
        paths = self.write_downloads(shown.text, entities) if downloads else [None] * len(DOWNLOADS)
        counts = view.count_by_type(entities, self.types)
        return (view.highlight_value(shown.text, entities), self.table(entities),
                view.counts_html(counts, self.colors, self.names), *paths)

    def table(self, entities) -> dict:
        """The entity table's value: its rows and the column names in the visitor's language (as plain text:
        every answer, the ``/call`` API's too, is JSON)."""
        return {"headers": TABLE_HEADERS[current()], "data": view.table_rows(entities)}

    def cleared(self):
        """After an error: no stale result stays on screen under the error message."""
        return (*self.present(None), None)

    def rerun(self, prefs: Prefs | None, shown: Shown | None):
        """After the visitor applied a dictionary: their last text again, with it (nothing when there is none)."""
        if shown is None:
            return tuple(gr.skip() for _ in range(len(DOWNLOADS) + 4))
        return self.analyze_page(shown.text, prefs)

    def analyze_live(self, text: str | None, live: bool, prefs: Prefs | None = None, shown: Shown | None = None):
        """实时侦测 while typing: like the button, for a text of at most ``live_max_chars`` characters; a longer text
        clears the result and says why (:meth:`over_live_limit`); otherwise (switch off, empty text, or the text
        already shown, as after an upload) nothing changes."""
        if not live or not isinstance(text, str) or not text.strip() or (shown is not None and shown.text == text):
            return tuple(gr.skip() for _ in range(len(DOWNLOADS) + 4))
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
        prefs = replace(prefs or Prefs(), min_score=float(min_score or 0.0),
                        types=None if types is None else tuple(t for t in self.types if t in types))
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

    # ------------------------------------------------------------ Gradio API (batched)

    def api_problem(self, text, min_score=0.0, types=None, offsets="code-points") -> str | None:
        """What is wrong with one client call's arguments, in words a client can act on (None: nothing)."""
        if isinstance(text, NotText) or not isinstance(text, str):
            kind = text.kind if isinstance(text, NotText) else json_type(text)
            hint = "; send one text per call (call again for each text)" if kind == "a list" else ""
            return f"text must be a string, not {kind}{hint}"
        if len(text) > self.settings.max_chars:
            return f"text has {len(text)} characters; at most {self.settings.max_chars} per text: split it"
        if min_score is not None and (isinstance(min_score, bool) or not isinstance(min_score, (int, float))
                                      or not 0.0 <= min_score <= 1.0):
            return f"min_score must be a number from 0 to 1, not {min_score!r}"
        if types is not None:
            if not isinstance(types, list) or not all(isinstance(t, str) for t in types):
                return f"types must be a list of type names such as {self.types[:2]}, not {json_type(types)}"
            unknown = [t for t in types if t not in self.types]
            if unknown:
                return f"types: {', '.join(map(str, unknown))} is not a type of this model ({', '.join(self.types)})"
        if offsets is not None and offsets not in view.OFFSET_MODES:
            return f"offsets must be one of {', '.join(view.OFFSET_MODES)}, not {offsets!r}"
        return None

    def validate_batch(self, text: list, *params: list) -> list[list]:
        """The client endpoints' validator: runs on each request before it joins a batch.

        Returns one ``gr.validate`` per input for each request: a refusal is an
        HTTP 422 whose message gradio_client shows ("- text: text must be a
        string, not null"), and fails only that request, never its batch-mates.
        Batch functions get one list per input, so ``text`` is a list (of one
        text) despite its name; ``params`` are min_score, types and offsets,
        as many as the endpoint has.
        """
        n = len(text)
        columns = [_each(p, n) for p in params] + [[None] * n] * (3 - len(params))
        problem = next((p for p in (self.api_problem(*args) for args in zip(text, *columns, strict=True)) if p), None)
        return [[gr.validate(problem is None, problem or "")] * n] + [[gr.validate(True, "")] * n for _ in params]

    def _recognize_each(self, texts: list[str]) -> list[list[ner.Entity] | None]:
        """Entities of each text of a batch; ``None`` for a text the engine failed on.

        The requests of a Gradio batch come from different callers: when the
        engine fails on the batch, each text is retried alone, so one bad text
        cannot fail its batch-mates.
        """
        found: list[list[ner.Entity] | None]
        try:
            found = list(self.rec.recognize_batch(texts))
            return found
        except EngineClosed:
            return [None] * len(texts)
        except Exception:
            log.exception("batch of %d failed; retrying each text alone", len(texts))
        out: list[list[ner.Entity] | None] = []
        for t in texts:
            try:
                out.append(self.rec.recognize(t))
            except Exception:
                log.exception("recognition failed for one text of %d chars", len(t))
                out.append(None)
        return out

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
        texts = [well_formed(t) for t in text]
        found = self._recognize_each(texts)
        return ([view.highlight_tokens(t, view.keep(ents or [], *_filters(m, ty)))
                 for t, ents, m, ty in zip(texts, found, _each(min_score, len(texts)), _each(types, len(texts)),
                                           strict=True)],)

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
        texts = [well_formed(t) for t in text]
        n = len(texts)
        out: list[dict] = []
        for t, ents, m, ty, mode in zip(texts, self._recognize_each(texts), _each(min_score, n), _each(types, n),
                                        _each(offsets, n), strict=True):
            if ents is None:
                out.append({"entities": [], "error": "recognition failed inside the engine"})
            else:
                out.append({"entities": view.entity_dicts(t, view.keep(ents, *_filters(m, ty)), mode or "code-points")})
        return (out,)

    # the names these endpoints had before they took parameters (the MCP tools are named after the new ones)
    recognize_batch = highlight_entities
    extract_batch = extract_entities

    # ------------------------------------------------------------ downloads

    def write_downloads(self, text: str, entities: list[ner.Entity]) -> list[str | None]:
        """Write the downloads of :data:`DOWNLOADS` (JSON, CSV, doccano, Label Studio, CoNLL BIO) into a fresh
        folder; returns their paths in that order.

        With a FileArea the files must fit under its cap: when they do not,
        the analysis is still shown, without downloads, and a warning says why.
        """
        contents = {
            "json": view.to_json(text, entities, self.model_name, self.types).encode("utf-8"),
            # utf-8-sig: spreadsheet programs then open the Chinese text correctly
            "csv": view.to_csv(entities).encode("utf-8-sig"),
            **{key: view.annotation_export(text, entities, key, self.model_name).encode("utf-8")
               for key, _, _ in view.ANNOTATION_FORMATS}}
        paths: list[str | None] = []
        try:
            with self._room(sum(map(len, contents.values()))):
                self.export_dir.mkdir(parents=True, exist_ok=True)  # the cache's sweep removes it when empty
                folder = Path(tempfile.mkdtemp(dir=self.export_dir))
                for key, name in DOWNLOADS:
                    (folder / name).write_bytes(contents[key])
                    paths.append(str(folder / name))
        except CacheFull as exc:
            log.warning("downloads skipped: the file cache is full (%s)", exc)
            gr.Warning(pick("服务器暂存空间已满，本次结果暂不提供下载文件，请稍后再试。",
                            "The server's file space is full: this result has no downloads; try again later."),
                       title=pick("下载不可用", "No downloads"))
            return [None] * len(DOWNLOADS)
        except OSError as exc:  # the cache directory is gone (shutdown) or the disk is full
            log.warning("downloads skipped: %s", exc.strerror)
            return [None] * len(DOWNLOADS)
        return paths

    def _room(self, size: int):
        if self.files is not None:
            return self.files.reserve(size, files=len(DOWNLOADS))  # issue 26: counted per client
        self._prune_exports()
        return contextlib.nullcontext()

    def _prune_exports(self) -> None:
        cutoff = time.time() - EXPORT_TTL_S
        for folder in self.export_dir.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass


def _each(values, n: int) -> list:
    """A batch function's list of one parameter, or ``n`` Nones when the caller left the parameter out."""
    return [None] * n if values is None else list(values)


def _filters(min_score, types) -> tuple[float, set[str] | None]:
    return float(min_score or 0.0), None if types is None else set(types)
