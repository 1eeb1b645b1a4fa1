"""Where things live in a feature cache and how a cache is keyed (``config.json``: ``zsar.cache.config``).

A cache is one folder per cache key::

    <root>/features/<dataset>/<backbone>-<sampling>-<key>/
        config.json                          the extraction config, versions, class list (typed, checksummed)
        shards/shard-<rank>-<seq>.h5         committed feature shards (HDF5; SHA-256 in the manifest)
        manifest-<rank>.parquet[.sha256]     one row per video of that rank (compacted), its checksum
        manifest/part-<rank>-<seq>.parquet[.sha256]  rows of shards committed since the last compaction
        text/<encoder>-<prompts>-<key>.h5[.sha256]   label-text embeddings, their checksum
        locks/rank-<rank>.lock               held by the one writer of a rank (holds no data)

``key`` is a short hash of everything that changes the numbers (see ``cache_key``).
Nothing in the format is pickled: arrays are HDF5, tables Parquet, config JSON.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zsar.errors import ZsarError
from zsar.files import write_error

FORMAT_VERSION = 1
CONFIG_NAME = "config.json"
KEY_LENGTH = 12


def cache_key(fields: dict[str, Any]) -> str:
    """A short stable hash of ``fields`` (JSON-serialisable; key order does not matter)."""
    blob = json.dumps({"format_version": FORMAT_VERSION, **fields}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:KEY_LENGTH]


@dataclass(frozen=True)
class CacheLayout:
    """Paths inside one cache folder."""

    root: Path

    @classmethod
    def for_key(cls, cache_root: Path, dataset: str, backbone: str, sampling: str, key: str) -> "CacheLayout":
        return cls(Path(cache_root) / "features" / dataset / f"{backbone}-{sampling}-{key}")

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def shards_dir(self) -> Path:
        return self.root / "shards"

    @property
    def parts_dir(self) -> Path:
        return self.root / "manifest"

    @property
    def text_dir(self) -> Path:
        return self.root / "text"

    @property
    def locks_dir(self) -> Path:
        return self.root / "locks"

    def shard_name(self, rank: int, seq: int) -> str:
        return f"shard-{rank:03d}-{seq:06d}.h5"

    def shard_path(self, name: str) -> Path:
        return self.shards_dir / name

    def manifest_path(self, rank: int) -> Path:
        return self.root / f"manifest-{rank:03d}.parquet"

    def part_path(self, rank: int, seq: int) -> Path:
        return self.parts_dir / f"part-{rank:03d}-{seq:06d}.parquet"

    def lock_path(self, rank: int) -> Path:
        return self.locks_dir / f"rank-{rank:03d}.lock"

    def text_path(self, name: str) -> Path:
        return self.text_dir / f"{name}.h5"

    def make_dirs(self) -> None:
        for d in (self.root, self.shards_dir, self.parts_dir, self.text_dir, self.locks_dir):
            try:
                d.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise write_error(d, err, "choose a writable cache root (--cache or $ZSAR_CACHE)") from None

    def exists(self) -> bool:
        return self.config_path.is_file()

    def looks_like_cache(self) -> bool:
        """True if the folder holds cache files (shards, manifests), even with its ``config.json`` gone."""
        return any(self.root.glob("manifest-*.parquet*")) or any(self.parts_dir.glob("part-*.parquet*")) \
            or any(self.shards_dir.glob("shard-*.h5"))


def open_layout(path: Path | str) -> CacheLayout:
    """The layout of an existing cache folder, with a clear error if ``path`` is not one."""
    path = Path(path).expanduser()
    if not path.exists():
        raise ZsarError(f"feature cache {path} does not exist; pass the folder that `zsar extract` printed")
    layout = CacheLayout(path)
    if not layout.exists() and not layout.looks_like_cache():
        raise ZsarError(f"{path} is not a zsar feature cache (no {CONFIG_NAME}); pass the folder "
                        "that `zsar extract` printed, or list caches with `zsar cache ls`")
    return layout


def config_differences(old: dict[str, Any], new: dict[str, Any], ignore: tuple[str, ...] = ()) -> list[str]:
    """Human-readable ``"name: old -> new"`` for each setting that differs between two configs."""
    diffs = []
    for name in sorted(set(old) | set(new)):
        if name in ignore or old.get(name) == new.get(name):
            continue
        diffs.append(f"{name}: {old.get(name)!r} -> {new.get(name)!r}")
    return diffs
