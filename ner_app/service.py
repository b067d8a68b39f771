"""What the UI and the Gradio API endpoints call: input checks with plain Chinese messages, recognition, downloads."""
from __future__ import annotations

import atexit
import logging
import shutil
import tempfile
import threading
import time
from pathlib import Path

import gradio as gr

import ner

from . import view
from .config import Settings

log = logging.getLogger(__name__)

#: Export folders older than this are removed when new ones are written.
EXPORT_TTL_S = 3600


class EngineGate:
    """A recognizer that at most ``slots`` threads use at once; the others wait their turn.

    The engine already uses every core for one call, so more concurrent calls
    only add memory: each running call holds its own buffers (ONNX Runtime's
    arena, numpy temporaries, a malloc arena per thread) and a server under
    load would grow with the number of callers.
    """

    def __init__(self, recognizer, slots: int = 2):
        self._rec = recognizer
        self._gate = threading.BoundedSemaphore(slots)

    def __getattr__(self, name):  # name, labels, spec... of the wrapped recognizer
        return getattr(self._rec, name)

    def recognize(self, text: str) -> list[ner.Entity]:
        with self._gate:
            return self._rec.recognize(text)

    def recognize_batch(self, texts: list[str]) -> list[list[ner.Entity]]:
        with self._gate:
            return self._rec.recognize_batch(texts)


class NerService:
    """One recognizer plus the limits of :class:`Settings`, with a handler for each UI event.

    Handlers raise ``gr.Error`` with a Chinese message for anything the user can
    fix (empty or over-long text, unreadable file); engine failures are logged
    and shown as a short apology, never as a stack trace.
    """

    def __init__(self, recognizer: ner.Recognizer, settings: Settings, export_dir: Path | None = None,
                 notice: str | None = None):
        self.rec = recognizer
        self.notice = notice
        self.settings = settings
        self.types = view.entity_types(recognizer.labels)
        self.colors = view.color_map(self.types)
        if export_dir is None:
            export_dir = tempfile.mkdtemp(prefix="ner-app-exports-")
            atexit.register(shutil.rmtree, export_dir, ignore_errors=True)
        self.export_dir = Path(export_dir)
        self.export_dir.mkdir(parents=True, exist_ok=True)

    @property
    def model_name(self) -> str:
        return self.rec.name

    # ------------------------------------------------------------ checks

    def check_text(self, text) -> str:
        """``text`` if it can be recognized, else ``gr.Error`` saying what to change."""
        if not isinstance(text, str) or not text.strip():
            raise gr.Error("请先输入或上传要侦测的中文文本，输入框目前是空的。", title="没有文本",
                           print_exception=False)
        if len(text) > self.settings.max_chars:
            raise gr.Error(f"文本太长：共 {len(text):,} 个字符，超过单次上限 {self.settings.max_chars:,} 个字符。"
                           f"请分段提交。", title="文本过长", print_exception=False)
        return text

    def _recognize(self, texts: list[str]) -> list[list[ner.Entity]]:
        try:
            return self.rec.recognize_batch(texts)
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

    def analyze_file(self, path: str | None):
        """The upload: the file's text followed by everything :meth:`analyze` returns."""
        if not path:
            raise gr.Error("没有收到文件，请重新上传一个 .txt 文本文件。", title="没有文件", print_exception=False)
        try:
            data = Path(path).read_bytes()
        except OSError:
            log.exception("could not read the uploaded file")
            raise gr.Error("上传的文件无法读取，请重新上传。", title="文件读取失败", print_exception=False) from None
        text, encoding = view.decode_text(data)
        if "replaced" in encoding:
            gr.Warning("文件不是 UTF-8 或 GB18030 编码，无法识别的字节已替换为 �。", title="编码提示")
        log.info("uploaded file: %d bytes, %d chars, %s", len(data), len(text), encoding)
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
        try:
            return self.rec.recognize_batch(texts)
        except Exception:
            log.exception("batch of %d failed; retrying each text alone", len(texts))
        out = []
        for t in texts:
            try:
                out.append(self.rec.recognize(t))
            except Exception:
                log.exception("recognition failed for one text of %d chars", len(t))
                out.append(None)
        return out

    def recognize_batch(self, text: list[str]) -> tuple[list[list]]:
        """``/recognize``: each text -> its HighlightedText value (plain text where the engine failed)."""
        return ([view.highlight_value(t, ents or []) for t, ents in zip(text, self._recognize_each(text), strict=True)],)

    def extract_batch(self, text: list[str]) -> tuple[list[dict]]:
        """``/extract``: each text -> ``{"entities": [{"text", "type", "start", "end", "score"}, ...]}``,
        or ``{"entities": [], "error": "..."}`` for a text the engine failed on."""
        return ([{"entities": [e.to_dict() for e in ents]} if ents is not None
                 else {"entities": [], "error": "recognition failed inside the engine"}
                 for ents in self._recognize_each(text)],)

    # ------------------------------------------------------------ downloads

    def write_exports(self, text: str, entities: list[ner.Entity]) -> tuple[str, str]:
        """Write ``entities.json`` and ``entities.csv`` into a fresh folder; returns their paths."""
        self._prune_exports()
        folder = Path(tempfile.mkdtemp(dir=self.export_dir))
        json_path, csv_path = folder / "entities.json", folder / "entities.csv"
        json_path.write_text(view.to_json(text, entities, self.model_name, self.types), encoding="utf-8")
        # utf-8-sig: spreadsheet programs then open the Chinese text correctly
        csv_path.write_text(view.to_csv(entities), encoding="utf-8-sig")
        return str(json_path), str(csv_path)

    def _prune_exports(self) -> None:
        cutoff = time.time() - EXPORT_TTL_S
        for folder in self.export_dir.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass
