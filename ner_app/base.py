"""What every handler of the page and of the client API shares: the engine, the settings, the request checks,
the model's types and their names and colours, the downloads."""
from __future__ import annotations

import logging
from pathlib import Path

import gradio as gr

import ner

from . import view
from .config import Settings
from .downloads import Downloads
from .files import FileArea
from .gate import Engine, EngineClosed
from .i18n import pick
from .request import RequestChecks

log = logging.getLogger(__name__)


class ServiceBase:
    """One engine plus the limits of :class:`Settings` (see :class:`ner_app.service.NerService`)."""

    def __init__(self, engine: Engine, settings: Settings, export_dir: str | Path | None = None,
                 notice: str | None = None, files: FileArea | None = None):
        self.engine = engine
        self.notice = notice
        self.settings = settings
        self.files = files
        self.types, self.names = view.engine_types(engine)
        #: the one check of a request's options and limits, shared with REST and MCP
        self.checks = RequestChecks(settings, self.types, self.names)
        self.colors = view.color_map(self.types)
        #: what the page's legend and type filter call each type ("人名 PER")
        self.legend = view.legend_labels(self.names)
        self.downloads = Downloads(files, export_dir)

    @property
    def model_name(self) -> str:
        return self.engine.name

    @property
    def export_dir(self) -> Path:
        return self.downloads.export_dir

    def close(self) -> None:
        """At shutdown: recognitions still waiting for the engine are refused (running ones finish)."""
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def write_downloads(self, text: str, entities: list[ner.Entity]) -> list[str | None]:
        """The download files of one analysis (:meth:`ner_app.downloads.Downloads.write`)."""
        return self.downloads.write(text, entities, self.model_name, self.types)

    def _recognize(self, texts: list[str], dictionary: ner.Dictionary | None = None) -> list[list[ner.Entity]]:
        """Entities of each text for the page, or ``gr.Error`` with a short apology (never a stack trace)."""
        try:
            if dictionary is not None:
                return self.engine.recognize_batch(texts, dictionary=dictionary)
            return self.engine.recognize_batch(texts)
        except EngineClosed:
            raise gr.Error(pick("服务正在重启，请稍后重试。", "The service is restarting; try again in a moment."),
                           title=pick("服务重启中", "Restarting"), print_exception=False) from None
        except Exception:
            log.exception("recognition failed for %d text(s)", len(texts))
            raise gr.Error(pick("侦测服务内部出错，请稍后重试。如果一直出错，请联系管理员。",
                                "Something went wrong inside the service; try again. If it keeps happening, tell "
                                "the administrator."),
                           title=pick("服务出错", "Service error"), print_exception=False) from None
