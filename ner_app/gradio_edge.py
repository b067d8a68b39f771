"""Gradio's own state held to the server's bounds: page sessions, the queue per client, unknown events, cleanup.

* Sessions (:class:`BoundedStateHolder`): a page session's state is released once its tab has gone
  (its heartbeat stream closed, or no event and no heartbeat for ``NER_SESSION_CLOSED_TTL``), after
  ``NER_SESSION_TTL`` without an event in any case, and there are at most ``NER_MAX_SESSIONS``; a new
  session no longer copies every component's configuration (Gradio builds that only when asked).
* The queue (:func:`bound_queue`): at most ``NER_CLIENT_MAX_REQUESTS`` queued events per client address
  (429 past that), and ``NER_QUEUE_SIZE`` in all, exactly: Gradio checks its size before it awaits the
  event's validator, so concurrent joins overshot it.
* (An unknown ``fn_index`` is a 404 before Gradio sees it: :mod:`ner_app.roads` holds every road to that.)
* Gradio's file cleanup iterates sets that upload threads add to: it iterates copies (no
  ``Set changed size during iteration`` at shutdown), and the ``vibe_edit_history`` folder Gradio makes in
  the system temporary folder when it builds its routes is removed again when empty.
"""
from __future__ import annotations

import collections
import contextlib
import datetime
import logging
import threading
import time
from copy import copy
from pathlib import Path

from fastapi import HTTPException
from gradio import route_utils
from gradio.state_holder import SessionState, StateHolder

log = logging.getLogger(__name__)


class Tabs:
    """Which sessions have a heartbeat stream open (a page tab is open), and when the last one closed."""

    def __init__(self):
        self._open: collections.Counter[str] = collections.Counter()
        self._closed_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def opened(self, session: str) -> None:
        with self._lock:
            self._open[session] += 1
            self._closed_at.pop(session, None)

    def closed(self, session: str) -> None:
        with self._lock:
            self._open[session] -= 1
            if self._open[session] <= 0:
                del self._open[session]
                self._closed_at[session] = time.monotonic()

    def is_open(self, session: str) -> bool:
        with self._lock:
            return session in self._open

    def forget(self, session: str) -> None:
        with self._lock:
            self._closed_at.pop(session, None)


#: The heartbeat streams open now, per session (the guard counts them as they open and end).
TABS = Tabs()


class LeanSessionState(SessionState):
    """Gradio's session state without the eager copy of every component's configuration (about 70 KiB a
    session here): it is built the first time something reads it."""

    def __init__(self, blocks):  # replaces SessionState.__init__: no super() call
        self.blocks_config = copy(blocks.default_config)
        self._root_blocks = blocks.blocks
        self._config_values: dict | None = None
        self.state_data = {}
        self._state_ttl = {}
        self.is_closed = False
        self.STATE_TTL_WHEN_CLOSED = 3600

    @property  # type: ignore[override]
    def config_values(self) -> dict:
        if self._config_values is None:
            self._config_values = {k: self.blocks_config.config_for_block(k, [], v)
                                   for k, v in self.blocks_config.blocks.items() if k in self._root_blocks}
        return self._config_values

    @config_values.setter
    def config_values(self, value: dict) -> None:
        self._config_values = value


