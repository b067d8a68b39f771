"""Bounds per client address: requests in flight and event streams open, each per client and in all.

A client is its address: the peer's, or the one a trusted proxy names (``NER_TRUSTED_PROXIES``; the
guard applies uvicorn's ``ProxyHeadersMiddleware`` before it asks here).  A client over its own bound
gets 429 while the others are served; over the bound in all, everyone new gets 503 until one ends.
"""
from __future__ import annotations

import collections
import contextvars
import threading
from collections.abc import MutableMapping
from typing import Any

#: The client address of the request being served (set by the guard; the file cache charges it for downloads).
CLIENT: contextvars.ContextVar[str | None] = contextvars.ContextVar("ner_client", default=None)

#: Gradio's event streams (long-lived GETs): heartbeat, queue data, a ``/call`` result; MCP's SSE.
STREAM_PREFIXES = ("/gradio_api/heartbeat/", "/gradio_api/queue/data", "/gradio_api/mcp/sse")
CALL_PREFIX = "/gradio_api/call/"


def client_address(scope: MutableMapping[str, Any]) -> str:
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def is_stream(scope: MutableMapping[str, Any]) -> bool:
    """Whether the request opens an event stream (``GET /gradio_api/call/<name>/<event id>`` included)."""
    if scope["method"] != "GET":
        return False
    path: str = scope["path"]
    if path.startswith(STREAM_PREFIXES):
        return True
    return path.startswith(CALL_PREFIX) and path[len(CALL_PREFIX):].strip("/").count("/") >= 1


class Refused(Exception):
    """Over a bound: ``status`` (429 for the client's own, 503 for the server's) and a message naming it."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class ClientBounds:
    """Counts of what each client holds open, under ``per_client`` each and ``total`` in all, by kind."""

    def __init__(self, limits: dict[str, tuple[int, int, str]]):
        #: kind -> (per client, in all, the setting that names the bound)
        self.limits = limits
        self._held: dict[str, collections.Counter[str]] = {kind: collections.Counter() for kind in limits}
        self._total = dict.fromkeys(limits, 0)
        self._lock = threading.Lock()

    def take(self, kind: str, client: str) -> None:
        """Count one more ``kind`` for ``client``, or raise :class:`Refused`."""
        per_client, total, setting = self.limits[kind]
        with self._lock:
            held = self._held[kind]
            if held[client] >= per_client:
                raise Refused(429, f"too many {kind} open from your address (at most {per_client}, "
                                   f"{setting}); finish or close some, then retry")
            if self._total[kind] >= total:
                raise Refused(503, f"the server has {total} {kind} open, its bound; retry in a moment")
            held[client] += 1
            self._total[kind] += 1

    def give(self, kind: str, client: str) -> None:
        with self._lock:
            held = self._held[kind]
            held[client] -= 1
            if held[client] <= 0:
                del held[client]
            self._total[kind] -= 1

    def held(self, kind: str, client: str | None = None) -> int:
        with self._lock:
            return self._total[kind] if client is None else self._held[kind][client]


def current_client() -> str | None:
    """The client address of the request being served: the guard's (REST, uploads), or Gradio's request of the
    event being run (the page's events run in the queue, away from their HTTP request)."""
    client = CLIENT.get()
    if client:
        return client
    try:
        from gradio.context import LocalContext

        request = LocalContext.request.get(None)
        host = getattr(getattr(request, "client", None), "host", None)
        return str(host) if host else None
    except (ImportError, LookupError, AttributeError):
        return None
