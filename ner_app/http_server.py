"""The HTTP server: uvicorn with a time limit on request headers, strict request framing, and a shutdown
that ends within seconds.

uvicorn on its own waits forever for a client's headers and, after SIGTERM, for
every open connection (a browser tab's event stream, a stalled upload) to finish;
h11 accepts a request with both ``Content-Length`` and ``Transfer-Encoding`` (the
way a request is smuggled past a proxy), folded header lines and bare LF line ends.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import os
import re
import socket
import threading
from collections.abc import Callable, Sequence

import h11
import uvicorn
from h11._receivebuffer import ReceiveBuffer
from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import Settings
from .guard import security_headers

log = logging.getLogger(__name__)

#: Seconds past NER_SHUTDOWN_TIMEOUT after which the process ends even if an engine call still runs.
EXIT_GRACE_S = 2.5
BLANK_LINE = re.compile(rb"\n\r?\n")  # where h11 ends a request head
MAX_HEAD = 64 * 1024
BARE_LF = re.compile(rb"(?<!\r)\n")
OBS_FOLD = re.compile(rb"\r\n[ \t]")
FRAMING = re.compile(rb"\r\n(content-length|transfer-encoding)[ \t]*:", re.IGNORECASE)


class StrictReceiveBuffer(ReceiveBuffer):
    """h11's buffer that refuses (h11.RemoteProtocolError: uvicorn answers 400 and closes the connection) a
    request head with a bare LF, a folded header line, or both Content-Length and Transfer-Encoding."""

    def maybe_extract_lines(self):  # type: ignore[no-untyped-def]
        data = bytes(self._data[:MAX_HEAD])
        if data[:1] == b"\n":
            raise h11.RemoteProtocolError("bare LF line end")
        end = BLANK_LINE.search(data)
        if data[:2] != b"\r\n" and end is not None:
            head = data[:end.end()]
            if BARE_LF.search(head):
                raise h11.RemoteProtocolError("bare LF line end")
            if OBS_FOLD.search(head):
                raise h11.RemoteProtocolError("folded header line")
            if len({m.group(1).lower() for m in FRAMING.finditer(head)}) > 1:
                raise h11.RemoteProtocolError("both Content-Length and Transfer-Encoding")
        return super().maybe_extract_lines()


def _answer(status: int, reason: str, text: str, headers: list[tuple[bytes, bytes]]) -> bytes:
    body = text.encode()
    lines = [f"HTTP/1.1 {status} {reason}".encode(), b"content-type: text/plain; charset=utf-8",
             b"content-length: " + str(len(body)).encode(), b"connection: close",
             *(name + b": " + value for name, value in headers)]
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


class HeaderTimeoutProtocol(H11Protocol):
    """h11 with a deadline: a connection must deliver a request's headers within ``header_timeout_s``
    of opening (or of the request's first byte, on a kept-alive connection), else it gets 408 and is closed.

    The body's time limit is :class:`ner_app.guard.Guard`'s, once the app is reading it.
    """

    header_timeout_s = 10.0
    #: the guard's security headers, on the answers this protocol writes itself (400, 408)
    extra_headers: list[tuple[bytes, bytes]] = security_headers("'self'")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.conn._receive_buffer = StrictReceiveBuffer()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # a pipelined request already in the buffer is on the clock too, not only the connection's first
        if self.conn.their_state is h11.IDLE and self.conn.trailing_data[0]:
            self._arm()

    def send_400_response(self, msg: str) -> None:
        log.info("refused a malformed request: %s", msg)
        if not self.transport.is_closing():
            self.transport.write(_answer(400, "Bad Request", "invalid HTTP request", self.extra_headers))
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        if self.conn.their_state is h11.IDLE:  # the first bytes of a request: its headers are on the clock
            self._arm()
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout_s, self._headers_too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(_answer(408, "Request Timeout", "request headers took too long",
                                         self.extra_headers))
            self.transport.close()


class Server(uvicorn.Server):
    """uvicorn's server that calls ``on_stop`` as soon as shutdown begins (SIGTERM, Ctrl-C) and
    ``on_exit`` once it is over (after the app's own shutdown, before the process exits)."""

    def __init__(self, config: uvicorn.Config, on_stop: list[Callable[[], None]],
                 on_exit: list[Callable[[], None]]):
        super().__init__(config)
        self.on_stop = on_stop
        self.on_exit = on_exit

    async def shutdown(self, sockets=None) -> None:
        log.info("shutting down: open requests have %g s to finish", self.config.timeout_graceful_shutdown)
        grace = float(self.config.timeout_graceful_shutdown or 0) + EXIT_GRACE_S
        threading.Thread(target=self._exit_after, args=(grace,), name="exit-watchdog", daemon=True).start()
        for fn in self.on_stop:
            fn()
        try:
            await super().shutdown(sockets)
        finally:
            self._exit_hooks()
            log.info("stopped")

    def _exit_hooks(self) -> None:
        on_exit, self.on_exit = self.on_exit, []
        for fn in on_exit:
            fn()

    def _exit_after(self, seconds: float) -> None:
        """The process ends ``seconds`` after shutdown began, even when an engine call (native code that no
        cancellation reaches) still runs: the exit hooks run, then the process exits."""
        threading.Event().wait(seconds)
        log.warning("an engine call was still running %g s after shutdown began; exiting without it", seconds)
        try:
            self._exit_hooks()
        finally:
            logging.shutdown()
            os._exit(0)


def bind(settings: Settings) -> socket.socket:
    """The listening socket on ``settings.host:port``; ``OSError`` with a plain message when it is taken."""
    family = socket.AF_INET6 if ":" in settings.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((settings.host, settings.port))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise OSError(exc.errno, f"port {settings.port} on {settings.host} is already in use; stop the other "
                                     f"server or set GRADIO_SERVER_PORT to a free port") from None
        raise OSError(exc.errno, f"cannot listen on {settings.host}:{settings.port} ({exc.strerror}); check "
                                 f"GRADIO_SERVER_NAME and GRADIO_SERVER_PORT") from None
    sock.set_inheritable(True)
    return sock


def serve(app, settings: Settings, on_stop: Sequence[Callable[[], None]] = (),
          on_exit: Sequence[Callable[[], None]] = (), sock: socket.socket | None = None) -> None:
    """Serve ``app`` on ``sock`` (bound by :func:`bind` when None) until SIGTERM/SIGINT.

    Open requests get ``shutdown_timeout_s`` seconds to finish, then they are
    cancelled: the server stops within a few seconds even with open tabs.
    """
    protocol = type("Protocol", (HeaderTimeoutProtocol,), {"header_timeout_s": settings.header_timeout_s,
                                                          "extra_headers": security_headers(settings.frame_ancestors)})
    # keep-alive longer than clients idle between calls, so a reused connection is not closed mid-request;
    # X-Forwarded-* are read by the guard, from NER_TRUSTED_PROXIES only (uvicorn's default trusts loopback)
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", http=protocol,
                            timeout_keep_alive=75, server_header=False, proxy_headers=False,
                            # used as an asyncio timeout, so any number of seconds (typed int in uvicorn)
                            timeout_graceful_shutdown=settings.shutdown_timeout_s)  # type: ignore[arg-type]
    Server(config, list(on_stop), list(on_exit)).run(sockets=[sock or bind(settings)])
