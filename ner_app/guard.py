"""The ASGI layer in front of the whole server (REST routes and the Gradio page alike).

Every response gets the security headers; every request body is bounded in bytes
and in time (an over-limit body is read and dropped, up to a bound, so the client can read its 413); uploads must fit the file cache; Gradio routes this app does not use
(URL fetching, proxying, deep links, recordings, monitoring...) answer 404; and a
client that goes away mid-request leaves no traceback in the log.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import anyio
from starlette.requests import ClientDisconnect

from .config import Settings
from .files import CacheFull, FileArea

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

UPLOAD_PATH = "/gradio_api/upload"
#: Gradio routes that serve nothing this app uses; each could fetch URLs, write files or expose internals.
UNUSED_PREFIXES = ("/gradio_api/proxy=", "/gradio_api/deep_link", "/gradio_api/process_recording",
                   "/gradio_api/run-history", "/gradio_api/runs", "/gradio_api/vibe-", "/gradio_api/undo-vibe-edit",
                   "/gradio_api/vibe-code", "/gradio_api/stream/", "/gradio_api/dev/", "/gradio_api/mcp",
                   "/gradio_api/custom_component/", "/gradio_api/component_server", "/monitoring")
MCP_PREFIX = "/gradio_api/mcp"
#: ``/gradio_api/file=<url>`` makes Gradio fetch the URL: files are served only from this server's disk.
FILE_PREFIXES = ("/gradio_api/file=", "/gradio_api/file/")
URL_START = ("http:", "https:", "//", "\\\\", "ftp:", "file:")


def security_headers(frame_ancestors: str) -> list[tuple[bytes, bytes]]:
    """Headers for every response: no MIME sniffing, no referrer, framing only by ``frame_ancestors``."""
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"content-security-policy", f"frame-ancestors {frame_ancestors}".encode("latin-1"))]
    legacy = {"'none'": b"DENY", "'self'": b"SAMEORIGIN"}.get(frame_ancestors)
    if legacy:  # browsers without CSP frame-ancestors
        headers.append((b"x-frame-options", legacy))
    return headers


class Guard:
    """Wraps the server's ASGI app; see the module docstring.  ``files``: where uploads go (None: no cap)."""

    def __init__(self, app: ASGIApp, settings: Settings, files: FileArea | None = None):
        self.app = app
        self.stopping = False
        self.settings = settings
        self.files = files
        self.headers = security_headers(settings.frame_ancestors)
        # the MCP server (NER_MCP) serves the recognizer as a tool; everything else unused stays off
        self.unused = tuple(p for p in UNUSED_PREFIXES if not (settings.mcp and p == MCP_PREFIX))
        # a multipart upload carries one file plus its form framing
        self.upload_limit = min(settings.max_upload_bytes + 64 * 1024, settings.max_body_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._with_headers(send)
        path = scope["path"]
        if path.startswith(self.unused):
            await respond(send, 404, "no such route")
            return
        if path.startswith(FILE_PREFIXES) and _file_target(path).lower().startswith(URL_START):
            await respond(send, 403, "files are served only from this server, never fetched from a URL")
            return
        is_upload = path == UPLOAD_PATH and scope["method"] == "POST"
        limit = self.upload_limit if is_upload else self.settings.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= self.settings.discard_bytes and not _expects_continue(scope):
                await self._discard(receive)
            await respond(send, 413, f"request body of {declared} bytes is over the limit of {limit} bytes")
            return
        claimed, files = 0, self.files
        if is_upload and files is not None:
            try:  # the walk over the cache runs off the event loop
                claimed = await anyio.to_thread.run_sync(files.claim, declared or limit)
            except CacheFull as exc:
                log.warning("upload refused: %s", exc)
                await respond(send, 507, "服务器暂存空间已满，请稍后再上传。The server's file cache is full; "
                                         "retry in a few minutes.")
                return
        try:
            await self._bounded(scope, receive, send, limit)
        finally:
            if claimed and files is not None:
                files.release(claimed)

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a body of at most ``limit`` bytes that must arrive within the body timeout."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout_s
        state = {"body_done": False, "refused": False, "started": False, "size": 0}

        async def refuse(status: int, message: str, unread: bool = False) -> Message:
            """Answer ``status`` (unless the app already began its answer); ``unread``: the body goes on, read
            and drop it first (within bounds) so the client can read the answer."""
            state["refused"] = True
            if unread and state["size"] <= self.settings.discard_bytes:
                await self._discard(receive)
            if not state["started"]:
                await respond(send, status, message)
            return {"type": "http.disconnect"}  # the app stops reading; its own answer is dropped

        async def bounded_receive() -> Message:
            if state["body_done"] or state["refused"]:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except asyncio.TimeoutError:
                log.info("request body not received within %g s: %s %s", self.settings.body_timeout_s,
                         scope["method"], scope["path"])
                return await refuse(408, f"the request body did not arrive within "
                                         f"{self.settings.body_timeout_s:g} seconds")
            if message["type"] == "http.request":
                state["size"] += len(message.get("body", b""))
                if state["size"] > limit:
                    return await refuse(413, f"request body is over the limit of {limit} bytes",
                                        unread=message.get("more_body", False))
                state["body_done"] = not message.get("more_body", False)
            return message

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        try:
            await self.app(scope, bounded_receive, guarded_send)
        except ClientDisconnect:  # the client left (or its body was refused): nobody to answer
            pass
        except asyncio.CancelledError:
            if not self.stopping:
                raise
            # the server cancels what is still open once the shutdown timeout is over: answer, do not log a traceback
            state["refused"] = True
            with contextlib.suppress(Exception):
                if not state["started"]:
                    await respond(send, 503, "the server is shutting down; retry in a moment")
                else:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})

    async def _discard(self, receive: Receive) -> None:
        """Read and drop the rest of a refused body (at most ``discard_bytes`` in all, within the body timeout).

        A client sends its whole body before it reads the answer: a server that closes the connection with
        bytes unread makes the kernel send a reset, and the client sees "connection reset" instead of the 413.
        A client that sent ``Expect: 100-continue`` is answered at once instead and sends no body at all."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout_s
        size = 0
        while size <= self.settings.discard_bytes:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except asyncio.TimeoutError:
                return
            if message["type"] != "http.request":
                return
            size += len(message.get("body", b""))
            if not message.get("more_body", False):
                return

    def stop(self) -> None:
        """The server is shutting down: requests it cancels from now on end with a 503, quietly."""
        self.stopping = True

    def _with_headers(self, send: Send) -> Send:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message = dict(message)
                message["headers"] = [*message.get("headers", []), *self.headers]
            await send(message)

        return send_with_headers


async def respond(send: Send, status: int, message: str) -> None:
    """A JSON ``{"error": message}`` answer that closes the connection (the body may be unread)."""
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                            (b"connection", b"close")]})
    await send({"type": "http.response.body", "body": body})


def _file_target(path: str) -> str:
    """``/gradio_api/file=X`` or ``/gradio_api/file/X`` -> ``X``."""
    for prefix in FILE_PREFIXES:
        if path.startswith(prefix):
            return path[len(prefix):].lstrip()
    return path


def _expects_continue(scope: Scope) -> bool:
    return any(name == b"expect" and value.lower() == b"100-continue" for name, value in scope.get("headers", []))


def _content_length(scope: Scope) -> int | None:
    for name, value in scope.get("headers", []):
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None
