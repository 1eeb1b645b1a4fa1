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
import logging
import math
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any, Sequence

import torch

from zsar import __version__
from zsar.cache.catalog import is_cache_folder
from zsar.cache.config import CacheConfig, CacheConfigError, read_cache_config, write_cache_config
from zsar.cache.layout import CacheLayout, config_differences
from zsar.errors import ZsarError
from zsar.extract.decode import LEGACY_DECODER, LEGACY_RESIZE
from zsar.extract.sampling import SamplingConfig

log = logging.getLogger(__name__)

# config.json fields a later run must match (not part of the key: they don't change the numbers).
RUN_SETTINGS = ("world_size", "videos_per_shard")
# config.json fields shown when a --cache folder holds a cache with other settings.
COMPARED = ("dataset", "backbone", "weights_id", "sampling", "resolution", "resize", "decoder", "precision",
            "n_videos", "n_classes", "videos_digest") + RUN_SETTINGS


# Caps on the size options of ``zsar extract``: beyond them a run asks for more memory than a
# machine has (``--frames 100000`` decoded 100,000 frames per clip and was OOM-killed).
SIZE_LIMITS = {"--frames": 512, "--clips": 64, "--stride": 64, "--batch-size": 4096, "--videos-per-shard": 65536,
               "--threads": 512, "--workers": 256}


def check_sizes(frames: int, clips: int, stride: int, batch_size: int | None, videos_per_shard: int,
                threads: int | None, workers: int | None) -> None:
    """Refuse a size option outside ``1..SIZE_LIMITS`` (``--workers`` is checked for 0 or more elsewhere), naming the limit.

    Called before anything is written, so a refused command leaves no cache folder behind.
    """
    values = {"--frames": frames, "--clips": clips, "--stride": stride, "--batch-size": batch_size,
              "--videos-per-shard": videos_per_shard, "--threads": threads, "--workers": workers}
    for flag, value in values.items():
        if value is None:
            continue
        if value < 1 and flag != "--workers":
            raise ZsarError(f"{flag} {value}: must be at least 1")
        if value > SIZE_LIMITS[flag]:
            raise ZsarError(f"{flag} {value}: must be at most {SIZE_LIMITS[flag]} (the limit keeps a run within "
                            "the memory of a machine)")


