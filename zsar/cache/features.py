"""Reading a whole feature cache into memory for training and metrics.

``load_features(path)`` returns a ``FeatureSet``: the features of every ``ok`` video of
every rank, ordered by ``video_row`` (the dataset's deterministic video order), with
their labels, ids and official split assignments. It reads each shard once, in bulk:
an HMDB51-sized cache (6,766 videos x 8 frames x 512-d, float16) is ~55 MB in memory,
and batches are served from memory with no per-item file access.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zsar.cache.layout import CacheLayout, open_layout, read_cache_config
from zsar.cache.manifest import SPLIT_COLUMNS, STATUS_OK, read_manifest
from zsar.cache.shards import ShardReader
from zsar.cache.text import TextEmbeddings, find_text_embeddings, read_text_embeddings
from zsar.errors import ZsarError


@dataclass
class FeatureSet:
    """Cached features of one dataset, in memory.

    ``features`` ``(N, clips, T', D)`` (float16 as stored); ``labels`` ``(N,)`` indices into
    ``class_names`` (the dataset's class order); ``splits`` maps ``split1..3`` to ``(N,)``
    string arrays of ``train``/``val``/``test``/``unused``/``""``.
    """

    features: np.ndarray
    labels: np.ndarray
    video_ids: list[str]
    class_names: list[str]
    splits: dict[str, np.ndarray] = field(default_factory=dict)
    config: dict[str, Any] = field(default_factory=dict)
    cache_dir: Path | None = None

    @property
    def key(self) -> str:
        return str(self.config.get("key", ""))

    @property
    def dim(self) -> int:
        return int(self.features.shape[-1])

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def subset(self, index: np.ndarray) -> "FeatureSet":
        """The videos at ``index`` (an int array or a boolean mask), same classes."""
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index)
        return FeatureSet(self.features[index], self.labels[index], [self.video_ids[i] for i in index],
                          self.class_names, {k: v[index] for k, v in self.splits.items()},
                          self.config, self.cache_dir)

    def nonfinite_videos(self) -> list[str]:
        """Ids of videos whose features hold NaN or inf."""
        bad = ~np.isfinite(self.features.reshape(len(self), -1)).all(axis=1)
        return [self.video_ids[i] for i in np.flatnonzero(bad)]

    def check_finite(self) -> None:
        """Raise a ``ZsarError`` naming the videos with NaN/inf features, if any."""
        bad = self.nonfinite_videos()
        if bad:
            shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise ZsarError(f"{len(bad)} video(s) in {self.cache_dir} have NaN/inf features ({shown}); "
                            "re-extract them (delete their shard and run `zsar extract` again) or check the backbone")


def load_features(path: Path | str) -> FeatureSet:
    """Every ``ok`` video of the cache at ``path`` (all ranks), in ``video_row`` order."""
    layout = open_layout(path)
    config = read_cache_config(layout)
    table = read_manifest(layout)
    ok = table.filter(np.asarray(table.column("status").to_pylist()) == STATUS_OK)
    if ok.num_rows == 0:
        raise ZsarError(f"feature cache {layout.root} has no extracted videos yet; run `zsar extract` first")
    shard_names = ok.column("shard").to_pylist()
    rows = ok.column("row").to_numpy()
    features = _read_features(layout, shard_names, rows)
    class_names = list(config.get("class_names") or sorted(set(ok.column("label").to_pylist())))
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[name] for name in ok.column("label").to_pylist()], dtype=np.int64)
    splits = {c: np.asarray(ok.column(c).to_pylist(), dtype=object) for c in SPLIT_COLUMNS}
    return FeatureSet(features, labels, ok.column("video_id").to_pylist(), class_names, splits,
                      config, layout.root)


def _read_features(layout: CacheLayout, shard_names: list[str], rows: np.ndarray) -> np.ndarray:
    """Gather ``features[row]`` of each (shard, row) pair, reading each shard once."""
    out: np.ndarray | None = None
    by_shard: dict[str, list[int]] = {}
    for i, name in enumerate(shard_names):
        by_shard.setdefault(name, []).append(i)
    for name, positions in by_shard.items():
        path = layout.shard_path(name)
        if not path.is_file():
            raise ZsarError(f"shard {name} of {layout.root} is missing; run `zsar cache verify` "
                            "and `zsar extract` again with the same settings to repair it")
        with ShardReader(path) as reader:
            data = reader.read("features", rows[positions])
        if out is None:
            out = np.empty((len(shard_names),) + data.shape[1:], dtype=data.dtype)
        out[positions] = data
    assert out is not None
    return out


def load_text(path: Path | str, name: str | None = None) -> TextEmbeddings:
    """The cache's label-text embeddings (``name`` picks one when there are several)."""
    return read_text_embeddings(find_text_embeddings(open_layout(path), name))
