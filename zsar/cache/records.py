"""Typed JSON records: frozen dataclasses written and read through one pair of functions.

Everything zsar writes as JSON (a cache's ``config.json``, a run's ``config.json``,
``metrics.json``, ``selection.json``, ``log.jsonl`` lines and checkpoint metadata) is a
frozen dataclass. ``record_json`` gives its JSON values, ``parse_record`` checks a parsed
JSON object against the dataclass (an object, the schema version, no unknown field, every
field without a default present, each value of its annotated type, nested records
included) and builds it. A file written before records had a ``schema_version`` (the
previous release) reads as this version: its fields are the same, the ones added since
have defaults. Any other problem is one ``error`` naming the file and the repair.
"""

from __future__ import annotations

import dataclasses
import json
import typing
from typing import Any

import numpy as np

from zsar.errors import ZsarError

LEGACY = "legacy"  # a file without schema_version: written by the release before typed run files


def json_default(value: Any) -> Any:
    """``json.dumps``'s ``default`` for numpy scalars and arrays (other objects: their ``str``)."""
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def record_json(record: Any) -> dict[str, Any]:
    """The fields of the dataclass ``record`` as JSON values (tuples become lists, numpy scalars numbers)."""
    return json.loads(json.dumps(dataclasses.asdict(record), default=json_default))


def render_record(record: Any) -> str:
    """The text zsar writes for ``record``: its JSON object, indented, one trailing newline."""
    return json.dumps(record_json(record), indent=2) + "\n"


def load_json_text(text: str, where: str, fix: str, error: type[ZsarError] = ZsarError) -> Any:
    """``json.loads(text)``; invalid JSON is ``error`` naming ``where`` (e.g. ``run config RUN/config.json``)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise error(f"{where} is damaged: not valid JSON ({err}); {fix}") from None


def parse_record(cls: type, raw: Any, where: str, fix: str, error: type[ZsarError] = ZsarError) -> Any:
    """Build the dataclass ``cls`` from the parsed JSON ``raw``, checked (see the module docstring)."""
    if not isinstance(raw, dict):
        raise error(f"{where} is damaged: a JSON {type(raw).__name__}, not an object; {fix}")
    current = _schema_version(cls)
    if current is not None:
        version = raw["schema_version"] if "schema_version" in raw else LEGACY
        if version != LEGACY and version != current:
            raise error(f"{where} has schema version {version!r}, this zsar reads version {current}; {fix} "
                        "(or read it with the zsar that wrote it)")
    return _build(cls, raw, where, fix, error)


def _schema_version(cls: type) -> int | None:
    return next((f.default for f in dataclasses.fields(cls) if f.name == "schema_version"), None)


def _build(cls: type, raw: dict[str, Any], where: str, fix: str, error: type[ZsarError]) -> Any:
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    required = [f.name for f in dataclasses.fields(cls)
                if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    unknown = sorted(set(raw) - set(names))
    missing = [name for name in required if name not in raw]
    if unknown or missing:
        what = f"unknown field {unknown[0]!r}" if unknown else f"field {missing[0]!r} is missing"
        raise error(f"{where} is damaged: {what}; {fix}")
    values = {}
    for name, value in raw.items():
        if not has_type(value, hints[name]):
            raise error(f"{where} is damaged: field {name!r} is {value!r}, not of type {type_name(hints[name])}; "
                        f"{fix}")
        values[name] = _convert(value, hints[name], where, fix, error)
    if "schema_version" in names:
        values["schema_version"] = _schema_version(cls)  # a legacy file reads as this version
    return cls(**values)


def _convert(value: Any, hint: Any, where: str, fix: str, error: type[ZsarError]) -> Any:
    """A JSON value already checked against ``hint`` as the field's Python value (records, tuples)."""
    if value is None:
        return None
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return _build(hint, value, where, fix, error)
    if origin is tuple:
        return tuple(_convert(v, args[0], where, fix, error) for v in value)
    if type(None) in args:
        inner = next(a for a in args if a is not type(None))
        return _convert(value, inner, where, fix, error)
    if hint is float:
        return float(value)
    return value


def has_type(value: Any, hint: Any) -> bool:
    """Whether the JSON value ``value`` fits the field annotation ``hint`` (a record: a JSON object)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if dataclasses.is_dataclass(hint):
        return isinstance(value, dict)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:  # JSON writes 1.0 as 1.0, but a hand-written or older file may say 1
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint in (str, bool):
        return isinstance(value, hint)
    if origin is tuple:
        return isinstance(value, list) and all(has_type(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict) and all(has_type(v, args[1]) for v in value.values())
    if type(None) in args:  # X | None
        return value is None or any(has_type(value, a) for a in args if a is not type(None))
    raise AssertionError(f"record field type {hint} has no JSON check")


def type_name(hint: Any) -> str:
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")
