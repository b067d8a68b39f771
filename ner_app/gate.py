"""Sharing the one engine between requests: a few calls at once, first come first served, long batches in turns."""
from __future__ import annotations

import collections
import contextlib
import contextvars
import threading
from collections.abc import Iterator
from typing import Protocol

import ner

from .clients import current_client


class Engine(Protocol):
    """What the app asks of a recognizer: :class:`ner.Recognizer`, an :class:`EngineGate` around one, a test's fake."""

    name: str
    labels: list[str]

    def recognize(self, text: str, *, dictionary: ner.Dictionary | None = None) -> list[ner.Entity]: ...

    def recognize_batch(self, texts: list[str], *,
                        dictionary: ner.Dictionary | None = None) -> list[list[ner.Entity]]: ...


class EngineClosed(RuntimeError):
    """The server is shutting down: the engine takes no more work."""


class CallCancelled(EngineClosed):
    """The client of this call went away: its remaining turns are not run."""


#: Set by the guard for each request: an event set when the request's client has gone away.
CANCELLED: contextvars.ContextVar[threading.Event | None] = contextvars.ContextVar("ner_cancelled", default=None)
#: How often a call waiting for its turn looks whether its client has gone (seconds).
CANCEL_POLL_S = 0.25


class EngineGate:
    """A recognizer shared fairly: at most ``slots`` engine calls at once, client by client in turn (first
    come first served within a client), and a long batch goes through in turns of about ``chunk_chars``
    characters.

    The engine already uses every core for one call, so more concurrent calls
    only add memory: each running call holds its own buffers (ONNX Runtime's
    arena, numpy temporaries, a malloc arena per thread).  After each turn a
    batch joins the back of the line again, so a request of one short text waits
    for at most one turn per slot, not for a whole batch of long texts (a turn
    holds at least one whole text: texts are never cut, so a text's entities do
    not depend on how it was scheduled).  The line is kept per client address (the guard's, or Gradio's
    request of the event): a client that sends many requests at once gets one turn, then the next client
    its turn, so the others wait for at most one turn per slot of each busy client, not for all of them; and
    one client holds at most ``slots - 1`` slots at once, so a slot is free for the others' next turn.
    :meth:`close` (at shutdown) makes every waiting call, and every running call at its next
    turn, raise :class:`EngineClosed`; a call whose client went away (:data:`CANCELLED`, set by the
    guard) raises :class:`CallCancelled` at its next turn, or while it waits for one.
    """

    def __init__(self, recognizer, slots: int = 2, chunk_chars: int = 20_000):
        self._rec = recognizer
        self._free = slots
        self.chunk_chars = chunk_chars
        #: waiting tickets per client (in arrival order), and when each client last got a turn
        self._waiting: dict[str, collections.deque[object]] = {}
        self._served: dict[str, int] = {}
        self._turns = 0
        #: slots one client may hold at once: one is always left for the others (one call already uses every core)
        self.client_slots = max(1, slots - 1)
        self._running: collections.Counter[str] = collections.Counter()
        self._cond = threading.Condition()
        self._closed = False

    def __getattr__(self, name):  # name, labels, spec... of the wrapped recognizer
        return getattr(self._rec, name)

    def recognize(self, text: str, *, dictionary: ner.Dictionary | None = None) -> list[ner.Entity]:
        return self.recognize_batch([text], dictionary=dictionary)[0]

    def recognize_batch(self, texts: list[str], *,
                        dictionary: ner.Dictionary | None = None) -> list[list[ner.Entity]]:
        """Entities of each text; ``dictionary`` (a caller's own) applies to this call only."""
        # only pass the keyword on when there is one: a test's fake engine may not take it
        options = {"dictionary": dictionary} if dictionary is not None else {}
        out: list[list[ner.Entity]] = []
        cancelled = CANCELLED.get()
        for turn in turns(texts, self.chunk_chars):
            with self._turn(cancelled):
                out.extend(self._rec.recognize_batch(turn, **options))
        return out

    def close(self) -> None:
        """Refuse all waiting and future calls; calls already running finish their turn."""
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @contextlib.contextmanager
    def _turn(self, cancelled: threading.Event | None = None) -> Iterator[None]:
        ticket = object()
        client = current_client() or ""
        with self._cond:
            self._waiting.setdefault(client, collections.deque()).append(ticket)
            served = False
            try:
                while not self._closed and (self._free == 0 or self._head() is not ticket):
                    if cancelled is not None and cancelled.is_set():
                        break
                    self._cond.wait(CANCEL_POLL_S if cancelled is not None else None)
                served = not self._closed and not (cancelled is not None and cancelled.is_set())
            finally:
                self._leave(client, ticket, served)
                self._cond.notify_all()  # the next in line may take another free slot, or see the gate closed
            if self._closed:
                raise EngineClosed("the server is shutting down")
            if cancelled is not None and cancelled.is_set():
                raise CallCancelled("the client went away")
            self._free -= 1
            self._running[client] += 1
        try:
            yield
        finally:
            with self._cond:
                self._free += 1
                self._running[client] -= 1
                if self._running[client] <= 0:
                    del self._running[client]
                self._cond.notify_all()

    def _head(self) -> object | None:
        """The ticket whose turn is next: the first of the waiting client served longest ago (or never)."""
        ready = [c for c in self._waiting if self._running[c] < self.client_slots]
        if not ready:
            return None
        return self._waiting[min(ready, key=lambda c: self._served.get(c, -1))][0]

    def _leave(self, client: str, ticket: object, served: bool) -> None:
        """``ticket`` leaves the line; a client that was served goes behind every other waiting client."""
        line = self._waiting[client]
        line.remove(ticket)
        if not line:
            del self._waiting[client]
        if served:
            self._turns += 1
            self._served[client] = self._turns
        if len(self._served) > 4 * len(self._waiting) + 64:  # forget clients that wait no more
            self._served = {c: n for c, n in self._served.items() if c in self._waiting}


def turns(texts: list[str], chunk_chars: int) -> Iterator[list[str]]:
    """``texts`` in order, in turns at the engine of at most ``chunk_chars`` characters (a longer text is a turn
    of its own)."""
    run: list[str] = []
    size = 0
    for t in texts:
        if run and size + len(t) > chunk_chars:
            yield run
            run, size = [], 0
        run.append(t)
        size += len(t)
    if run:
        yield run
