"""Find and describe the feature caches under a cache root (``zsar cache ls`` / ``zsar cache info``).

The cache root is ``--cache``, else ``$ZSAR_CACHE``, else ``~/.cache/zsar``; caches live in
``<root>/features/<dataset>/<backbone>-<sampling>-<key>/``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from zsar.cache.config import CacheConfig, read_cache_config
from zsar.cache.layout import CacheLayout, open_layout
from zsar.cache.manifest import Completeness, ManifestSummary, VideoCounts, manifest_ranks, read_manifest
from zsar.cache.text import list_text_files
from zsar.errors import ZsarError

CACHE_ENV = "ZSAR_CACHE"
DEFAULT_CACHE_ROOT = Path("~/.cache/zsar")


def default_cache_root() -> Path:
    """``$ZSAR_CACHE`` if set, else ``~/.cache/zsar`` (expanded)."""
    return Path(os.environ.get(CACHE_ENV) or DEFAULT_CACHE_ROOT).expanduser()


@dataclass(kw_only=True)
class CacheInfo:
    """One cache at a glance: what it was made from and how much it holds (``videos``: ok, partly decoded, failed)."""

    path: Path
    config: CacheConfig
    videos: VideoCounts
    completeness: Completeness
    size_bytes: int
    text_files: list[str] = field(default_factory=list)
    ranks: list[int] = field(default_factory=list)
    shards: int = 0

    @property
    def complete(self) -> bool:
        return self.completeness.complete


def _folder_size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def describe_cache(path: Path | str) -> CacheInfo:
    """A ``CacheInfo`` for the cache at ``path`` (counts from the union of every rank's manifest)."""
    layout = open_layout(path)
    config = read_cache_config(layout)
    table = read_manifest(layout)
    summary = ManifestSummary.of(table)
    return CacheInfo(
        path=layout.root, config=config, videos=summary.counts,
        completeness=Completeness.of(table, config.n_videos, config.world_size, config.videos_per_shard),
        size_bytes=_folder_size(layout.root), text_files=[p.stem for p in list_text_files(layout)],
        ranks=manifest_ranks(layout), shards=len(summary.shards))


def list_caches(root: Path | str | None = None) -> tuple[list[CacheInfo], list[tuple[Path, str]]]:
    """Every cache under ``root`` (default: ``default_cache_root()``), sorted by path.

    Returns the caches described and, apart, ``(path, error)`` for each cache too damaged
    to describe (``zsar cache verify`` tells what to repair).
    """
    root = Path(root).expanduser() if root is not None else default_cache_root()
    found = sorted(p for p in (root / "features").glob("*/*") if is_cache_folder(p)) if root.is_dir() else []
    caches, damaged = [], []
    for path in found:
        try:
            caches.append(describe_cache(path))
        except ZsarError as err:
            damaged.append((path, str(err)))
    return caches, damaged


def human_size(n_bytes: int) -> str:
    """``1536`` -> ``"1.5 KB"``."""
    size = float(n_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"


def is_cache_folder(path: Path) -> bool:
    """True if ``path`` is itself a cache (holds ``config.json``, or shards and manifests), not a cache root."""
    layout = CacheLayout(Path(path).expanduser())
    return layout.exists() or layout.looks_like_cache()


def format_cache_list(root: Path, caches: list[CacheInfo], damaged: list[tuple[Path, str]]) -> str:
    """The table ``zsar cache ls`` prints: one line per cache, then the damaged folders and a count."""
    if not caches and not damaged:
        return f"no feature caches under {root}"
    lines = [f"{'dataset':<14} {'backbone':<18} {'sampling':<12} {'ok':>7} {'partial':>7} {'failed':>6} {'size':>9} "
             f"{'texts':>5}  path"]
    for c in caches:
        lines.append(f"{c.config.dataset:<14} {c.config.backbone:<18} {c.config.sampling:<12} {c.videos.ok:>7} "
                     f"{c.videos.partial:>7} {c.videos.failed:>6} {human_size(c.size_bytes):>9} "
                     f"{len(c.text_files):>5}  {c.path}")
    lines += [f"damaged: {path}: {error}" for path, error in damaged]
    lines.append(f"{len(caches)} cache(s) under {root}"
                 + (f", {len(damaged)} damaged (`zsar cache verify PATH` lists what to repair)" if damaged else ""))
    return "\n".join(lines)


def format_cache_info(info: CacheInfo) -> str:
    """What ``zsar cache info`` prints: what the cache was made from and what it holds, one line per topic."""
    c, done = info.config, info.completeness
    lines = {
        "path": info.path, "dataset": f"{c.dataset} ({c.n_classes} classes, root {c.root or '-'})",
        "backbone": f"{c.backbone} ({c.weights_id or '-'}), D={c.feature_dim}",
        "sampling": f"{c.sampling}, {c.resolution or '-'} px, {c.precision or '-'}",
        "key": c.key, "videos": f"{info.videos.describe()}, " + (
            f"{c.n_videos} in the list" if c.n_videos else "no fixed list (rows added per file)")
                                + ("" if done.complete else f" (incomplete: {done.describe()}; {done.fix()})"),
        "shards": f"{info.shards} from rank(s) {', '.join(map(str, info.ranks)) or '-'} (world size {c.world_size}, "
                  f"{c.videos_per_shard or '-'} videos per shard)",
        "text": ", ".join(info.text_files) or "-", "size": human_size(info.size_bytes),
        "versions": ", ".join(f"{k} {v}" for k, v in c.versions.items()),
    }
    return "\n".join(f"{name + ':':<10} {value}" for name, value in lines.items())

