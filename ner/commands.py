"""What the commands take, each rule written once: the arguments they share (``--model``, ``--threads``, every
option whose default is a config dataclass's field, :func:`add_fields`; ``--data`` is
:func:`ner.training.corpora.add_data_argument`, the corpora's folder belongs to training) and the one rule for a
positive-number value read from the environment or any string mapping (:func:`positive_int`,
:func:`positive_seconds`).

A command passes its environment in (``os.environ``): the commands are the entry points that read it.
"""
from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar


def add_model(ap: argparse.ArgumentParser, env: Mapping[str, str] | None = None, *, default: str | None = None,
              help: str | None = None) -> None:
    """``--model``: a model directory (or a ModelScope id where the command takes one); its default is
    ``$NER_MODEL`` when ``env`` is given, else ``default`` (None: the embedded model)."""
    value = (env.get("NER_MODEL") if env is not None else None) or default
    where = "$NER_MODEL or " if env is not None else ""
    ap.add_argument("--model", default=value,
                    help=help or f"model directory (default: {where}{default or 'the embedded model'})")


def add_threads(ap: argparse.ArgumentParser, default: int | None = None, help: str | None = None) -> None:
    """``--threads``: threads of one engine or training process (None: the library's default, the cores up to 4)."""
    ap.add_argument("--threads", type=int, default=default,
                    help=help or f"threads (default: {default if default is not None else 'the cores, at most 4'})")


def add_fields(ap: argparse.ArgumentParser, config: type, names: tuple[str, ...] | list[str],
               helps: Mapping[str, str] | None = None) -> None:
    """One ``--option`` per field of the dataclass ``config`` in ``names`` (``max_len`` -> ``--max-len``), its
    default and type taken from the field, so the command line and the config never disagree."""
    fields = {f.name: f for f in dataclasses.fields(config)}
    for name in names:
        field = fields[name]
        default: Any = field.default
        if default is dataclasses.MISSING:
            raise ValueError(f"{config.__name__}.{name} has no default to offer on the command line")
        flag = "--" + name.replace("_", "-")
        helps = helps or {}
        if isinstance(default, bool):
            ap.add_argument(flag, action="store_true", help=helps.get(name))
        else:
            ap.add_argument(flag, type=type(default), default=default,
                            help=(helps.get(name, "") + f" (default: {default})").strip())


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
