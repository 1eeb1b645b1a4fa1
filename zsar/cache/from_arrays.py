"""Write a feature cache from in-memory arrays.

For features computed elsewhere (another extractor, a paper's released features), for
benchmarks, and for tests: the result is an ordinary cache that ``load_features``,
``zsar train-head`` and ``zsar metrics`` read like one made by ``zsar extract``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

from zsar import __version__
from zsar.cache.config import FIELDS, CacheConfig, write_cache_config
from zsar.cache.layout import CacheLayout, cache_key
from zsar.cache.manifest import ManifestRow, compact_manifest, write_manifest_part
from zsar.cache.shards import ShardWriter
from zsar.cache.text import TextEmbeddings, write_text_embeddings

DEFAULT_SHARD_SIZE = 4096


def write_cache_from_arrays(
    folder: Path,
    features: np.ndarray,
    labels: np.ndarray,
    class_names: list[str],
    *,
    dataset: str = "arrays",
    backbone: str = "external",
    splits: dict[str, list[str]] | None = None,
    video_ids: list[str] | None = None,
    text: TextEmbeddings | None = None,
    shard_size: int = DEFAULT_SHARD_SIZE,
    extra_config: dict[str, Any] | None = None,
) -> CacheLayout:
    """Write ``features`` ``(N, clips, T', D)`` with ``labels`` ``(N,)`` into a cache at ``folder``.

    ``splits`` maps ``split1..3`` to per-video ``train``/``test``/... strings; ``text``
    (optional) is stored under ``text/``. Returns the cache's layout.
    """
    features = np.asarray(features)
    n = features.shape[0]
    if features.ndim != 4:
        raise ValueError(f"features must be (N, clips, T', D), got shape {features.shape}")
    video_ids = video_ids or [f"video_{i:06d}" for i in range(n)]
    fields = {"dataset": dataset, "backbone": backbone, "n_videos": n, "shape": list(features.shape[1:]),
              **(extra_config or {})}
    key = cache_key({**fields, "checksum": _content_digest(features, labels)})
    layout = CacheLayout(Path(folder))
    layout.make_dirs()
    write_cache_config(layout, _config(fields, key, features.shape, class_names, extra_config or {}))
    clips, frames = features.shape[1], features.shape[2]
    frame_index = np.tile(np.arange(frames), (clips, 1))
    for seq, start in enumerate(range(0, n, shard_size)):
        stop = min(n, start + shard_size)
        path = layout.shard_path(layout.shard_name(0, seq))
        rows = []
        with ShardWriter(path, {"cache_key": key, "rank": 0, "seq": seq}) as writer:
            for i in range(start, stop):
                row = writer.add(i, features[i], frame_index, frame_index.astype(np.float32))
                split_values = {k: v[i] for k, v in (splits or {}).items()}
                rows.append(ManifestRow(video_id=video_ids[i], path=f"{video_ids[i]}",
                                        label=class_names[int(labels[i])],
                                        label_index=int(labels[i]), video_row=i, row=row, shard=path.name,
                                        **split_values))
            info = writer.commit()
        for r in rows:
            r.shard_sha256, r.shard_digest = info.sha256, info.digest
        write_manifest_part(layout, 0, seq, rows)
    compact_manifest(layout, 0)
    if text is not None:
        text.key = text.key or cache_key({"text": text.encoder, "prompts": text.prompts})
        write_text_embeddings(layout, text)
    return layout


def _config(fields: dict[str, Any], key: str, shape: tuple[int, ...], class_names: list[str],
            extra: dict[str, Any]) -> CacheConfig:
    """The cache's ``CacheConfig``; ``extra`` keys that name a field (e.g. ``space``) set it, the rest go to ``extra``."""
    known = {k: v for k, v in extra.items() if k in FIELDS}
    return CacheConfig(
        key=key, dataset=fields["dataset"], backbone=fields["backbone"], n_videos=fields["n_videos"],
        class_names=tuple(class_names), class_texts=tuple(class_names), feature_dim=int(shape[-1]),
        clips=int(shape[1]), frames=int(shape[2]), frames_out=int(shape[2]), sampling="external",
        versions={"zsar": __version__}, extra={k: v for k, v in extra.items() if k not in FIELDS}, **known)


def _content_digest(features: np.ndarray, labels: np.ndarray) -> str:
    sample = np.ascontiguousarray(features.reshape(features.shape[0], -1)[:, :64])
    return hashlib.sha256(sample.tobytes() + np.asarray(labels).tobytes()).hexdigest()
