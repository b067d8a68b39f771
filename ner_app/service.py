"""What the UI and the Gradio API endpoints call: input checks with plain Chinese messages, recognition, downloads."""
from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import tempfile
import time
from pathlib import Path

import gradio as gr

import ner
from ner.textio import decode_bytes, well_formed

from . import view
from .config import Settings
from .files import REFUSALS, CacheFull, FileArea, UploadRefused, read_file
from .gate import Engine, EngineClosed, EngineGate  # noqa: F401  (EngineGate: where the tests find it)

log = logging.getLogger(__name__)

#: Export folders older than this are removed when new ones are written (without a FileArea).
EXPORT_TTL_S = 3600


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
        self.types = view.entity_types(recognizer.labels)
        self.colors = view.color_map(self.types)
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
            raise gr.Error("请先输入或上传要侦测的中文文本，输入框目前是空的。", title="没有文本",
                           print_exception=False)
        if len(text) > self.settings.max_chars:
            raise gr.Error(f"文本太长：共 {len(text):,} 个字符，超过单次上限 {self.settings.max_chars:,} 个字符。"
                           f"请分段提交。", title="文本过长", print_exception=False)
        return well_formed(text)

    def _recognize(self, texts: list[str]) -> list[list[ner.Entity]]:
        try:
            return self.rec.recognize_batch(texts)
        except EngineClosed:
            raise gr.Error("服务正在重启，请稍后重试。", title="服务重启中", print_exception=False) from None
        except Exception:
            log.exception("recognition failed for %d text(s)", len(texts))
            raise gr.Error("侦测服务内部出错，请稍后重试。如果一直出错，请联系管理员。", title="服务出错",
                           print_exception=False) from None

    # ------------------------------------------------------------ UI handlers

    def analyze(self, text: str | None):
        """The button: ``(highlight, table rows, counts HTML, JSON path, CSV path)`` for ``text``."""
        text = self.check_text(text)
        started = time.perf_counter()
        entities = self._recognize([text])[0]
        log.info("recognized %d entities in %d chars in %.1f ms", len(entities), len(text),
                 1000 * (time.perf_counter() - started))
        if not entities:
            gr.Warning("没有找到人名、地名或机构名。", title="结果为空")
        json_path, csv_path = self.write_exports(text, entities)
        counts = view.count_by_type(entities, self.types)
        return (view.highlight_value(text, entities), view.table_rows(entities),
                view.counts_html(counts, self.colors), json_path, csv_path)

    def validate_upload(self, path: str | None) -> str:
        """The upload's validator: runs when the request arrives, so a refusal is an HTTP 400 at once.

        Gradio's preprocessing has already refused any file it did not receive
        (:class:`ner_app.files.UploadsOnlyBlocks`); this refuses a missing one.
        """
        if not path:
            raise gr.Error("没有收到文件，请重新上传一个 .txt 文本文件。", title="没有文件", print_exception=False)
        return path

    def analyze_file(self, path: str | None):
        """The upload: the file's text followed by everything :meth:`analyze` returns.

        At most ``max_upload_bytes`` are read, from a regular file only (inside the
        FileArea when there is one, which then deletes the upload once read); the
        encoding is detected by :func:`ner.textio.decode_bytes`.
        """
        path = self.validate_upload(path)
        try:
            data = read_file(path, self.settings.max_upload_bytes, self.files)
        except UploadRefused as exc:
            log.warning("upload refused: %s", exc.reason)
            raise gr.Error(REFUSALS[exc.reason], title="文件不可用", print_exception=False) from None
        finally:
            if self.files is not None:
                self.files.discard(path)
        text, encoding, confident = decode_bytes(data)
        if not confident:
            gr.Warning(f"无法确定文件的编码，已按 {encoding} 读取；如果出现乱码，请把文件另存为 UTF-8 后重新上传。",
                       title="编码提示")
        log.info("uploaded file: %d bytes, %d chars, %s%s", len(data), len(text), encoding,
                 "" if confident else " (unsure)")
        return (text, *self.analyze(text))

    # ------------------------------------------------------------ Gradio API (batched)

    def validate_batch(self, text: list) -> tuple[list]:
        """Runs on each request before it joins a batch, so one bad text fails only its own request.

        Raising is the way to refuse here: Gradio ignores ``gr.validate(False, ...)``
        from batched validators, and an error raised later, inside the batch,
        would fail every request batched with it.
        """
        # batch functions get one list per input: ``text`` is a list of strings despite its (API-facing) name
        for t in text:
            if not isinstance(t, str):
                raise gr.Error(f"text must be a string, not {type(t).__name__}", print_exception=False)
            if len(t) > self.settings.max_chars:
                raise gr.Error(f"text has {len(t)} characters; at most {self.settings.max_chars} per text",
                               print_exception=False)
        return (list(text),)

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

    def recognize_batch(self, text: list[str]) -> tuple[list[dict]]:
        """``/recognize``: each text (made well-formed) -> its HighlightedText value (plain text where the engine failed)."""
        texts = [well_formed(t) for t in text]
        return ([view.highlight_value(t, ents or []) for t, ents in zip(texts, self._recognize_each(texts), strict=True)],)

    def extract_batch(self, text: list[str]) -> tuple[list[dict]]:
        """``/extract``: each text (made well-formed) -> ``{"entities": [{"text", "type", "start", "end", "score"}, ...]}``,
        or ``{"entities": [], "error": "..."}`` for a text the engine failed on."""
        return ([{"entities": [e.to_dict() for e in ents]} if ents is not None
                 else {"entities": [], "error": "recognition failed inside the engine"}
                 for ents in self._recognize_each([well_formed(t) for t in text])],)

    # ------------------------------------------------------------ downloads

    def write_exports(self, text: str, entities: list[ner.Entity]) -> tuple[str | None, str | None]:
        """Write ``entities.json`` and ``entities.csv`` into a fresh folder; returns their paths.

        With a FileArea the two files must fit under its cap: when they do not,
        the analysis is still shown, without downloads, and a warning says why.
        """
        exported = view.to_json(text, entities, self.model_name, self.types).encode("utf-8")
        # utf-8-sig: spreadsheet programs then open the Chinese text correctly
        table = view.to_csv(entities).encode("utf-8-sig")
        try:
            with self._room(len(exported) + len(table)):
                self.export_dir.mkdir(parents=True, exist_ok=True)  # the cache's sweep removes it when empty
                folder = Path(tempfile.mkdtemp(dir=self.export_dir))
                json_path, csv_path = folder / "entities.json", folder / "entities.csv"
                json_path.write_bytes(exported)
                csv_path.write_bytes(table)
        except CacheFull as exc:
            log.warning("downloads skipped: the file cache is full (%s)", exc)
            gr.Warning("服务器暂存空间已满，本次结果暂不提供下载文件，请稍后再试。", title="下载不可用")
            return None, None
        except OSError as exc:  # the cache directory is gone (shutdown) or the disk is full
            log.warning("downloads skipped: %s", exc.strerror)
            return None, None
        return str(json_path), str(csv_path)

    def _room(self, size: int):
        if self.files is not None:
            return self.files.reserve(size)
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
