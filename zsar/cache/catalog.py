"""Find and describe the feature caches under a cache root (``zsar cache ls`` / ``zsar cache info``).

The cache root is ``--cache``, else ``$ZSAR_CACHE``, else ``~/.cache/zsar``; caches live in
``<root>/features/<dataset>/<backbone>-<sampling>-<key>/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from zsar.cache.layout import CONFIG_NAME, CacheLayout, open_layout, read_cache_config
from zsar.cache.manifest import ManifestSummary, manifest_ranks, read_manifest
from zsar.cache.text import list_text_files

CACHE_ENV = "ZSAR_CACHE"
DEFAULT_CACHE_ROOT = Path("~/.cache/zsar")


def default_cache_root() -> Path:
    """``$ZSAR_CACHE`` if set, else ``~/.cache/zsar`` (expanded)."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_ROOT).expanduser()


@dataclass
class CacheInfo:
    """One cache at a glance: what it was made from and how much it holds."""

    path: Path
    dataset: str
    backbone: str
    sampling: str
    key: str
    ok: int
    failed: int
    n_videos: int
    size_bytes: int
    text_files: list[str] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    shards: int = 0
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def complete(self) -> bool:
        return self.ok + self.failed >= self.n_videos > 0


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def describe_cache(path: Path | str) -> CacheInfo:
    """A ``CacheInfo`` for the cache at ``path`` (counts from the union of every rank's manifest)."""
    layout = open_layout(path)
    config = read_cache_config(layout)
    summary = ManifestSummary.of(read_manifest(layout))
    sampling = config.get("sampling")
    sampling_text = sampling.get("describe", str(sampling)) if isinstance(sampling, dict) else str(sampling)
    return CacheInfo(
        path=layout.root, dataset=str(config.get("dataset", "?")), backbone=str(config.get("backbone", "?")),
        sampling=sampling_text, key=str(config.get("key", "")), ok=summary.ok, failed=summary.failed,
        n_videos=int(config.get("n_videos", 0)), size_bytes=_folder_size(layout.root),
        text_files=[p.stem for p in list_text_files(layout)], ranks=manifest_ranks(layout),
        shards=len(summary.shards), config=config)


def list_caches(root: Path | str | None = None) -> list[CacheInfo]:
    """Every cache under ``root`` (default: ``default_cache_root()``), sorted by path."""
    root = Path(root).expanduser() if root is not None else default_cache_root()
    found = sorted((root / "features").glob(f"*/*/{CONFIG_NAME}")) if root.is_dir() else []
    return [describe_cache(p.parent) for p in found]


def human_size(n_bytes: int) -> str:
    """``1536`` -> ``"1.5 KB"``."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def is_cache_folder(path: Path) -> bool:
    """True if ``path`` is itself a cache (holds ``config.json``), not a cache root."""
    return CacheLayout(Path(path).expanduser()).exists()
