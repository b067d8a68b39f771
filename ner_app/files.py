"""Files the server keeps for its clients: one private directory for Gradio's uploads and the downloads,
with a time-to-live and a size cap, and the rule that a file a client names must be one Gradio received.

A path (or URL) in a request is data, never an instruction: the only files a
request may refer to are uploads that Gradio itself wrote into this directory.
"""
from __future__ import annotations

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

log = logging.getLogger(__name__)

#: How Gradio marks a file reference inside a request's data (``client_utils.is_file_obj_with_meta``).
FILE_DATA = "gradio.FileData"


class CacheFull(Exception):
    """There is no room for ``size`` more bytes under the cap, even after removing expired files."""


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

    Files older than ``ttl_s`` seconds are removed whenever room is needed, and
    all files together stay under ``max_bytes``: :meth:`reserve` refuses bytes
    that would not fit.  :meth:`remove` deletes the whole directory (at shutdown).
    """

    def __init__(self, root: str | Path, ttl_s: float, max_bytes: int):
        self.root = Path(root).resolve()
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self._lock = threading.Lock()
        self._reserved = 0

    @classmethod
    def create(cls, ttl_s: float, max_bytes: int, parent: str | Path | None = None) -> FileArea:
        """A fresh private directory inside ``parent`` (made if missing; default: the system's temporary directory)."""
        if parent:
            Path(parent).mkdir(parents=True, exist_ok=True)
        return cls(tempfile.mkdtemp(prefix="ner-app-", dir=parent or None), ttl_s, max_bytes)

    @property
    def downloads(self) -> Path:
        return self.root / "downloads"

    def contains(self, path: str | Path) -> bool:
        """Whether ``path``, with every symlink and ``..`` resolved, lies inside this directory."""
        try:
            return Path(os.path.realpath(path)).is_relative_to(self.root)
        except (OSError, ValueError):
            return False

    def sweep(self) -> int:
        """Remove files older than the time-to-live and empty folders; returns the bytes left."""
        cutoff = time.time() - self.ttl_s
        used = 0
        for folder, dirs, files in os.walk(self.root, topdown=False):
            for name in files:
                path = os.path.join(folder, name)
                try:
                    st = os.lstat(path)
                    if st.st_mtime < cutoff:
                        os.remove(path)
                    else:
                        used += st.st_size
                except OSError:  # removed meanwhile
                    pass
            for name in dirs:
                with contextlib.suppress(OSError):  # not empty
                    os.rmdir(os.path.join(folder, name))
        return used

    def claim(self, size: int) -> int:
        """Hold room for ``size`` bytes about to be written (returns ``size``), or raise :class:`CacheFull`.

        Call :meth:`release` once they are written: from then on they are counted on disk.
        """
        with self._lock:
            used = self.sweep()
            if used + self._reserved + size > self.max_bytes:
                raise CacheFull(f"{used + self._reserved} of {self.max_bytes} bytes in use, {size} more asked for")
            self._reserved += size
        return size

    def release(self, size: int) -> None:
        with self._lock:
            self._reserved -= size

    @contextlib.contextmanager
    def reserve(self, size: int) -> Iterator[None]:
        """:meth:`claim` ``size`` bytes for the block that writes them."""
        self.claim(size)
        try:
            yield
        finally:
            self.release(size)

    def discard(self, path: str | Path) -> None:
        """Delete an upload once it has been read, and its folder when that is empty."""
        if not self.contains(path):
            return
        with contextlib.suppress(OSError):
            os.remove(path)
            folder = Path(os.path.realpath(os.path.dirname(path)))
            if folder != self.root:
                folder.rmdir()

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
