"""The HTTP server: uvicorn with a time limit on request headers and a shutdown that ends within seconds.

uvicorn on its own waits forever for a client's headers and, after SIGTERM, for
every open connection (a browser tab's event stream, a stalled upload) to finish.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import socket
from collections.abc import Callable, Sequence

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from .config import Settings

log = logging.getLogger(__name__)

REQUEST_TIMEOUT = (b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain\r\ncontent-length: 29\r\n"
                   b"connection: close\r\n\r\nrequest headers took too long")


class HeaderTimeoutProtocol(H11Protocol):
    """h11 with a deadline: a connection must deliver a request's headers within ``header_timeout_s``
    of opening (or of the request's first byte, on a kept-alive connection), else it gets 408 and is closed.

    The body's time limit is :class:`ner_app.guard.Guard`'s, once the app is reading it.
    """

    header_timeout_s = 10.0

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer: asyncio.TimerHandle | None = None
        self._arm()

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
            self.transport.write(REQUEST_TIMEOUT)
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
        for fn in self.on_stop:
            fn()
        try:
            await super().shutdown(sockets)
        finally:
            for fn in self.on_exit:
                fn()
            log.info("stopped")


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
    protocol = type("Protocol", (HeaderTimeoutProtocol,), {"header_timeout_s": settings.header_timeout_s})
    # keep-alive longer than clients idle between calls, so a reused connection is not closed mid-request
    config = uvicorn.Config(app, host=settings.host, port=settings.port, log_level="warning", http=protocol,
                            timeout_keep_alive=75, server_header=False,
                            # used as an asyncio timeout, so any number of seconds (typed int in uvicorn)
                            timeout_graceful_shutdown=settings.shutdown_timeout_s)  # type: ignore[arg-type]
    Server(config, list(on_stop), list(on_exit)).run(sockets=[sock or bind(settings)])
