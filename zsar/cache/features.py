"""Reading a whole feature cache into memory for training and metrics.

``load_features(path)`` returns a ``FeatureSet``: the features of every ``ok`` video of
every rank, ordered by ``video_row`` (the dataset's deterministic video order), with
their labels, ids and official split assignments. It reads each shard once, in bulk:
an HMDB51-sized cache (6,766 videos x 8 frames x 512-d, float16) is ~55 MB in memory,
and batches are served from memory with no per-item file access.

A cache whose video list is not fully extracted yet (a rank still running or never run)
loads, and says so in ``FeatureSet.completeness``; ``check_complete`` refuses it unless
the caller allows a partial cache. Damaged files are named with their repair.

Every shard is checked as it is read (``zsar.cache.shards.read_checked``): its arrays
against the digest its manifest rows record, its ``video_row`` against those rows. Videos
that failed to decode, and videos only partly decoded (a ``note`` in their manifest row that
says so: fewer frames than their container claims), are left out; ``FeatureSet.loss_note``
counts them. A video read whole by a fallback decoder (its note says which) is kept.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from zsar.cache.config import CacheConfig, read_cache_config
from zsar.cache.layout import CacheLayout, open_layout
from zsar.cache.manifest import (SPLIT_COLUMNS, STATUS_FAILED, STATUS_OK, Completeness, is_partly_decoded,
                                 read_manifest)
from zsar.cache.shards import ShardReader, read_checked
from zsar.cache.text import TextEmbeddings, find_text_embeddings, read_text_embeddings
from zsar.errors import ZsarError

CHECK_CHUNK = 4096  # videos checked for NaN/inf at a time


@dataclass(kw_only=True)
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
    config: CacheConfig = field(default_factory=CacheConfig)
    cache_dir: Path | None = None
    completeness: Completeness | None = None
    failed: int = 0                                        # videos left out: they failed to decode
    partial: list[str] = field(default_factory=list)       # videos left out: only partly decoded

    def loss_note(self) -> str | None:
        """How many videos of the cache are left out because they failed or only partly decoded, or ``None``."""
        if not self.failed and not self.partial:
            return None
        shown = f" ({', '.join(self.partial[:3])}{' ...' if len(self.partial) > 3 else ''})" if self.partial else ""
        return (f"{self.failed} video(s) of {self.cache_dir} failed to decode and {len(self.partial)} were only "
                f"partly decoded{shown}; all {self.failed + len(self.partial)} are left out (their manifest rows "
                "say why; fix the files and run `zsar extract` with --retry-failed)")

    @property
    def key(self) -> str:
        return self.config.key

    @property
    def split_digest(self) -> str:
        """A short hash of the official split assignments of the videos held: it changes with the split files."""
        h = hashlib.sha256()
        for name in sorted(self.splits):
            h.update(f"{name}\t{'|'.join(map(str, self.splits[name]))}\n".encode())
        return h.hexdigest()[:16]

    @property
    def video_digest(self) -> str:
        """A short hash of the set of videos held (ids and labels): it changes as a partial cache fills."""
        h = hashlib.sha256()
        for video_id, label in zip(self.video_ids, self.labels.tolist()):
            h.update(f"{video_id}\t{label}\n".encode())
        return h.hexdigest()[:16]

    @property
    def dim(self) -> int:
        return int(self.features.shape[-1])

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def subset(self, index: np.ndarray) -> "FeatureSet":
        """The videos at ``index`` (an int array or a boolean mask), same classes."""
        index = np.flatnonzero(index) if np.asarray(index).dtype == bool else np.asarray(index)
        return FeatureSet(features=self.features[index], labels=self.labels[index],
                          video_ids=[self.video_ids[i] for i in index],
                          class_names=self.class_names, splits={k: v[index] for k, v in self.splits.items()},
                          config=self.config, cache_dir=self.cache_dir, completeness=self.completeness,
                          failed=self.failed, partial=self.partial)

    def nonfinite_videos(self) -> list[str]:
        """Ids of videos whose features hold NaN or inf (checked ``CHECK_CHUNK`` videos at a time).

        A test of all features at once held a boolean per value: half the size of the float16
        features again, at the peak of ``zsar train-head`` (``bench/scale.py``).
        """
        flat = self.features.reshape(len(self), -1)
        bad = [start + i for start in range(0, len(self), CHECK_CHUNK)
               for i in np.flatnonzero(~np.isfinite(flat[start:start + CHECK_CHUNK]).all(axis=1))]
        return [self.video_ids[i] for i in bad]

    def check_finite(self) -> None:
        """Raise a ``ZsarError`` naming the videos with NaN/inf features, if any."""
        bad = self.nonfinite_videos()
        if bad:
            shown = ", ".join(bad[:5]) + (f" and {len(bad) - 5} more" if len(bad) > 5 else "")
            raise ZsarError(f"{len(bad)} video(s) in {self.cache_dir} have NaN/inf features ({shown}); "
                            "re-extract them (delete their shard and run `zsar extract` again) or check the backbone")


    def partial_note(self) -> str | None:
        """What is missing from a cache whose video list is not fully extracted, or ``None``."""
        if self.completeness is None or self.completeness.complete:
            return None
        return f"feature cache {self.cache_dir} is incomplete: {self.completeness.describe()}"

    def check_complete(self, allow_partial: bool = False) -> None:
        """Refuse a cache whose video list is not fully extracted, unless ``allow_partial``."""
        note = self.partial_note()
        if note is not None and not allow_partial:
            assert self.completeness is not None
            raise ZsarError(f"{note}; {self.completeness.fix()}, or pass --allow-partial to use the "
                            f"{len(self)} video(s) it has")


def load_features(path: Path | str, check: bool = True) -> FeatureSet:
    """Every fully decoded ``ok`` video of the cache at ``path`` (all ranks), in ``video_row`` order.

    ``check=False`` skips the checks of what is read (``bench/scale.py`` measures their cost).
    """
    layout = open_layout(path)
    config = read_cache_config(layout)
    table = read_manifest(layout)
    status = np.asarray(table.column("status").to_pylist(), dtype=object)
    partial = np.array([is_partly_decoded(s, n) for s, n in zip(status, table.column("note").to_pylist())], dtype=bool)
    ok = table.filter((status == STATUS_OK) & ~partial)
    if ok.num_rows == 0:
        _refuse_empty(layout, table, status)
    features = read_features(layout, ok, check)
    class_names = list(config.class_names or sorted(set(ok.column("label").to_pylist())))
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.array([index[name] for name in ok.column("label").to_pylist()], dtype=np.int64)
    splits = {c: np.asarray(ok.column(c).to_pylist(), dtype=object) for c in SPLIT_COLUMNS}
    completeness = Completeness.of(table, config.n_videos, config.world_size, config.videos_per_shard)
    return FeatureSet(features=features, labels=labels, video_ids=ok.column("video_id").to_pylist(),
                      class_names=class_names, splits=splits,
                      config=config, cache_dir=layout.root, completeness=completeness,
                      failed=int((status == STATUS_FAILED).sum()),
                      partial=table.filter(partial).column("video_id").to_pylist())


def _refuse_empty(layout: CacheLayout, table, status: np.ndarray) -> None:
    """No ``ok`` video: say whether nothing was extracted yet or every video failed to decode."""
    failed = np.flatnonzero(status == STATUS_FAILED)
    if not len(failed) and len(status):
        raise ZsarError(f"all {len(status)} video(s) in {layout.root} were only partly decoded (their manifest rows' "
                        "note says so) and are left out; fix or replace the files under the dataset root and run "
                        "`zsar extract` with the same settings")
    if not len(failed):
        raise ZsarError(f"feature cache {layout.root} has no extracted videos yet; run `zsar extract` first")
    first = table.slice(int(failed[0]), 1).to_pylist()[0]
    raise ZsarError(f"all {len(failed)} video(s) in {layout.root} failed to decode (e.g. {first['video_id']}: "
                    f"{first['error']}); fix or replace the files under the dataset root and run `zsar extract` "
                    "with the same settings and --retry-failed")


def read_features(layout: CacheLayout, ok, check: bool = True) -> np.ndarray:
    """Gather ``features[row]`` ``(N, clips, T', D)`` of each ``ok`` manifest row of the table ``ok``, in its order,
    reading each shard once and checking it against its rows (``zsar predict`` reads the rows of its videos)."""
    shard_names = np.asarray(ok.column("shard").to_pylist(), dtype=object)
    rows = ok.column("row").to_numpy()
    video_rows = ok.column("video_row").to_numpy()
    digests = ok.column("shard_digest").to_pylist()
    shas = ok.column("shard_sha256").to_pylist()
    out: np.ndarray | None = None
    names, first, inverse = np.unique(shard_names, return_index=True, return_inverse=True)
    for k, name in enumerate(names):
        positions = np.flatnonzero(inverse == k)
        path = layout.shard_path(name)
        i = int(first[k])
        if check:
            data = read_checked(path, digests[i], shas[i], rows[positions], video_rows[positions],
                                cache_dir=layout.root)["features"]
        else:  # the reader before the checks, for comparison
            with ShardReader(path) as reader:
                data = reader.read("features", rows[positions])
        if out is None:
            out = np.empty((len(rows),) + data.shape[1:], dtype=data.dtype)
        out[positions] = data
    assert out is not None
    return out


def load_text(path: Path | str, name: str | None = None) -> TextEmbeddings:
    """The cache's label-text embeddings (``name`` picks one when there are several)."""
    return read_text_embeddings(find_text_embeddings(open_layout(path), name))
