"""Server settings read once from environment variables."""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Settings:
    """Limits and addresses of one server process (see the docstring of ``app.py`` for each variable)."""

    model: str | None = None
    threads: int | None = None
    max_chars: int = 100_000
    max_texts: int = 64
    queue_size: int = 64
    engine_slots: int = 2
    max_body_bytes: int = 8 * 1024 * 1024
    host: str = "127.0.0.1"
    port: int = 7860

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> Settings:
        """Settings from ``env``; raises ``ValueError`` naming the variable when a value is not usable."""
        max_chars = _int(env, "NER_MAX_CHARS", cls.max_chars)
        # JSON may escape every CJK character as \uXXXX (6 bytes): one maximal text must always fit
        body_floor = 6 * max_chars + 64 * 1024
        return cls(
            model=env.get("NER_MODEL") or None,
            threads=_int(env, "NER_THREADS", None),
            max_chars=max_chars,
            max_texts=_int(env, "NER_MAX_TEXTS", cls.max_texts),
            queue_size=_int(env, "NER_QUEUE_SIZE", cls.queue_size),
            engine_slots=_int(env, "NER_ENGINE_SLOTS", cls.engine_slots),
            max_body_bytes=max(_int(env, "NER_MAX_BODY_BYTES", cls.max_body_bytes), body_floor),
            host=env.get("GRADIO_SERVER_NAME") or cls.host,
            port=_int(env, "GRADIO_SERVER_PORT", cls.port),
        )


def _int(env: Mapping[str, str], name: str, default: int | None) -> int | None:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number; set it to a positive integer or unset it") from None
    if value < 1:
        raise ValueError(f"{name}={value} must be at least 1; set it to a positive integer or unset it")
    return value
