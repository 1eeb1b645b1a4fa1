"""Head options from the command line: ``--head-opt KEY=VALUE``, typed from the head's ``Config`` fields.

``parse_head_options("actionclip", ["fusion=transformer", "layers=2"])`` returns
``{"fusion": "transformer", "layers": 2}``: each value is converted to its field's type
(``int``, ``float``, ``bool``: true/false/1/0/yes/no, ``str``) and the whole config is
built once, so the head's own checks run too. An unknown key or a value of the wrong type
is one ``ZsarError`` line that lists the valid keys with their types and defaults.
``head_options_table`` is what ``zsar heads`` prints.
"""

from __future__ import annotations

import math
import typing
from dataclasses import MISSING, fields
from typing import Any, Iterable

from zsar.errors import ZsarError
from zsar.heads.base import head_class, head_config

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
    try:
        head_config(head, **options)
    except (TypeError, ValueError) as error:
        raise ZsarError(f"--head-opt for {head!r}: {error}; valid keys: {_valid_keys(head)}") from None
    return options


def head_options_table(head: str) -> list[tuple[str, str, str]]:
    """``(name, type, default)`` of each option of head ``head``."""
    defaults = option_defaults(head)
    return [(name, kind.__name__, repr(defaults.get(name))) for name, kind in option_types(head).items()]
