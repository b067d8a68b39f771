"""Files the server keeps for its clients: one private directory for Gradio's uploads and the downloads,
with a time-to-live and a size cap, and the rule that a file a client names must be one Gradio received.

A path (or URL) in a request is data, never an instruction: the only files a
request may refer to are uploads that Gradio itself wrote into this directory.
"""
from __future__ import annotations

import collections
import contextlib
import logging
import os
import shutil
import stat
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import gradio as gr

from . import gradio_edge
from .clients import current_client
from .config import Settings

log = logging.getLogger(__name__)

#: How Gradio marks a file reference inside a request's data (``client_utils.is_file_obj_with_meta``).
FILE_DATA = "gradio.FileData"


class CacheFull(Exception):
    """There is no room for ``size`` more bytes (or one more file) under the cap, even after removing expired files."""


class ClientFull(CacheFull):
    """One client holds its share of the cache (``NER_CLIENT_CACHE_BYTES``): the others keep their room."""


class UploadRefused(Exception):
    """A file reference the server will not read; ``reason`` is one of REFUSALS."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


#: Why a file reference is refused, in the words shown to the user: (Chinese, English).
REFUSALS = {
    "not_received": ("只接受通过本页面上传的文件，不接受服务器路径或网址。请重新上传 .txt 文件。",
                     "Only files uploaded through this page are read, never a server path or a URL: upload the "
                     ".txt file again."),
    "missing": ("上传的文件已过期或已被处理，请重新上传。", "The upload has expired or was already read: upload it again."),
    "not_file": ("上传的内容不是普通文件，请重新上传 .txt 文件。", "The upload is not a regular file: upload a .txt file."),
    "too_large": ("上传的文件太大，请分段后再上传。", "The file is too large: split it and upload the parts."),
}


class FileArea:
    """The server's own directory for uploads and downloads (Gradio's upload folder and cache).

    All files together stay under ``max_bytes`` and ``max_files``, and what one
    client address wrote in the last time-to-live under ``client_bytes``:
    :meth:`claim` refuses bytes that would not fit.  Claims are counted as they
    are made (an upload's as its bytes arrive), so the check is a sum, never a
    walk per request: the folder is walked (files older than ``ttl_s`` removed,
    the rest counted) only when a claim does not fit and files were written
    since the last walk began (or ``sweep_s`` seconds have passed), by one
    thread at a time, outside the accounting lock.  :meth:`remove` deletes the
    whole directory (at shutdown).
    """

    def __init__(self, root: str | Path, ttl_s: float, max_bytes: int, max_files: int = 10_000,
                 client_bytes: int | None = None, sweep_s: float = 5.0):
        self.root = Path(root).resolve()
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self.max_files = max_files
        self.client_bytes = client_bytes or max_bytes
        self.sweep_s = sweep_s
        self._lock = threading.Lock()  # the counts below; held for sums only
        self._sweeping = threading.Lock()  # one walk at a time
        self._disk = (0, 0)  # bytes, files found by the last walk
        self._held = [0, 0]  # bytes, files claimed by writes in progress
        self._written = [0, 0]  # bytes, files written since the last walk began
        self._walks = 0
        self._walked_at = -float("inf")
        #: per client: (time, bytes) of each claim in the last time-to-live
        self._by_client: dict[str, collections.deque[tuple[float, int]]] = {}

    @classmethod
    def create(cls, ttl_s: float, max_bytes: int, parent: str | Path | None = None, **limits) -> FileArea:
        """A fresh private directory inside ``parent`` (made if missing; default: the system's temporary directory)."""
        if parent:
            Path(parent).mkdir(parents=True, exist_ok=True)
        return cls(tempfile.mkdtemp(prefix="ner-app-", dir=parent or None), ttl_s, max_bytes, **limits)

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    def contains(self, path: str | Path) -> bool:
        """Whether ``path``, with every symlink and ``..`` resolved, lies inside this directory."""
        try:
            return Path(os.path.realpath(path)).is_relative_to(self.root)
        except (OSError, ValueError):
            return False

    def sweep(self) -> tuple[int, int]:
        """Remove files older than the time-to-live and empty folders; returns the bytes and files left."""
        with self._lock:
            written_before = tuple(self._written)
            self._walked_at = time.monotonic()
        cutoff = time.time() - self.ttl_s
        used = files = 0
        for folder, dirs, names in os.walk(self.root, topdown=False):
            for name in names:
                path = os.path.join(folder, name)
                try:
                    st = os.lstat(path)
                    if st.st_mtime < cutoff:
                        os.remove(path)
                    else:
                        used += st.st_size
                        files += 1
                except OSError:  # removed meanwhile
                    pass
            for name in dirs:
                with contextlib.suppress(OSError):  # not empty
                    os.rmdir(os.path.join(folder, name))
        with self._lock:  # what was written during the walk stays counted (the walk may have missed it)
            self._disk = (used, files)
            self._written = [max(0, w - b) for w, b in zip(self._written, written_before)]
            self._walks += 1
        return used, files

    def usage(self) -> tuple[int, int]:
        """Bytes and files counted now: the last walk's, plus what was written since and is being written."""
        with self._lock:
            return self._usage()

    def _usage(self) -> tuple[int, int]:
        return (self._disk[0] + self._held[0] + self._written[0], self._disk[1] + self._held[1] + self._written[1])

    def claim(self, size: int, files: int = 0, client: str | None = None, walk: bool = True) -> int:
        """Hold ``size`` bytes (and ``files`` files) about to be written for ``client`` (default: the client of
        the request being served), or raise :class:`CacheFull` / :class:`ClientFull`; returns ``size``.
        Call :meth:`commit` once they are written, :meth:`release` if they are not.  ``walk=False``: never
        walk the folder (on the event loop); a claim that does not fit then raises at once."""
        client = client or current_client()
        for attempt in (0, 1):
            with self._lock:
                used, count = self._usage()
                fits = used + size <= self.max_bytes and count + files <= self.max_files
                mine = self._client_used(client)
                if fits and mine + size <= self.client_bytes and (self._walks or not walk):
                    self._held[0] += size
                    self._held[1] += files
                    if client and size:
                        self._by_client.setdefault(client, collections.deque()).append((time.monotonic(), size))
                    return size
                useful = not self._walks or any(self._written) or time.monotonic() - self._walked_at > self.sweep_s
                walks = self._walks
            if attempt == 0 and walk and (not fits or not self._walks) and useful:
                with self._sweeping:
                    if self._walks == walks:  # nobody walked while this thread waited
                        self.sweep()
                continue
            break
        if fits:
            raise ClientFull(f"this client wrote {mine} of its {self.client_bytes} bytes in the last "
                             f"{self.ttl_s:g} s; {size} more asked for")
        raise CacheFull(f"{used} of {self.max_bytes} bytes and {count} of {self.max_files} files in use, "
                        f"{size} bytes and {files} files more asked for")

    def _client_used(self, client: str | None) -> int:
        """Bytes ``client`` claimed within the time-to-live (older claims dropped); call with the lock held."""
        claims = self._by_client.get(client or "")
        if not claims:
            return 0
        cutoff = time.monotonic() - self.ttl_s
        while claims and claims[0][0] < cutoff:
            claims.popleft()
        if not claims:
            del self._by_client[client or ""]
            return 0
        return sum(size for _, size in claims)

    def commit(self, size: int, files: int = 0) -> None:
        """The claimed bytes are written: from now on they are on disk (the next walk counts them)."""
        with self._lock:
            self._held = [max(0, self._held[0] - size), max(0, self._held[1] - files)]
            self._written[0] += size
            self._written[1] += files

    def release(self, size: int, files: int = 0, client: str | None = None) -> None:
        """Give back a claim that was not written (a refused or broken upload, a failed download)."""
        client = client or current_client()
        with self._lock:
            self._held = [max(0, self._held[0] - size), max(0, self._held[1] - files)]
            claims = self._by_client.get(client or "")
            if claims and size:
                claims.append((time.monotonic(), -size))

    @contextlib.contextmanager
    def reserve(self, size: int, files: int = 0) -> Iterator[None]:
        """:meth:`claim` ``size`` bytes for the block that writes them (given back if the block fails)."""
        client = current_client()
        self.claim(size, files, client)
        try:
            yield
        except BaseException:
            self.release(size, files, client)
            raise
        self.commit(size, files)

    def discard(self, path: str | Path) -> None:
        """Delete an upload once it has been read, and its folder when that is empty."""
        if not self.contains(path):
            return
        with contextlib.suppress(OSError):
            size = os.lstat(path).st_size
            os.remove(path)
            folder = Path(os.path.realpath(os.path.dirname(path)))
            if folder != self.root:
                folder.rmdir()
            with self._lock:  # the next walk would find it gone; count it gone now
                if self._written[0] >= size and self._written[1]:
                    self._written = [self._written[0] - size, self._written[1] - 1]
                else:
                    self._disk = (max(0, self._disk[0] - size), max(0, self._disk[1] - 1))

    def remove(self) -> None:
        """Delete the directory and everything in it."""
        shutil.rmtree(self.root, ignore_errors=True)


def read_file(path: str | Path, limit: int, area: FileArea | None = None) -> bytes:
    """The bytes of the regular file ``path``, at most ``limit`` of them; with ``area``, only a file inside it.

    Raises :class:`UploadRefused` for anything else (outside the area, a device,
    a directory, missing, over the limit) before reading a byte of it.
    """
    if area is not None and not area.contains(path):
        raise UploadRefused("not_received")
    try:
        with open(path, "rb", opener=_opener(follow_links=area is None)) as fh:
            st = os.fstat(fh.fileno())
            if not stat.S_ISREG(st.st_mode):
                raise UploadRefused("not_file")
            if st.st_size > limit:
                raise UploadRefused("too_large")
            data = fh.read(limit + 1)
    except FileNotFoundError:
        raise UploadRefused("missing") from None
    except OSError:
        raise UploadRefused("not_file") from None
    if len(data) > limit:
        raise UploadRefused("too_large")
    return data


def _opener(follow_links: bool):
    # O_NONBLOCK: opening a FIFO must not wait for a writer; O_NOFOLLOW: an upload is never a symlink
    extra = getattr(os, "O_NONBLOCK", 0) | (0 if follow_links else getattr(os, "O_NOFOLLOW", 0))
    return lambda path, flags: os.open(path, flags | extra)


def file_refs(data) -> Iterator[dict]:
    """Every object in a request's ``data`` that Gradio would treat as a file (``meta._type`` gradio.FileData)."""
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            meta = item.get("meta")
            if isinstance(meta, dict) and meta.get("_type") == FILE_DATA:
                yield item
            else:
                stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def check_received(ref: dict, received: set[str], area: FileArea | None) -> None:
    """:class:`UploadRefused` unless ``ref`` names a regular file that Gradio received as an upload.

    ``received`` is Gradio's record of the paths its upload route wrote
    (``Blocks.upload_file_set``); ``area`` is where they must lie.  A URL, a
    relative or ``..`` path, a device, a symlink: none of them was received.
    """
    path = ref.get("path")
    if not isinstance(path, str) or path not in received or (area is not None and not area.contains(path)):
        raise UploadRefused("not_received")
    try:
        st = os.lstat(path)
    except OSError:
        raise UploadRefused("missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise UploadRefused("not_file")


class UploadsOnlyBlocks(gr.Blocks):
    """``gr.Blocks`` whose inputs may refer only to files its own upload route received.

    Gradio copies (and hashes, on the event loop) any file a request names, or
    fetches any URL, before a handler runs; its own check is skipped for an app
    mounted with ``gr.mount_gradio_app``.  This check runs first, for every
    input of every endpoint, documented or not, and refuses with a plain message.
    """

    file_area: FileArea | None = None
    #: the server's settings: the bounds of sessions and of the queue per client (:mod:`ner_app.gradio_edge`)
    edge_settings: Settings = Settings()

    def bound(self, settings: Settings, files: FileArea | None = None) -> None:
        """Hold this app to ``settings`` (sessions, queue per client) and its uploads to ``files``."""
        self.edge_settings = settings
        self.file_area = files

    @property
    def state_holder(self):
        return self._state_holder

    @state_holder.setter
    def state_holder(self, holder) -> None:  # Gradio's app sets it when it mounts this Blocks
        s = self.edge_settings
        gradio_edge.bound_sessions(holder, s.session_ttl_s, s.session_closed_ttl_s, s.max_sessions)
        self._state_holder = holder

    def queue(self, *args, **kwargs):
        out = super().queue(*args, **kwargs)
        gradio_edge.bound_queue(self._queue, self.edge_settings.client_max_requests)
        return out

    async def preprocess_data(self, block_fn, inputs, state, explicit_call=False):
        received = self.upload_file_set
        for ref in file_refs(inputs):
            try:
                check_received(ref, received, self.file_area)
            except UploadRefused as exc:
                log.warning("refused a file reference in a request (%s)", exc.reason)
                # before any handler, so without the visitor's language: both
                raise gr.Error(" ".join(REFUSALS[exc.reason]), title="文件不可用 · File refused",
                               print_exception=False) from None
        return await super().preprocess_data(block_fn, inputs, state, explicit_call)

    def validate_inputs(self, block_fn, inputs: list) -> None:
        """A client may leave out trailing parameters that have a default (gradio_client's optional
        parameters, the page's ``gr.State``): they take the component's initial value, in place."""
        _pad(block_fn, inputs)
        super().validate_inputs(block_fn, inputs)

    async def process_api(self, block_fn, inputs, *args, **kwargs):
        """Gradio runs a batch function's validator on one request as ``[data]`` (one list holding every
        input's value) and returns its verdicts as tuples, which its own check then ignores: here the
        validator gets one list per input and its verdicts count (an HTTP 422 naming the problem)."""
        fn = self.fns[block_fn] if isinstance(block_fn, int) else block_fn
        batched_validator = fn.is_validator_function and fn.batch
        if batched_validator and len(inputs) == 1 and isinstance(inputs[0], list) and len(fn.inputs) > 1:
            _pad(fn, inputs[0])  # the same list is the request's data: the event it queues is padded too
            inputs = [[value] for value in inputs[0]]
        out = await super().process_api(fn, inputs, *args, **kwargs)
        if batched_validator:
            out["data"] = [list(d) if isinstance(d, tuple) else d for d in out["data"]]
        return out


def _pad(block_fn, inputs: list) -> None:
    """Append the initial value of each input component the request left out (None for a ``gr.State``)."""
    for block in block_fn.inputs[len(inputs):]:
        value = getattr(block, "value", None)
        inputs.append(None if block.stateful or callable(value) else value)
