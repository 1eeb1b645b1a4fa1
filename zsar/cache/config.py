"""A cache's ``config.json``: one typed record with a schema version, one writer and one reader.

``CacheConfig`` says what a cache was made from (dataset, class list, backbone, sampling,
run settings, provenance). ``zsar extract`` and ``write_cache_from_arrays`` write it with
``write_cache_config``; everything else reads it with ``read_cache_config``, which checks
it fully: valid JSON, an object, this zsar's ``schema_version``, every field present with
its type, no unknown field, the ``checksum`` of its content, and the exact bytes zsar
writes (so any changed byte shows). A damaged or foreign file is one ``CacheConfigError``
that names the file and the repair.

Fields added since the first release (``LEGACY_FIELDS``: ``resize``, ``decoder``) may be
absent from a cache made before them: such a file reads with their legacy values (the
float resize and decord, what zsar did then) and is checked byte for byte as it was
written, so an old cache stays readable and verifiable under its own key.
"""

from __future__ import annotations

import hashlib
import json
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from zsar.cache.layout import CONFIG_NAME, FORMAT_VERSION, CacheLayout
from zsar.cache.records import has_type, type_name
from zsar.errors import ZsarError
from zsar.files import atomic_write_text

SCHEMA_VERSION = 1
REPAIR = "run `zsar extract` with the settings that made the cache to rewrite it"


class CacheConfigError(ZsarError):
    """``config.json`` is missing, damaged or written by another schema version."""


@dataclass(frozen=True, kw_only=True)
class CacheConfig:
    """What a feature cache holds and how it was made (the fields of ``config.json``).

    ``sampling`` is the short description used in folder names (``uniform8x1``,
    ``external``), ``sampling_fields`` the extraction's ``SamplingConfig`` fields
    (empty for features made elsewhere). ``frames`` is T (frames decoded per clip),
    ``frames_out`` T' (stored per clip). ``world_size`` and ``videos_per_shard`` are the
    run settings every rank must share. ``extra`` holds caller-defined provenance. A cache
    without a fixed video list (``zsar.extract.per_file``: dataset ``videos``) has
    ``n_videos`` 0, ``videos_per_shard`` 0 and no ``root``: its rows are added per file.
    """

    key: str = ""
    dataset: str = ""
    backbone: str = ""
    n_videos: int = 0
    class_names: tuple[str, ...] = ()
    class_texts: tuple[str, ...] = ()
    feature_dim: int = 0
    clips: int = 1
    frames: int = 1
    frames_out: int = 1
    sampling: str = ""
    sampling_fields: dict[str, Any] = field(default_factory=dict)
    resolution: int = 0
    precision: str = ""
    weights_id: str = ""
    weights: str | None = None
    backbone_kind: str = ""
    space: str = ""
    videos_digest: str = ""
    root: str | None = None
    splits: str | None = None
    subset: str | None = None
    limit: int | None = None
    world_size: int = 1
    videos_per_shard: int = 0
    versions: dict[str, str] = field(default_factory=dict)
    resize: str = ""
    decoder: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    schema_version: int = SCHEMA_VERSION

    @property
    def n_classes(self) -> int:
        return len(self.class_names)

    def to_json(self) -> dict[str, Any]:
        """The fields as JSON values (tuples become lists)."""
        return json.loads(json.dumps(asdict(self)))


_HINTS = typing.get_type_hints(CacheConfig)
FIELDS = tuple(f.name for f in fields(CacheConfig))
# Fields a config.json written before them lacks, and the value they had then.
LEGACY_FIELDS = {"resize": "float", "decoder": "decord"}


def _digest(content: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def render_cache_config(config: CacheConfig, omit: tuple[str, ...] = ()) -> str:
    """The exact text of ``config.json`` for ``config``: its fields and their ``checksum``.

    ``omit``: legacy fields left out, as a cache made before them wrote it.
    """
    content = {k: v for k, v in config.to_json().items() if k not in omit}
    return json.dumps({**content, "checksum": _digest(content)}, indent=2, sort_keys=True) + "\n"


def write_cache_config(layout: CacheLayout, config: CacheConfig) -> None:
    """Write ``config.json`` atomically."""
    layout.root.mkdir(parents=True, exist_ok=True)
    atomic_write_text(layout.config_path, render_cache_config(config))


def read_cache_config(layout: CacheLayout) -> CacheConfig:
    """The cache's checked ``config.json`` (see the module doc); a ``CacheConfigError`` names what is wrong."""
    path = layout.config_path
    if not path.is_file() and layout.looks_like_cache():
        raise CacheConfigError(f"{path} is missing; {REPAIR}")
    if not path.is_file():
        raise CacheConfigError(f"{layout.root} is not a zsar feature cache (no {CONFIG_NAME}); pass the folder "
                               "that `zsar extract` printed, or list caches with `zsar cache ls`")
    try:
        text = path.read_text()
        raw = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise CacheConfigError(f"{path} is damaged: not valid JSON ({err}); {REPAIR}") from None
    except OSError as err:
        raise CacheConfigError(f"cannot read {path} ({err.strerror}); check its permissions") from None
    return parse_cache_config(raw, text, path)


def parse_cache_config(raw: Any, text: str, path: Path) -> CacheConfig:
    """Check the parsed JSON ``raw`` (read from ``text`` at ``path``) and build the ``CacheConfig``."""
    if not isinstance(raw, dict):
        raise CacheConfigError(f"{path} is damaged: a JSON {type(raw).__name__}, not an object; {REPAIR}")
    version = raw.get("schema_version")
    if version != SCHEMA_VERSION:
        raise CacheConfigError(f"{path} has schema version {version!r}, this zsar reads version {SCHEMA_VERSION}; "
                               "extract the cache again with this zsar (or read it with the zsar that wrote it)")
    content = {k: v for k, v in raw.items() if k != "checksum"}
    omitted = tuple(name for name in LEGACY_FIELDS if name not in content)
    digest = _digest(content)
    content.update({name: LEGACY_FIELDS[name] for name in omitted})
    unknown = sorted(set(content) - set(FIELDS))
    missing = [name for name in FIELDS if name not in content]
    if unknown or missing:
        what = f"unknown field {unknown[0]!r}" if unknown else f"field {missing[0]!r} is missing"
        raise CacheConfigError(f"{path} is damaged: {what}; {REPAIR}")
    for name in FIELDS:
        if not has_type(content[name], _HINTS[name]):
            raise CacheConfigError(f"{path} is damaged: field {name!r} is {content[name]!r}, not of type "
                                   f"{type_name(_HINTS[name])}; {REPAIR}")
    if raw.get("checksum") != digest:
        raise CacheConfigError(f"{path} is damaged: its content does not match its checksum; {REPAIR}")
    config = CacheConfig(**{name: tuple(v) if isinstance(v, list) else v for name, v in content.items()})
    if text != render_cache_config(config, omitted):
        raise CacheConfigError(f"{path} is damaged: it is not byte for byte as zsar wrote it; {REPAIR}")
    return config
