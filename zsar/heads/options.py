"""Head options from the command line: ``--head-opt KEY=VALUE``, typed from the head's ``Config`` fields.

``parse_head_options("actionclip", ["fusion=transformer", "layers=2"])`` returns
``{"fusion": "transformer", "layers": 2}``: each value is converted to its field's type
(``int``, ``float``, ``bool``: true/false/1/0/yes/no, ``str``) and the whole config is
built once, so the head's own checks run too. An unknown key or a value of the wrong type
is one ``ZsarError`` line that lists the valid keys with their types and defaults.
``head_options_table`` is what ``zsar heads`` prints.

Values are checked against their ranges before anything is written (``check_ranges``):
a count or width is at least 1 (at least 0 where the default 0 means "choose for me"),
a ``dropout`` is a probability in [0, 1), other numbers are not negative, ``generator``
is a known mode. ``check_head_size`` builds the head for the cache's sizes on torch's
``meta`` device (no memory) to run its own checks and to refuse one whose training
state (weights, gradients, two Adam moments) would not fit in the machine's memory.
"""

from __future__ import annotations

import math
import typing
from dataclasses import MISSING, fields
from typing import Any, Iterable

import torch

from zsar.devices import available_memory
from zsar.errors import ZsarError
from zsar.heads.base import HeadDims, create_head, head_class, head_config, heads_in_order
from zsar.heads.generator import check_generator_mode

TRAIN_COPIES = 4  # weights, gradients and AdamW's two moments, float32 each
FLOAT32_BYTES = 4

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def option_types(head: str) -> dict[str, type]:
    """``{field name: type}`` of head ``head``'s ``Config``."""
    cls = head_class(head).Config
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in fields(cls)}


def option_defaults(head: str) -> dict[str, Any]:
    """``{field name: default}`` of head ``head``'s ``Config``."""
    return {f.name: f.default for f in fields(head_class(head).Config) if f.default is not MISSING}


def _valid_keys(head: str) -> str:
    defaults = option_defaults(head)
    return ", ".join(f"{name} ({kind.__name__}, default {defaults.get(name)!r})"
                     for name, kind in option_types(head).items())


def _convert(value: str, kind: type) -> Any:
    if kind is bool:
        if value.lower() not in _TRUE + _FALSE:
            raise ValueError("not a boolean")
        return value.lower() in _TRUE
    if kind is float:
        number = float(value)
        if not math.isfinite(number):
            raise ValueError("not a finite number")
        return number
    return kind(value)


def parse_head_options(head: str, items: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> typed options of head ``head`` (checked by building its config)."""
    types, options = option_types(head), {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ZsarError(f"--head-opt {item!r} is not KEY=VALUE; valid keys of {head!r}: {_valid_keys(head)}")
        if key not in types:
            raise ZsarError(f"head {head!r} has no option {key!r}; valid keys: {_valid_keys(head)}")
        try:
            options[key] = _convert(value.strip(), types[key])
        except ValueError:
            raise ZsarError(f"--head-opt {item!r}: {value!r} is not a {types[key].__name__}; "
                            f"valid keys: {_valid_keys(head)}") from None
    check_ranges(head, options)
    try:
        head_config(head, **options)
    except (TypeError, ValueError) as error:
        raise ZsarError(f"--head-opt for {head!r}: {error}; valid keys: {_valid_keys(head)}") from None
    return options


def check_ranges(head: str, options: dict[str, Any]) -> None:
    """Refuse an option value outside its range (module doc), naming it and the range."""
    defaults, types = option_defaults(head), option_types(head)
    for key, value in options.items():
        kind = types.get(key)
        if key == "generator":
            try:
                check_generator_mode(value)
            except ZsarError as err:
                raise ZsarError(f"--head-opt {key}={value}: {err}") from None
        elif kind is int and value < (0 if defaults.get(key) == 0 else 1):
            low = 0 if defaults.get(key) == 0 else 1
            raise ZsarError(f"--head-opt {key}={value}: {head}'s {key} must be at least {low}")
        elif kind is float and "dropout" in key and not 0 <= value < 1:
            raise ZsarError(f"--head-opt {key}={value}: {head}'s {key} is a probability, in [0, 1)")
        elif kind is float and value < 0:
            raise ZsarError(f"--head-opt {key}={value}: {head}'s {key} must not be negative")


def check_head_size(head: str, dims: HeadDims, options: dict[str, Any]) -> None:
    """Build head ``head`` for ``dims`` on the meta device: its own checks run, and its training state must fit."""
    check_ranges(head, options)
    try:
        with torch.device("meta"):
            model = create_head(head, dims, **options)
    except RuntimeError as error:
        if "meta" in str(error):  # a head that computes with its weights while it is built: no estimate
            return
        raise ZsarError(f"--head-opt for {head!r}: {' '.join(str(error).split())[:200]}; valid keys: "
                        f"{_valid_keys(head)}") from None
    except (TypeError, ValueError) as error:
        raise ZsarError(f"--head-opt for {head!r}: {' '.join(str(error).split())[:200]}; valid keys: "
                        f"{_valid_keys(head)}") from None
    n_parameters = sum(p.numel() for p in model.parameters())
    need = TRAIN_COPIES * FLOAT32_BYTES * n_parameters
    have = available_memory()
    if need > have:
        shown = ", ".join(f"{k}={v}" for k, v in options.items()) or "its defaults"
        raise ZsarError(f"head {head} with {shown} has {n_parameters:,} parameters: training it needs "
                        f"{need / 1e9:.1f} GB, this machine has {have / 1e9:.1f} GB available; use smaller widths")


def head_options_table(head: str) -> list[tuple[str, str, str]]:
    """``(name, type, default)`` of each option of head ``head``."""
    defaults = option_defaults(head)
    return [(name, kind.__name__, repr(defaults.get(name))) for name, kind in option_types(head).items()]


def format_heads() -> str:
    """What ``zsar heads`` prints: each registered head, its help, and its options with their types and defaults."""
    from zsar.heads.base import HEADS

    lines = []
    for name in heads_in_order():
        lines.append(f"{name}: {HEADS.entry(name).help}")
        lines += [f"    {option:<18} {kind:<6} default {default}" for option, kind, default in head_options_table(name)]
    return "\n".join(lines)

