"""Every Gradio road in front of the engine, held to the one request check and the shared budgets.

Gradio reaches a function by several roads: the queue (``/gradio_api/queue/join``, what the page and gradio_client
use), ``/gradio_api/call/<name>`` and ``/call/v2/<name>`` (also queued), and ``/gradio_api/run/<name>`` and
``/gradio_api/api/<name>``, which call the function directly, around the queue, its validators and its cap.
:class:`GradioRoads` stands in front of all of them:

* a client endpoint's call (``/extract``, ``/recognize``) is checked by :mod:`ner_app.request` before Gradio sees
  it, so a bad one gets the status and message REST gives for the same input on every road (with Gradio's
  ``detail`` list too, so gradio_client names the parameter); on ``/run`` and ``/api`` a good one takes a slot of
  the in-flight bound REST uses (:class:`ner_app.request.InFlight`), or 503 when there is none;
* a page event reached through ``/run`` or ``/api``: a queued one is refused with 404 (the page sends it through
  the queue), an unqueued one (实时侦测, an example's click) is answered, a failure as 400, never 500;
* an unknown endpoint or function index: 404;
* an MCP request (``/gradio_api/mcp/``) nested deeper than any JSON-RPC message: 400, before the MCP library
  recurses into it.

The queue's cap (``NER_QUEUE_SIZE``) holds exactly, and each client's share of it, by
:func:`ner_app.gradio_edge.bound_queue`; :func:`serve_tools` answers the MCP
tools directly (checked, waiting their turn at the engine) instead of through Gradio's HTTP loop back into itself.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import view
from .client_api import PARAMS
from .gate import Engine, EngineClosed
from .request import MALFORMED, Call, InFlight, Refused, RequestChecks

log = logging.getLogger(__name__)

PREFIX = "/gradio_api/"
#: deeper than any JSON-RPC message of MCP (a tool call's arguments are a flat object of strings and lists)
MCP_MAX_DEPTH = 32


class GradioRoads:
    """ASGI middleware in front of the Gradio mount (see the module doc); ``blocks`` is the page's ``gr.Blocks``."""

    def __init__(self, app: ASGIApp, blocks: Any, checks: RequestChecks, in_flight: InFlight):
        self.app = app
        self.blocks = blocks
        self.checks = checks
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        if scope.get("method") != "POST" or not path.startswith(PREFIX):
            return await self.app(scope, receive, send)
        road, _, name = path[len(PREFIX):].rstrip("/").partition("/")
        if road == "call" and name.startswith("v2/"):
            road, name = "call/v2", name[3:]
        if road == "mcp":
            return await self._mcp(scope, receive, send)
        if road not in ("run", "api", "call", "call/v2", "queue") or (road == "queue" and name != "join"):
            return await self.app(scope, receive, send)
        body, receive = await _read(receive)
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError):
            return await _answer(send, MALFORMED, "request body is not valid JSON")
        if not isinstance(payload, dict):
            return await _answer(send, MALFORMED, "request body must be a JSON object")
        fn = self._fn(None if road == "queue" else name, payload if road in ("run", "api", "queue") else {})
        if fn is None:
            return await _answer(send, 404, "no such endpoint; see the page's \"Use via API\" panel")
        params = PARAMS.get(fn.api_name or "")
        if params is not None:
            try:
                self.checks.call(payload if road == "call/v2" else payload.get("data"), params)
            except Refused as exc:
                return await _answer(send, exc.status, exc.message, exc.field)
            if road in ("run", "api"):  # around the queue: the in-flight bound REST has
                if self.in_flight.full():
                    return await _answer(send, 503, "the server is busy; retry in a moment")
                async with self.in_flight:
                    return await self.app(scope, receive, send)
            return await self.app(scope, receive, send)
        if road in ("run", "api"):
            if fn.queue:
                return await _answer(send, 404, f"{fn.api_name or 'this event'} is an event of the page, sent "
                                                f"through its queue; the client API is /call/extract and "
                                                f"/call/recognize")
            return await self.app(scope, receive, _no_500(send))
        return await self.app(scope, receive, send)

    def _fn(self, api_name: str | None, payload: dict) -> Any:
        """The function a request names, as Gradio finds it: ``fn_index`` first, else ``api_name``."""
        index = payload.get("fn_index")
        if index is not None or api_name in (None, "predict"):
            return self.blocks.fns.get(index) if isinstance(index, int) and not isinstance(index, bool) else None
        return next((fn for fn in self.blocks.fns.values() if fn.api_name == api_name), None)

    async def _mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, receive = await _read(receive)
        if _depth(body) > MCP_MAX_DEPTH:
            payload = {"jsonrpc": "2.0", "id": None,
                       "error": {"code": -32600, "message": f"request nested deeper than {MCP_MAX_DEPTH} levels"}}
            return await _send_json(send, 400, payload)
        await self.app(scope, receive, send)


