"""Reading settings from the environment (or any string mapping): one rule for every positive-integer setting."""
from __future__ import annotations

from collections.abc import Mapping


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """``env[name]`` as a whole number of at least 1; ``default`` when it is unset or blank.

    Anything else raises ``ValueError`` naming the setting, its value and what to do.
    """
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number; set it to a positive integer or unset it") from None
    if value < 1:
        raise ValueError(f"{name}={value} must be at least 1; set it to a positive integer or unset it")
    return value
