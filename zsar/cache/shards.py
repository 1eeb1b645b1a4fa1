"""HDF5 feature shards: a writer that commits atomically and a lazy reader.

A shard holds, for N videos::

    features      (N, clips, T', D)  float16   backbone output per clip
    frame_index   (N, clips, T)      int64     decoded frame numbers per clip
    timestamps    (N, clips, T)      float32   seconds of those frames
    video_row     (N,)               int64     the video's position in the dataset's list

and attrs ``cache_key``, ``rank``, ``seq``, ``format_version``. A shard is written under a
temporary name, flushed to disk, then renamed, so a shard file that exists is complete;
its SHA-256 goes into the manifest rows of its videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from zsar.cache.layout import FORMAT_VERSION
from zsar.digests import file_sha256
from zsar.files import atomic_write

FEATURE_DTYPE = np.float16


@dataclass(frozen=True)
class ShardInfo:
    """A committed shard: its file name, how many videos it holds, and its checksum."""

    name: str
    n_rows: int
    sha256: str


class ShardWriter:
    """Collect per-video arrays, then ``commit()`` them as one shard file.

    Use as a context manager: leaving the block by an exception discards the shard
    (nothing half-written stays behind); leaving it normally without ``commit()`` too.
    """

    def __init__(self, path: Path, attrs: dict[str, Any] | None = None) -> None:
        self.path = Path(path)
        self.attrs = dict(attrs or {})
        self._features: list[np.ndarray] = []
        self._frame_index: list[np.ndarray] = []
        self._timestamps: list[np.ndarray] = []
        self._video_row: list[int] = []
        self.committed: ShardInfo | None = None

    def __len__(self) -> int:
        return len(self._video_row)

    def add(self, video_row: int, features: np.ndarray, frame_index: np.ndarray,
            timestamps: np.ndarray) -> int:
        """Add one video: features ``(clips, T', D)``, frame_index/timestamps ``(clips, T)``.

        Returns the row the video will have in the shard.
        """
        if self._features and features.shape != self._features[0].shape:
            raise ValueError(f"features of video row {video_row} have shape {features.shape}, "
                             f"the shard holds {self._features[0].shape}")
        self._features.append(np.asarray(features, dtype=FEATURE_DTYPE))
        self._frame_index.append(np.asarray(frame_index, dtype=np.int64))
        self._timestamps.append(np.asarray(timestamps, dtype=np.float32))
        self._video_row.append(int(video_row))
        return len(self._video_row) - 1

    def commit(self) -> ShardInfo:
        """Write the shard under a temporary name, fsync, rename; return its info."""
        assert self._video_row, "commit() of an empty shard"
        fix = "free some space or make the cache writable, then run `zsar extract` again to resume"
        with atomic_write(self.path, fix) as tmp:  # a full disk, a read-only folder: the shard is not committed
            self._write(tmp)
            sha = file_sha256(tmp)
        self.committed = ShardInfo(self.path.name, len(self._video_row), sha)
        return self.committed

    def _write(self, tmp: Path) -> None:
        with h5py.File(tmp, "w") as f:
            f.create_dataset("features", data=np.stack(self._features))
            f.create_dataset("frame_index", data=np.stack(self._frame_index))
            f.create_dataset("timestamps", data=np.stack(self._timestamps))
            f.create_dataset("video_row", data=np.asarray(self._video_row, dtype=np.int64))
            f.attrs["format_version"] = FORMAT_VERSION
            for k, v in self.attrs.items():
                f.attrs[k] = v

    def __enter__(self) -> "ShardWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        for tmp in self.path.parent.glob(f".{self.path.name}.*.tmp"):
            tmp.unlink(missing_ok=True)


class ShardReader:
    """Read arrays from one shard; the HDF5 handle opens on first use and closes on ``close()``."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._file: h5py.File | None = None

    @property
    def file(self) -> h5py.File:
        if self._file is None:
            self._file = h5py.File(self.path, "r")
        return self._file

    def read(self, name: str, rows: np.ndarray | None = None) -> np.ndarray:
        """Dataset ``name`` (all rows, or ``rows`` in the order given)."""
        data = self.file[name]
        if rows is None:
            return data[()]
        rows = np.asarray(rows, dtype=np.int64)
        order = np.argsort(rows)
        out = data[rows[order]] if len(rows) else data[:0]
        result = np.empty_like(out)
        result[order] = out
        return result

    def __len__(self) -> int:
        return int(self.file["video_row"].shape[0])

    @property
    def attrs(self) -> dict[str, Any]:
        return dict(self.file.attrs)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def __enter__(self) -> "ShardReader":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
