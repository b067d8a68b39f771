"""The ModelScope client: is the hub reachable, and fetch a model snapshot (needs the ``modelscope`` extra)."""
from __future__ import annotations

import os
import re
import socket
from pathlib import Path

from .._optional import require
from ..errors import HubError, HubUnavailable

#: The reference model the project imports.
RANER_ID = "damo/nlp_raner_named-entity-recognition_chinese-base-news"
#: A ModelScope id: ``owner/name``, ASCII word characters, dots and dashes only.
MODEL_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$", re.ASCII)
HUB_PORT = 443
HUB_TIMEOUT_S = 3.0

__all__ = ["RANER_ID", "MODEL_ID", "HubError", "HubUnavailable", "hub_host", "check_hub", "download"]


def hub_host() -> str:
    return os.environ.get("MODELSCOPE_DOMAIN", "www.modelscope.cn").split("://")[-1].split("/")[0]


def check_hub(timeout: float = HUB_TIMEOUT_S) -> None:
    """Raise :class:`HubUnavailable` unless a TCP connection to ModelScope opens within ``timeout`` seconds."""
    host = hub_host()
    try:
        socket.create_connection((host, HUB_PORT), timeout=timeout).close()
    except OSError as exc:
        raise HubUnavailable(f"the ModelScope hub ({host}) is unreachable from this machine ({exc}); "
                             f"the embedded model is used instead.") from None


def download(model_id: str, cache_dir: str | Path | None = None) -> Path:
    """Fetch ``model_id`` with ``modelscope.snapshot_download``; fails fast when the hub is unreachable."""
    check_hub()  # first: unreachable is the common case, and it is what the user needs to hear
    ms = require("modelscope", f"Downloading {model_id} from ModelScope")
    try:
        path = ms.snapshot_download(model_id, cache_dir=str(cache_dir) if cache_dir else None)
    except Exception as exc:  # modelscope raises requests/HTTP errors of many kinds
        raise HubError(f"could not download {model_id!r} from ModelScope ({type(exc).__name__}: {exc}).") from None
    return Path(path)


