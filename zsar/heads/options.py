"""Head and protocol options from the command line: ``--head-opt`` / ``--protocol-opt KEY=VALUE``, typed by fields.

``parse_head_options("actionclip", ["fusion=transformer", "layers=2"])`` returns
``{"fusion": "transformer", "layers": 2}``: each value is converted to its field's type
(``int``, ``float``, ``bool``: true/false/1/0/yes/no, ``str``; ``none`` for an optional
one) and the whole config is built once, so the head's own checks run too. An unknown key
or a value of the wrong type is one ``ZsarError`` line that lists the valid keys with their
types and defaults. ``parse_protocol_options`` does the same for a protocol's options type;
``format_heads`` is what ``zsar heads`` prints.

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
from zsar.cache.records import type_name
from zsar.heads.base import HEADS, HeadDims, create_head, head_class, head_config, heads_in_order
from zsar.heads.generator import check_generator_mode
from zsar.heads.protocols import PROTOCOLS

TRAIN_COPIES = 4  # weights, gradients and AdamW's two moments, float32 each
FLOAT32_BYTES = 4

_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def config_types(config: type) -> dict[str, Any]:
    """``{field name: type}`` of the config dataclass ``config`` (a head's ``Config``, a protocol's options)."""
    hints = typing.get_type_hints(config)
    return {f.name: hints[f.name] for f in fields(config)}


def config_defaults(config: type) -> dict[str, Any]:
    """``{field name: default}`` of the config dataclass ``config``."""
    return {f.name: f.default for f in fields(config) if f.default is not MISSING}


def valid_keys(config: type) -> str:
    """``name (type, default value), ...`` of ``config``'s fields, for error messages (``none`` if it has none)."""
    defaults = config_defaults(config)
    return ", ".join(f"{name} ({type_name(kind)}, default {defaults.get(name)!r})"
                     for name, kind in config_types(config).items()) or "none"


def _convert(value: str, kind: Any) -> Any:
    if type(None) in typing.get_args(kind):  # X | None: "none" is None
        if value.lower() == "none":
            return None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
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


def parse_config_items(config: type, items: Iterable[str], flag: str, owner: str) -> dict[str, Any]:
    """``KEY=VALUE`` strings (``flag``'s) -> values typed by the fields of ``config`` (``owner``: whose they are)."""
    types, options = config_types(config), {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().replace("-", "_")
        if not sep:
            raise ZsarError(f"{flag} {item!r} is not KEY=VALUE; valid keys of {owner}: {valid_keys(config)}")
        if key not in types:
            raise ZsarError(f"{owner} has no option {key!r}; valid keys: {valid_keys(config)}")
        try:
            options[key] = _convert(value.strip(), types[key])
        except ValueError:
            raise ZsarError(f"{flag} {item!r}: {value!r} is not a {type_name(types[key])}; "
                            f"valid keys: {valid_keys(config)}") from None
    return options


def parse_head_options(head: str, items: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> typed options of head ``head`` (checked by building its config)."""
    config = head_class(head).Config
    options = parse_config_items(config, items, "--head-opt", f"head {head!r}")
    check_ranges(head, options)
    try:
        head_config(head, **options)
    except (TypeError, ValueError) as error:
        raise ZsarError(f"--head-opt for {head!r}: {error}; valid keys: {valid_keys(config)}") from None
    return options


def check_ranges(head: str, options: dict[str, Any]) -> None:
    """Refuse an option value outside its range (module doc), naming it and the range."""
    config = head_class(head).Config
    defaults, types = config_defaults(config), config_types(config)
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
                        f"{valid_keys(head_class(head).Config)}") from None
    except (TypeError, ValueError) as error:
        raise ZsarError(f"--head-opt for {head!r}: {' '.join(str(error).split())[:200]}; valid keys: "
                        f"{valid_keys(head_class(head).Config)}") from None
    n_parameters = sum(p.numel() for p in model.parameters())
    need = TRAIN_COPIES * FLOAT32_BYTES * n_parameters
    have = available_memory()
    if need > have:
        shown = ", ".join(f"{k}={v}" for k, v in options.items()) or "its defaults"
        raise ZsarError(f"head {head} with {shown} has {n_parameters:,} parameters: training it needs "
                        f"{need / 1e9:.1f} GB, this machine has {have / 1e9:.1f} GB available; use smaller widths")


def options_table(config: type) -> list[tuple[str, str, str]]:
    """``(name, type, default)`` of each field of the config dataclass ``config``."""
    defaults = config_defaults(config)
    return [(name, type_name(kind), repr(defaults.get(name))) for name, kind in config_types(config).items()]


def format_heads() -> str:
    """What ``zsar heads`` prints: each registered head with its options (``--head-opt``), then each protocol
    with its options (``--protocol-opt``) and the measures it adds, all with their types and defaults."""
    lines = []
    for name in heads_in_order():
        lines.append(f"{name}: {HEADS.help(name)}")
        lines += [f"    {option:<18} {kind:<6} default {default}"
                  for option, kind, default in options_table(HEADS.get(name).Config)]
    lines += ["", "protocols (--protocol; options: --protocol-opt KEY=VALUE):"]
    for entry in PROTOCOLS.entries():
        protocol = entry.obj
        adds = f" (adds {', '.join(protocol.measures)})" if protocol.measures else ""
        lines.append(f"{entry.name}: {entry.help}{adds}")
        lines += [f"    {option:<18} {kind:<6} default {default}"
                  for option, kind, default in options_table(protocol.options)]
    return "\n".join(lines)


def parse_protocol_options(protocol: str, items: Iterable[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> typed options of protocol ``protocol`` (its ``Protocol.options`` fields)."""
    return parse_config_items(PROTOCOLS.get(protocol).options, items, "--protocol-opt", f"--protocol {protocol}")
