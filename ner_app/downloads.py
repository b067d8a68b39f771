"""The page's download files: every format of :data:`ner.outputs.OUTPUTS` written into a fresh folder, under the
file cache's cap."""
from __future__ import annotations

import atexit
import contextlib
import logging
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import gradio as gr

import ner
from ner.outputs import OUTPUTS

from .files import CacheFull, FileArea
from .i18n import pick

log = logging.getLogger(__name__)

#: Export folders older than this are removed when new ones are written (without a FileArea).
EXPORT_TTL_S = 3600


class Downloads:
    """Writes the downloads of one analysis: into the :class:`FileArea` (under its cap) when there is one, else
    into ``export_dir`` (a temporary folder by default), pruning folders older than :data:`EXPORT_TTL_S`."""

    def __init__(self, files: FileArea | None = None, export_dir: str | Path | None = None):
        self.files = files
        if files is not None:
            export_dir = files.downloads
        elif export_dir is None:
            export_dir = tempfile.mkdtemp(prefix="ner-app-exports-")
            atexit.register(shutil.rmtree, export_dir, ignore_errors=True)
        self.export_dir = Path(export_dir)
        self.export_dir.mkdir(parents=True, exist_ok=True)

    def write(self, text: str, entities: Sequence[ner.Entity], model: str,
              types: Sequence[str]) -> list[str | None]:
        """Write every format of :data:`ner.outputs.OUTPUTS` into a fresh folder; their paths in that order.

        With a FileArea the files must fit under its cap: when they do not, the analysis is still shown,
        without downloads, and a warning says why.
        """
        contents = {key: out.write(text, entities, model, types).encode(out.encoding) for key, out in OUTPUTS.items()}
        paths: list[str | None] = []
        try:
            with self._room(sum(map(len, contents.values()))):
                self.export_dir.mkdir(parents=True, exist_ok=True)  # the cache's sweep removes it when empty
                folder = Path(tempfile.mkdtemp(dir=self.export_dir))
                for key, out in OUTPUTS.items():
                    (folder / out.file_name).write_bytes(contents[key])
                    paths.append(str(folder / out.file_name))
        except CacheFull as exc:
            log.warning("downloads skipped: the file cache is full (%s)", exc)
            gr.Warning(pick("服务器暂存空间已满，本次结果暂不提供下载文件，请稍后再试。",
                            "The server's file space is full: this result has no downloads; try again later."),
                       title=pick("下载不可用", "No downloads"))
            return [None] * len(OUTPUTS)
        except OSError as exc:  # the cache directory is gone (shutdown) or the disk is full
            log.warning("downloads skipped: %s", exc.strerror)
            return [None] * len(OUTPUTS)
        return paths

    def _room(self, size: int):
        if self.files is not None:
            return self.files.reserve(size, files=len(OUTPUTS))  # counted per client (issue 26)
        self._prune()
        return contextlib.nullcontext()

    def _prune(self) -> None:
        cutoff = time.time() - EXPORT_TTL_S
        for folder in self.export_dir.iterdir():
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                pass