class BoundedStateHolder(StateHolder):
    """Gradio's :class:`StateHolder` that releases whole sessions (see the module docstring)."""

    ttl_s: float = 1800.0
    closed_ttl_s: float = 30.0

    def __getitem__(self, session_id: str) -> SessionState:
        if session_id not in self.session_data:
            self.session_data[session_id] = LeanSessionState(self.blocks)
        self.update(session_id)
        self.time_last_used[session_id] = datetime.datetime.now()
        return self.session_data[session_id]

    def delete_all_expired_state(self) -> None:
        """Gradio calls this every second: expired values first (its own rule), then whole sessions."""
        super().delete_all_expired_state()
        now = datetime.datetime.now()
        queue = getattr(self.blocks, "_queue", None)
        busy = getattr(queue, "pending_event_ids_session", {})
        for session_id in list(self.session_data):
            used = self.time_last_used.get(session_id, now)
            idle = (now - used).total_seconds()
            if busy.get(session_id) or (idle < self.ttl_s and (TABS.is_open(session_id) or idle < self.closed_ttl_s)):
                continue
            self.release(session_id)

    def release(self, session_id: str) -> None:
        with contextlib.suppress(Exception):  # a State's delete_callback is the app's code
            self.delete_state(session_id)
        with self.lock:
            self.session_data.pop(session_id, None)
            self.time_last_used.pop(session_id, None)
        queue = getattr(self.blocks, "_queue", None)
        if queue is not None:
            with contextlib.suppress(KeyError):
                del queue.pending_messages_per_session[session_id]
            if not queue.pending_event_ids_session.get(session_id, True):
                queue.pending_event_ids_session.pop(session_id, None)
        TABS.forget(session_id)


def bound_sessions(holder: StateHolder, ttl_s: float, closed_ttl_s: float, capacity: int) -> None:
    """Make Gradio's ``holder`` a :class:`BoundedStateHolder` with these bounds (in place: Gradio's app
    and blocks both hold it)."""
    holder.__class__ = BoundedStateHolder
    holder.ttl_s, holder.closed_ttl_s, holder.capacity = ttl_s, closed_ttl_s, capacity  # type: ignore[attr-defined]


def bound_queue(queue, per_client: int, setting: str = "NER_CLIENT_MAX_REQUESTS") -> None:
    """Hold Gradio's ``queue`` to its ``max_size`` exactly, and to ``per_client`` queued events per address."""
    push = queue.push
    joining: collections.Counter[str] = collections.Counter()

    def queued_by(client: str) -> int:
        n = joining[client]
        for line in list(queue.event_queue_per_concurrency_id.values()):
            n += sum(1 for e in list(line.queue) if _client_of(e.request) == client)
        return n

    async def bounded_push(body, request, username):
        client = _client_of(request)
        if queue.max_size is not None and len(queue) + sum(joining.values()) >= queue.max_size:
            return False, f"Queue is full. Max size is {queue.max_size}.", "queue_full"
        if queued_by(client) >= per_client:
            raise HTTPException(429, f"too many queued events from your address (at most {per_client}, "
                                     f"{setting}); wait for them to finish")
        joining[client] += 1
        try:
            return await push(body, request, username)
        finally:
            joining[client] -= 1
            if joining[client] <= 0:
                del joining[client]

    queue.push = bounded_push


def _client_of(request) -> str:
    client = getattr(request, "client", None)
    return str(getattr(client, "host", None) or "unknown")


def _delete_files_created_by_app(blocks, age):
    """Gradio's cleanup over copies of its file sets (upload threads add to them meanwhile)."""
    dont_delete = set()
    for component in list(blocks.blocks.values()):
        dont_delete.update(getattr(component, "keep_in_cache", set()))
    cutoff = None if age is None else time.time() - age
    for temp_set in list(blocks.temp_file_sets):
        removed = set()
        for file in list(temp_set):
            if file in dont_delete:
                continue
            try:
                if cutoff is None or Path(file).lstat().st_ctime < cutoff:
                    Path(file).unlink()
                    removed.add(file)
            except FileNotFoundError:
                removed.add(file)
            except OSError:
                pass
        temp_set -= removed


def remove_gradio_leftovers() -> None:
    """Remove the empty ``vibe_edit_history`` folder Gradio makes in its default temporary folder (the system's,
    read when Gradio was imported) when it builds its routes, and that folder too when it is left empty."""
    folder = Path(route_utils.DEFAULT_TEMP_DIR) / "vibe_edit_history"
    with contextlib.suppress(OSError):
        folder.rmdir()
        folder.parent.rmdir()


route_utils.delete_files_created_by_app = _delete_files_created_by_app
