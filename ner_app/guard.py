"""The ASGI layer in front of the whole server (REST routes and the Gradio page alike).

Every response gets the security headers; every request body is bounded in bytes
and in time (an over-limit body is read and dropped, up to a bound, so the client can read its 413); uploads must fit the file cache; Gradio routes this app does not use
(URL fetching, proxying, deep links, recordings, monitoring...) answer 404; and a
client that goes away mid-request leaves no traceback in the log.

One client cannot hurt the others (SECURITY.md, "Per client"): ``X-Forwarded-*`` are believed only from
the proxies the operator names; the ``Host`` must be one the server answers to; an upload from a foreign
``Origin`` is refused; each client address has its own bound of requests in flight and event streams
(429 past it); an upload claims cache space as its bytes arrive, within the client's share; a download
answers no ``Range`` (the whole file, never request headers copied back); an event stream ends after
``NER_STREAM_MAX_SECONDS``; and work for a client that went away is cancelled at the engine's next turn.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import threading
from urllib.parse import urlsplit

import anyio

from starlette.middleware.trustedhost import TrustedHostMiddleware
from starlette.requests import ClientDisconnect
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from . import gradio_edge
from .clients import CLIENT, ClientBounds, Refused, client_address, is_stream
from .config import Settings
from .files import CacheFull, ClientFull, FileArea
from .gate import CANCELLED

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
HEARTBEAT_PREFIX = "/gradio_api/heartbeat/"
#: request headers a client writes that only a trusted proxy may set
FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port",
             b"x-forwarded-prefix", b"x-real-ip", b"forwarded")


def security_headers(frame_ancestors: str) -> list[tuple[bytes, bytes]]:
    """Headers for every response: no MIME sniffing, no referrer, framing only by ``frame_ancestors``."""
    headers = [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
               (b"content-security-policy", f"frame-ancestors {frame_ancestors}".encode("latin-1"))]
    legacy = {"'none'": b"DENY", "'self'": b"SAMEORIGIN"}.get(frame_ancestors)
    if legacy:  # browsers without CSP frame-ancestors
        headers.append((b"x-frame-options", legacy))
    return headers


class Guard:
    """Wraps the server's ASGI app; see the module docstring.  ``files``: where uploads go (None: no cap).
    ``buffer_bodies``: read each request's whole body (within its limits) before the app sees the request
    (Ray Serve's proxy: it hands a request to a replica as soon as its headers are in)."""

    def __init__(self, app: ASGIApp, settings: Settings, files: FileArea | None = None, buffer_bodies: bool = False):
        self.app = app
        self.stopping = False
        self.settings = settings
        self.files = files
        self.buffer_bodies = buffer_bodies
        self.headers = security_headers(settings.frame_ancestors)
        # the MCP server (NER_MCP) serves the recognizer as a tool; everything else unused stays off
        self.unused = tuple(p for p in UNUSED_PREFIXES if not (settings.mcp and p == MCP_PREFIX))
        # a multipart upload carries one file plus its form framing
        self.upload_limit = min(settings.max_upload_bytes + 64 * 1024, settings.max_body_bytes)
        self.clients = ClientBounds({
            "requests": (settings.client_max_requests, settings.max_requests, "NER_CLIENT_MAX_REQUESTS"),
            "streams": (settings.client_max_streams, settings.max_streams, "NER_CLIENT_MAX_STREAMS"),
            # tool calls queue at ToolTurns (4 x NER_QUEUE_SIZE in all); here only each client's share of them
            "tools": (settings.client_max_tool_calls, 4 * settings.queue_size, "NER_CLIENT_MAX_TOOL_CALLS")})
        if files is not None:
            files.max_files, files.client_bytes = settings.cache_max_files, settings.client_cache_bytes
        # Starlette's Host check (a request without Host, HTTP/1.0's, names no other site), then uvicorn's
        # reading of a trusted proxy's X-Forwarded-For/-Proto
        self.hosts = TrustedHostMiddleware(self._guarded, allowed_hosts=list(settings.allowed_host_names()),
                                           www_redirect=False)
        entry: ASGIApp = self._host_checked
        self.proxies = list(settings.trusted_proxies)
        self.trusted = None
        if self.proxies:
            proxy_headers = ProxyHeadersMiddleware(entry, trusted_hosts=self.proxies)  # type: ignore[arg-type]
            self.trusted = proxy_headers.trusted_hosts
            entry = proxy_headers  # type: ignore[assignment]
        self.entry = entry
        gradio_edge.remove_gradio_leftovers()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if not self._from_proxy(scope):  # X-Forwarded-* from anyone else is a client's own writing
            scope["headers"] = [(k, v) for k, v in scope.get("headers", []) if k not in FORWARDED]
        await self.entry(scope, receive, self._with_headers(send))

    async def _host_checked(self, scope: Scope, receive: Receive, send: Send) -> None:
        if any(name == b"host" for name, _ in scope.get("headers", [])):
            await self.hosts(scope, receive, send)
        else:
            await self._guarded(scope, receive, send)

    def _from_proxy(self, scope: Scope) -> bool:
        return self.trusted is not None and client_address(scope) in self.trusted

    async def _guarded(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope["path"]
        if path.startswith(self.unused):
            await respond(send, 404, "no such route")
            return
        if path.startswith(FILE_PREFIXES):
            if _file_target(path).lower().startswith(URL_START):
                await respond(send, 403, "files are served only from this server, never fetched from a URL")
                return
            # a download is always the whole file: Gradio's range answer copies the request's headers into the
            # response, and a multi-range makes it fail
            scope["headers"] = [(k, v) for k, v in scope["headers"] if k not in (b"range", b"if-range")]
        is_upload = path == UPLOAD_PATH and scope["method"] == "POST"
        if is_upload and not self._same_origin(scope):
            await respond(send, 403, "uploads are accepted only from this server's own page (or an origin "
                                     "in NER_CORS_ORIGINS)")
            return
        limit = self.upload_limit if is_upload else self.settings.max_body_bytes
        declared = _content_length(scope)
        if declared is not None and declared > limit:
            if declared <= self.settings.discard_bytes and not _expects_continue(scope):
                await self._discard(receive)
            await respond(send, 413, f"request body of {declared} bytes is over the limit of {limit} bytes")
            return
        kind = ("streams" if is_stream(scope) else
                "tools" if path.startswith(MCP_PREFIX) and scope["method"] == "POST" else "requests")
        client = client_address(scope)
        try:
            self.clients.take(kind, client)
        except Refused as exc:
            await respond(send, exc.status, exc.message, retry_after=True)
            return
        token = CLIENT.set(client)
        tab = path[len(HEARTBEAT_PREFIX):].strip("/") if path.startswith(HEARTBEAT_PREFIX) else None
        if tab:
            gradio_edge.TABS.opened(tab)
        try:
            if kind == "streams":
                await self._stream(scope, receive, send, limit)
            else:
                await self._bounded(scope, receive, send, limit, upload=self._upload(scope, client) if is_upload
                                    else None)
        finally:
            self.clients.give(kind, client)
            CLIENT.reset(token)
            if tab:
                gradio_edge.TABS.closed(tab)

    def _same_origin(self, scope: Scope) -> bool:
        """No ``Origin`` (not a browser), the server's own, or one of ``NER_CORS_ORIGINS``."""
        headers = dict(scope.get("headers", []))
        origin = headers.get(b"origin", b"").decode("latin-1").strip()
        if not origin:
            return True
        if origin.rstrip("/") in self.settings.cors_origins:
            return True
        host = headers.get(b"x-forwarded-host", headers.get(b"host", b"")).decode("latin-1").split(",")[0].strip()
        return origin != "null" and urlsplit(origin).netloc.lower() == host.lower()

    def _upload(self, scope: Scope, client: str) -> Upload | None:
        if self.files is None:
            return None
        return Upload(self.files, client, _boundary(scope), self.settings.upload_max_files)

    async def _stream(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """An event stream, ended (cleanly, by the server) after ``stream_max_s`` seconds."""
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        task = asyncio.current_task()
        expired = False

        def expire() -> None:
            nonlocal expired
            expired = True
            if task is not None:
                task.cancel()

        timer = asyncio.get_running_loop().call_later(self.settings.stream_max_s, expire)
        try:
            await self._bounded(scope, receive, tracking_send, limit)
        except asyncio.CancelledError:
            if not expired:
                raise
            with contextlib.suppress(Exception):
                if started:
                    await send({"type": "http.response.body", "body": b"", "more_body": False})
                else:
                    await respond(send, 408, f"an event stream lasts at most {self.settings.stream_max_s:g} "
                                             f"seconds; open a new one")
        finally:
            timer.cancel()

    async def _bounded(self, scope: Scope, receive: Receive, send: Send, limit: int,
                       upload: Upload | None = None) -> None:
        """Run the app with a body of at most ``limit`` bytes that must arrive within the body timeout
        (an upload's bytes claimed in the file cache as they arrive); once the body is in, a client that
        goes away cancels its work at the engine's next turn."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.settings.body_timeout_s
        state = {"body_done": False, "refused": False, "started": False, "size": 0, "status": 0, "complete": False}
        gone = asyncio.Event()
        cancelled = threading.Event()

        async def refuse(status: int, message: str, unread: bool = False) -> Message:
            """Answer ``status`` (unless the app already began its answer); ``unread``: the body goes on, read
            and drop it first (within bounds) so the client can read the answer."""
            state["refused"] = True
            if unread and state["size"] <= self.settings.discard_bytes:
                await self._discard(receive)
            if not state["started"]:
                await respond(send, status, message)
            return {"type": "http.disconnect"}  # the app stops reading; its own answer is dropped

        async def body_receive() -> Message:
            try:
                message = await asyncio.wait_for(receive(), max(deadline - loop.time(), 0.001))
            except asyncio.TimeoutError:
                log.info("request body not received within %g s: %s %s", self.settings.body_timeout_s,
                         scope["method"], scope["path"])
                return await refuse(408, f"the request body did not arrive within "
                                         f"{self.settings.body_timeout_s:g} seconds")
            if message["type"] == "http.request":
                chunk = message.get("body", b"")
                state["size"] += len(chunk)
                more = message.get("more_body", False)
                if state["size"] > limit:
                    return await refuse(413, f"request body is over the limit of {limit} bytes", unread=more)
                if upload is not None:
                    problem = await upload.received(chunk)
                    if problem:
                        return await refuse(*problem, unread=more)
                state["body_done"] = not more
            elif message["type"] == "http.disconnect":
                gone.set()
            return message

        async def bounded_receive() -> Message:
            if state["refused"]:
                return await receive()
            if not state["body_done"]:
                message = await body_receive()
                if state["body_done"] and not state["refused"] and watcher is None:
                    start_watch()
                return message
            await gone.wait()  # the watcher owns the connection now: it says when the client has gone
            return {"type": "http.disconnect"}

        watcher: asyncio.Task | None = None

        def start_watch() -> None:
            nonlocal watcher

            async def watch() -> None:
                while True:
                    message = await receive()
                    if message["type"] == "http.disconnect":
                        if not state["complete"]:
                            cancelled.set()  # the engine drops this request's work at its next turn
                        gone.set()
                        return

            watcher = asyncio.ensure_future(watch())

        async def guarded_send(message: Message) -> None:
            if state["refused"]:
                return
            if message["type"] == "http.response.start":
                state["started"] = True
                state["status"] = message.get("status", 0)
            elif message["type"] == "http.response.body" and not message.get("more_body", False):
                state["complete"] = True
            await send(message)

        app_receive: Receive = bounded_receive
        if self.buffer_bodies and scope["method"] not in ("GET", "HEAD", "OPTIONS"):
            chunks = []  # the whole body first: a stalled body never reaches the app
            while not state["body_done"] and not state["refused"]:
                message = await body_receive()
                if message["type"] != "http.request":
                    break
                chunks.append(message.get("body", b""))
            if state["refused"] or not state["body_done"]:
                return
            replay = [{"type": "http.request", "body": b"".join(chunks), "more_body": False}]

            async def replay_receive() -> Message:
                if replay:
                    if watcher is None:
                        start_watch()
                    return replay.pop()
                await gone.wait()
                return {"type": "http.disconnect"}

            app_receive = replay_receive
        elif scope["method"] in ("GET", "HEAD", "OPTIONS") and _content_length(scope) in (None, 0) \
                and not _chunked(scope):
            state["body_done"] = True
            start_watch()

        token = CANCELLED.set(cancelled)
        try:
            await self.app(scope, app_receive, guarded_send)
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
        finally:
            CANCELLED.reset(token)
            if watcher is not None:
                watcher.cancel()
            if upload is not None:
                upload.done(ok=200 <= state["status"] < 300 and not state["refused"])

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


async def respond(send: Send, status: int, message: str, retry_after: bool = False) -> None:
    """A JSON ``{"error": message}`` answer that closes the connection (the body may be unread)."""
    body = json.dumps({"error": message}, ensure_ascii=False).encode("utf-8")
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]
    if retry_after:
        headers.append((b"retry-after", b"1"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
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


def _chunked(scope: Scope) -> bool:
    return any(name == b"transfer-encoding" for name, _ in scope.get("headers", []))


def _boundary(scope: Scope) -> bytes | None:
    """The multipart boundary of the request's ``Content-Type`` (None when it has none)."""
    for name, value in scope.get("headers", []):
        if name == b"content-type":
            for part in value.split(b";")[1:]:
                key, _, raw = part.strip().partition(b"=")
                if key.lower() == b"boundary" and raw:
                    return raw.strip(b'"')
    return None


class Upload:
    """An upload's claim on the file cache, made as its bytes arrive: never by the size a client declares.

    Each part of the multipart body (``--boundary`` delimiters) counts as one file; more than
    ``max_files`` parts is a 413; no room is a 507 (the cache's cap) or a 429 (this client's share).
    A refused or failed upload gives its claim back."""

    def __init__(self, files: FileArea, client: str, boundary: bytes | None, max_files: int):
        self.files, self.client, self.max_files = files, client, max_files
        self.delimiter = b"--" + boundary if boundary else None
        self.tail = b""
        self.delimiters = 0
        self.claimed = [0, 0]

    async def received(self, chunk: bytes) -> tuple[int, str] | None:
        """Claim ``chunk``; a refusal ``(status, message)`` when it does not fit."""
        files = 0
        if self.delimiter:  # each delimiter opens a part (the last one closes the form: one file too many)
            seen = self.tail + chunk
            self.delimiters += seen.count(self.delimiter)
            self.tail = seen[-(len(self.delimiter) - 1):]
            if self.delimiters - 1 > self.max_files:
                return 413, f"an upload holds at most {self.max_files} files (NER_UPLOAD_MAX_FILES)"
            files = self.delimiters - self.claimed[1]
        try:
            try:
                self.files.claim(len(chunk), files, self.client, walk=False)
            except ClientFull:
                raise
            except CacheFull:  # expired files may make room: the walk runs off the event loop
                await anyio.to_thread.run_sync(self.files.claim, len(chunk), files, self.client)
        except ClientFull as exc:
            log.warning("upload refused: %s", exc)
            return 429, ("您上传的文件已占满个人暂存空间，请稍后再上传。Your uploads and downloads fill your share of "
                         "the server's file cache (NER_CLIENT_CACHE_BYTES); retry in a few minutes.")
        except CacheFull as exc:
            log.warning("upload refused: %s", exc)
            return 507, ("服务器暂存空间已满，请稍后再上传。The server's file cache is full; retry in a few minutes.")
        self.claimed[0] += len(chunk)
        self.claimed[1] += files
        return None

    def done(self, ok: bool) -> None:
        if ok:
            self.files.commit(*self.claimed)
        elif any(self.claimed):
            self.files.release(self.claimed[0], self.claimed[1], self.client)