async def _read(receive: Receive) -> tuple[bytes, Receive]:
    """The whole body (the guard in front bounds its size and time) and a ``receive`` that replays it."""
    chunks, more = [], True
    while more:
        message = await receive()
        if message["type"] != "http.request":
            return b"", receive
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    body = b"".join(chunks)
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return body, replay


def _depth(body: bytes) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings not counted); linear."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


async def _send_json(send: Send, status: int, payload: object) -> None:
    body = orjson.dumps(payload)
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


async def _answer(send: Send, status: int, message: str, field: str | None = None) -> None:
    """A refusal as REST writes it (``{"error": message}``), with Gradio's ``detail`` list beside it, so
    gradio_client shows the message against the parameter (``- types: ...``)."""
    detail: object = message
    if field is not None:
        detail = [{"__type__": "validate", "is_valid": False, "message": message, "parameter_name": field}]
    await _send_json(send, status, {"error": message, "detail": detail})


def _no_500(send: Send) -> Send:
    """``send`` for a page event reached directly: Gradio answers any failure of it with 500; its values were
    the caller's, so the answer is 400 (the failure itself is in the log)."""
    failed = False

    async def guarded(message: Message) -> None:
        nonlocal failed
        if message["type"] == "http.response.start" and message["status"] == 500:
            failed = True
            body = orjson.dumps({"error": "the page could not use these values"})
            await send({"type": "http.response.start", "status": 400,
                        "headers": [(b"content-type", b"application/json"),
                                    (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})
            return
        if not failed:
            await send(message)

    return guarded



class ToolTurns:
    """MCP tool calls at the engine: at most ``slots`` at once, the others wait their turn (at most ``waiting``
    of them; more are told the server is busy)."""

    def __init__(self, slots: int, waiting: int):
        self._slots = asyncio.Semaphore(slots)
        self.waiting = waiting
        self.queued = 0

    def busy(self) -> bool:
        return self.queued >= self.waiting

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        self.queued += 1
        try:
            await self._slots.acquire()
        finally:
            self.queued -= 1
        try:
            yield
        finally:
            self._slots.release()


def serve_tools(blocks: Any, engine: Engine, checks: RequestChecks, turns: ToolTurns) -> None:
    """Answer the MCP tools of the client endpoints directly: the arguments checked by the one request check
    (a bad one is a tool error with REST's message), the call waiting its turn at the engine (never Gradio's
    HTTP loop back into this server, whose threads many waiting calls would fill), the result as JSON text and
    as ``structuredContent``.  A no-op when the MCP server is off."""
    server = getattr(blocks, "mcp_server_obj", None)
    low = getattr(server, "mcp_server", None)
    if server is None or low is None:
        return
    types = server.types
    low.version = "1"  # serverInfo names this API, not the MCP library's version
    original = low.request_handlers.get(types.CallToolRequest)
    endpoints = {tool: endpoint.strip("/") for tool, endpoint in server.tool_to_endpoint.items()
                 if endpoint.strip("/") in PARAMS}

    def result(text: str, structured: dict | None = None, error: bool = False) -> Any:
        content = [types.TextContent(type="text", text=text)]
        return types.ServerResult(types.CallToolResult(content=content, structuredContent=structured, isError=error))

    async def call_tool(request: Any) -> Any:
        endpoint = endpoints.get(request.params.name)
        if endpoint is None:
            return await original(request) if original is not None else result("no such tool", error=True)
        try:
            call = checks.call(dict(request.params.arguments or {}), PARAMS[endpoint])
        except Refused as exc:
            return result(exc.message, error=True)
        if turns.busy():
            return result("the server is busy; retry in a moment", error=True)
        try:
            async with turns.turn():
                found = await run_in_threadpool(engine.recognize_batch, call.texts)
        except EngineClosed:
            return result("the server is shutting down; retry in a moment", error=True)
        except Exception:
            log.exception("MCP tool call failed in the engine")
            return result("recognition failed inside the engine; the call can be retried", error=True)
        answer = _tool_answer(endpoint, call, found[0])
        text = json.dumps(answer, ensure_ascii=False)
        return result(text, answer if isinstance(answer, dict) else None)

    low.request_handlers[types.CallToolRequest] = call_tool


def _tool_answer(endpoint: str, call: Call, entities: list) -> dict | list:
    text, options = call.texts[0], call.options
    kept = options.keep(entities)
    if endpoint == "recognize":
        return [{"token": token, "class_or_confidence": label} for token, label in view.highlight_tokens(text, kept)]
    return {"entities": view.entity_dicts(text, kept, options.offsets)}