def videos_digest(records: Sequence) -> str:
    """A short hash of the video list (ids, labels, segments) in order: the cache key covers it.

    A name that is not valid UTF-8 (a file named in another encoding) is hashed by its bytes
    (``surrogateescape``), as the file system gives them.
    """
    h = hashlib.sha256()
    for r in records:
        start = "" if math.isnan(r.start) else repr(float(r.start))
        end = "" if math.isnan(r.end) else repr(float(r.end))
        h.update(f"{r.video_id}\t{r.label}\t{start}\t{end}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()[:16]


def key_fields(dataset: str, class_names: list[str], digest: str, backbone: str, weights_id: str,
               sampling: SamplingConfig, resolution: int, precision: str, resize: str = LEGACY_RESIZE,
               decoder: str = LEGACY_DECODER) -> dict[str, Any]:
    """Everything that changes the cached numbers (``cache_key`` adds the format version).

    ``resize`` and ``decoder`` enter the key unless both are what zsar used before they were
    options (the float resize, decord): those settings keep the key of a cache made before,
    so such a cache is extended, never mixed with frames resized or decoded another way.
    """
    fields = {"dataset": dataset, "classes": hashlib.sha256("\n".join(class_names).encode()).hexdigest()[:16],
              "videos": digest, "backbone": backbone, "weights_id": weights_id, "sampling": asdict(sampling),
              "resolution": resolution, "precision": precision}
    if (resize, decoder) != (LEGACY_RESIZE, LEGACY_DECODER):
        fields.update(resize=resize, decoder=decoder)
    return fields


def versions() -> dict[str, str]:
    """Versions of zsar, torch and the decoders installed (a decoder not installed is left out)."""
    found = {"zsar": __version__, "torch": torch.__version__}
    for name, package in (("decord", "decord"), ("av", "av"), ("torchcodec", "torchcodec")):
        try:
            found[name] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def build_config(fields: dict[str, Any], key: str, **extra: Any) -> CacheConfig:
    """The ``config.json`` of a cache: key fields (readable), run settings, provenance (``extra``: other fields)."""
    sampling = SamplingConfig(**fields["sampling"])
    extra = {k: tuple(v) if isinstance(v, list) else v for k, v in extra.items()}
    return CacheConfig(
        key=key, dataset=fields["dataset"], backbone=fields["backbone"], weights_id=fields["weights_id"],
        sampling=sampling.describe(), sampling_fields=dict(fields["sampling"]), resolution=fields["resolution"],
        precision=fields["precision"], videos_digest=fields["videos"], clips=sampling.clips,
        resize=fields.get("resize", LEGACY_RESIZE), decoder=fields.get("decoder", LEGACY_DECODER),
        frames=sampling.frames, versions=versions(), **extra)


def _compared(config: CacheConfig) -> dict[str, Any]:
    return {name: getattr(config, name) for name in COMPARED}


def check_cache_root(cache: Path) -> None:
    """Refuse a cache root that is a file (``--cache`` or ``$ZSAR_CACHE``)."""
    if cache.exists() and not cache.is_dir():
        raise ZsarError(f"cache root {cache} (--cache or $ZSAR_CACHE) is a file, not a folder; "
                        "pass a folder for the cache")


def resolve_layout(cache: Path, dataset: str, backbone: str, sampling: SamplingConfig, key: str,
                   config: CacheConfig) -> CacheLayout:
    """The cache folder to write: ``<cache>/features/...``, or ``cache`` itself if it is this very cache.

    Refuses a ``--cache`` that is a cache made with other settings, and an existing cache
    folder whose run settings (``RUN_SETTINGS``) differ from this run's.
    """
    cache = Path(cache).expanduser().absolute()
    check_cache_root(cache)
    if is_cache_folder(cache):
        existing = existing_config(CacheLayout(cache), key)
        if existing is not None and existing.key != key:
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


def existing_config(layout: CacheLayout, key: str) -> CacheConfig | None:
    """The config of the cache at ``layout``; ``None`` if it has none or a damaged one that this run rewrites.

    A damaged ``config.json`` is rewritten only in a folder named for this run's cache
    ``key`` (``<backbone>-<sampling>-<key>``); elsewhere it is an error.
    """
    if not layout.exists() and not layout.looks_like_cache():
        return None
    try:
        return read_cache_config(layout)
    except CacheConfigError:
        if not layout.root.name.endswith(f"-{key}"):
            raise
        return None


def check_run_settings(layout: CacheLayout, config: CacheConfig) -> None:
    """Refuse to extend ``layout`` if its ``config.json`` has other ``RUN_SETTINGS``."""
    existing = existing_config(layout, config.key)
    if existing is None:
        return
    old = {k: getattr(existing, k) for k in RUN_SETTINGS}
    new = {k: getattr(config, k) for k in RUN_SETTINGS}
    diffs = config_differences(old, new)
    if diffs:
        flags = {"world_size": "--shard i/N (N)", "videos_per_shard": "--videos-per-shard"}
        names = ", ".join(flags[d.split(":")[0]] for d in diffs)
        raise ZsarError(
            f"cache {layout.root} was made with other settings ({'; '.join(diffs)}); "
            f"rerun with the cache's values of {names}, or pass another --cache root for a new cache")


def save_config(layout: CacheLayout, config: CacheConfig) -> None:
    """Write ``config.json`` unless an identical one is there (every rank calls this; a damaged one is rewritten)."""
    if layout.exists() or layout.looks_like_cache():
        try:
            if read_cache_config(layout) == config:
                return
        except CacheConfigError as err:
            log.warning("%s; rewriting it", str(err).split("; ")[0])
    write_cache_config(layout, config)
