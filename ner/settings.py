"""Reading settings from the environment (or any string mapping): one rule for every positive-number setting."""
from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TypeVar

N = TypeVar("N", int, float)


def _positive(env: Mapping[str, str], name: str, default: N, convert: Callable[[str], N], what: str, hint: str) -> N:
    raw = (env.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = convert(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not {what}; set it to {hint} or unset it") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name}={raw} must be {what} above 0; set it to {hint} or unset it")
    return value


def positive_int(env: Mapping[str, str], name: str, default: int) -> int:
    """``env[name]`` as a whole number of at least 1; ``default`` when it is unset or blank.

    Anything else raises ``ValueError`` naming the setting, its value and what to do.
    """
    return _positive(env, name, default, int, "a whole number", "a positive integer")


def positive_seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """``env[name]`` as a finite number of seconds above 0; ``default`` when it is unset or blank."""
    return _positive(env, name, default, float, "a number of seconds", "e.g. 10")
