"""The one factory of what is served: :func:`create_app` builds engine, files, service, page, client API, REST
and guard once, from a :class:`Settings` value, and returns the ASGI app a server runs.  ``python app.py``, Ray
Serve's replicas and the tests all build the app here."""
from __future__ import annotations

import logging
import os
from typing import Any

from starlette.types import Receive, Scope, Send

from . import view
from .config import Settings
from .files import FileArea
from .gate import Engine
from .guard import Guard
from .model_source import load_engine
from .request import InFlight, RequestChecks
from .rest import create_api, swagger_ui_folder

log = logging.getLogger(__name__)


class NerApp:
    """What is served: the guarded ASGI app, with what the server needs at its end (:meth:`stop`,
    :meth:`remove_files`) and what tests look at (``engine``, ``service``, ``files``, ``blocks``)."""

    def __init__(self, asgi: Any, settings: Settings, engine: Engine, notice: str | None = None,
                 files: FileArea | None = None, service: Any = None, blocks: Any = None):
        self.asgi = asgi
        self.settings = settings
        self.engine = engine
        self.notice = notice
        self.files = files
        self.service = service
        self.blocks = blocks

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.asgi(scope, receive, send)

    def stop(self) -> None:
        """At SIGTERM: new requests are refused (the guard's 503) and requests still waiting for the engine are
        refused too (running ones finish their turn)."""
        stop = getattr(self.asgi, "stop", None)
        if stop is not None:
            stop()
        close = getattr(self.engine, "close", None)
        if close is not None:
            close()

    def remove_files(self) -> None:
        """At exit: this process's uploads and downloads."""
        if self.files is not None:
            self.files.remove()


def create_app(settings: Settings, *, engine: Engine | None = None, page: bool = True,
               guard: bool = True) -> NerApp:
    """The app for ``settings``: the engine (``engine``, or the model ``settings.model`` names, loaded, warmed and
    gated once), the REST API, and with ``page`` the Gradio page, its client API and MCP tools on the same app;
    behind :class:`ner_app.guard.Guard` unless ``guard`` is off (Ray Serve's proxy runs the guard for its
    replicas).  Reads no environment; raises ``ValueError`` or :class:`ner.NerError` for a bad model or
    dictionary."""
    notice = None
    if engine is None:
        engine, notice = load_engine(settings)
    types, names = view.engine_types(engine)
    checks = RequestChecks(settings, types, names)
    in_flight = InFlight(settings.queue_size)
    docs_css = None
    if page:
        from .layout import DOCS_CSS_PATH

        docs_css = DOCS_CSS_PATH.read_text(encoding="utf-8") if DOCS_CSS_PATH.is_file() else None
    asgi: Any = create_api(engine, settings, notice=notice, docs_assets=swagger_ui_folder(), docs_css=docs_css,
                           checks=checks, in_flight=in_flight)
    files = service = blocks = None
    if page:
        asgi, files, service, blocks = _with_page(asgi, settings, engine, notice, in_flight)
    if guard:
        asgi = Guard(asgi, settings, files)
    return NerApp(asgi, settings, engine, notice, files, service, blocks)


def _with_page(api: Any, settings: Settings, engine: Engine, notice: str | None, in_flight: InFlight):
    import gradio as gr

    from .inputs import json_tool_results
    from .layout import CSS_PATH, HIGHLIGHT_ID, THEME, build_demo, mcp_enabled, page_js, page_strings
    from .roads import GradioRoads, ToolTurns, serve_tools
    from .service import NerService

    files = FileArea.create(settings.file_ttl_s, settings.cache_max_bytes, parent=settings.temp_dir)
    # Gradio's upload folder and cache: this app's own folder, removed when it stops.  Gradio reads the variable
    # at each request (it has no parameter for it), so it is set, not read, here.
    os.environ["GRADIO_TEMP_DIR"] = str(files.root)
    service = NerService(engine, settings, notice=notice, files=files)
    demo = build_demo(service)
    strings = page_strings(service)
    app = gr.mount_gradio_app(api, demo, path="/", theme=THEME, css_paths=[CSS_PATH],
                              css=view.highlight_css(service.colors, HIGHLIGHT_ID), show_error=False,
                              max_file_size=settings.max_upload_bytes, footer_links=["api"], run_history=False,
                              mcp_server=mcp_enabled(settings), i18n=strings, js=page_js(strings))
    # mount_gradio_app never marks the app launched, and Gradio skips its own check that a file named
    # in a request lies in its upload folder for an app that has not launched
    demo.has_launched = True
    json_tool_results(demo)  # MCP tool results as JSON text, not Python's repr
    # MCP calls wait their turn at the engine (a waiting call is an open request, no thread): up to four times
    # the queue's cap of them, then "busy"
    serve_tools(demo, engine, service.checks, ToolTurns(settings.engine_slots, 4 * settings.queue_size))
    return GradioRoads(app, demo, service.checks, in_flight), files, service, demo
