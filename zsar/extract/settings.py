"""The cache an extraction writes into: its key, its ``config.json``, and refusing mismatched settings.

Two kinds of settings matter:

- those that change the numbers (dataset and its video list, class list, backbone and its
  weights, sampling, resolution, precision, format version) form the cache key, so
  different values land in a different folder;
- those that change how the work is cut (world size, videos per shard) are stored in
  ``config.json``; a run whose values differ from an existing cache's is refused, naming
  each difference, because mixing them would duplicate or skip videos (chunks map to ranks
  differently).

Label text is neither: a run with another text encoder, model or prompt set adds its file
under ``text/`` beside the ones already there and reuses every committed shard.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import asdict
from pathlib import Path
from typing import Any, Sequence

import decord
import torch

from zsar import __version__
from zsar.cache.catalog import is_cache_folder
from zsar.cache.layout import (FORMAT_VERSION, CacheLayout, cache_key, config_differences, read_cache_config,
                               write_cache_config)
from zsar.errors import ZsarError
from zsar.extract.sampling import SamplingConfig

# config.json fields a later run must match (not part of the key: they don't change the numbers).
RUN_SETTINGS = ("world_size", "videos_per_shard")
# config.json fields shown when a --cache folder holds a cache with other settings.
COMPARED = ("dataset", "backbone", "weights_id", "sampling", "resolution", "precision", "n_videos",
            "n_classes", "videos_digest") + RUN_SETTINGS


def videos_digest(records: Sequence) -> str:
    """A short hash of the video list (ids, labels, segments) in order: the cache key covers it."""
    h = hashlib.sha256()
    for r in records:
        start = "" if math.isnan(r.start) else repr(float(r.start))
        end = "" if math.isnan(r.end) else repr(float(r.end))
        h.update(f"{r.video_id}\t{r.label}\t{start}\t{end}\n".encode())
    return h.hexdigest()[:16]


def key_fields(dataset: str, class_names: list[str], digest: str, backbone: str, weights_id: str,
               sampling: SamplingConfig, resolution: int, precision: str) -> dict[str, Any]:
    """Everything that changes the cached numbers (``cache_key`` adds the format version)."""
    return {"dataset": dataset, "classes": hashlib.sha256("\n".join(class_names).encode()).hexdigest()[:16],
            "videos": digest, "backbone": backbone, "weights_id": weights_id, "sampling": asdict(sampling),
            "resolution": resolution, "precision": precision}


def versions() -> dict[str, str]:
    return {"zsar": __version__, "torch": torch.__version__, "decord": decord.__version__}


def build_config(fields: dict[str, Any], key: str, **extra: Any) -> dict[str, Any]:
    """The ``config.json`` of a cache: key fields (readable), run settings, provenance."""
    sampling = SamplingConfig(**fields["sampling"])
    return {
        "key": key, "format_version": FORMAT_VERSION, "dataset": fields["dataset"],
        "backbone": fields["backbone"], "weights_id": fields["weights_id"],
        "sampling": {**fields["sampling"], "describe": sampling.describe()},
        "resolution": fields["resolution"], "precision": fields["precision"],
        "videos_digest": fields["videos"], "clips": sampling.clips, "frames": sampling.frames,
        "versions": versions(), **extra,
    }


def _compared(config: dict[str, Any]) -> dict[str, Any]:
    view = {name: config.get(name) for name in COMPARED}
    view["n_classes"] = len(config.get("class_names") or [])
    if isinstance(view["sampling"], dict):
        view["sampling"] = view["sampling"].get("describe", view["sampling"])
    return view


def resolve_layout(cache: Path, dataset: str, backbone: str, sampling: SamplingConfig, key: str,
                   config: dict[str, Any]) -> CacheLayout:
    """The cache folder to write: ``<cache>/features/...``, or ``cache`` itself if it is this very cache.

    Refuses a ``--cache`` that is a cache made with other settings, and an existing cache
    folder whose run settings (``RUN_SETTINGS``) differ from this run's.
    """
    cache = Path(cache).expanduser().absolute()
    if is_cache_folder(cache):
        existing = read_cache_config(CacheLayout(cache))
        if existing.get("key") != key:
            diffs = config_differences(_compared(existing), _compared(config)) or ["(cache key)"]
            raise ZsarError(
                f"--cache {cache} is a feature cache made with other settings ({'; '.join(diffs)}); "
                "pass the cache root (the folder holding features/, e.g. ~/.cache/zsar) to make a new cache, "
                "or the settings this one was made with")
        layout = CacheLayout(cache)
    else:
        layout = CacheLayout.for_key(cache, dataset, backbone, sampling.describe(), key)
    check_run_settings(layout, config)
    return layout


def check_run_settings(layout: CacheLayout, config: dict[str, Any]) -> None:
    """Refuse to extend ``layout`` if its ``config.json`` has other ``RUN_SETTINGS``."""
    if not layout.exists():
        return
    existing = read_cache_config(layout)
    old = {k: existing.get(k) for k in RUN_SETTINGS}
    new = {k: config.get(k) for k in RUN_SETTINGS}
    diffs = config_differences(old, new)
    if diffs:
        flags = {"world_size": "--shard i/N (N)", "videos_per_shard": "--videos-per-shard"}
        names = ", ".join(flags[d.split(":")[0]] for d in diffs)
        raise ZsarError(
            f"cache {layout.root} was made with other settings ({'; '.join(diffs)}); "
            f"rerun with the cache's values of {names}, or pass another --cache root for a new cache")


def save_config(layout: CacheLayout, config: dict[str, Any]) -> None:
    """Write ``config.json`` unless an identical one is there (every rank calls this)."""
    if layout.exists() and read_cache_config(layout) == json.loads(json.dumps(config, default=str)):
        return
    write_cache_config(layout, config)
