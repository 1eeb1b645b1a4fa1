"""HDF5 feature shards: a writer that commits atomically and a lazy reader.

A shard holds, for N videos::

    features      (N, clips, T', D)  float16   backbone output per clip
    frame_index   (N, clips, T)      int64     decoded frame numbers per clip
    timestamps    (N, clips, T)      float32   seconds of those frames
    video_row     (N,)               int64     the video's position in the dataset's list

and attrs ``cache_key``, ``rank``, ``seq``, ``format_version``. A shard is written under a
temporary name, flushed to disk, then renamed, so a shard file that exists is complete;
its SHA-256 and the content digest of its arrays (``array_digest``) go into the manifest
rows of its videos.

Readers check what they read (``read_checked``): the arrays against the manifest's digest
(any changed byte of the values, a shard from elsewhere, an older copy) and the shard's
``video_row`` against the manifest rows that point into it (a shard renamed or swapped).
The digest is a SHA-256 of each array's per-row 64-bit word sums: computing it costs about
as much as copying the array once, where hashing the whole file (the SHA-256 ``zsar cache
verify`` checks) costs four to six reads (``bench/scale.py``, ``docs/integrity.md``). A
row-sum misses a change that keeps every row's sum, such as two words of one row swapped;
a flipped bit, a zeroed or garbage block, a truncation each change it. Shards recorded
without a digest (a cache from before it existed) are checked by the file's SHA-256 as
they are read, until ``zsar extract`` records their digests.
"""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from zsar.cache.layout import FORMAT_VERSION
from zsar.errors import ZsarError
from zsar.files import atomic_write, file_sha256

FEATURE_DTYPE = np.float16
ARRAYS = ("features", "frame_index", "timestamps", "video_row")
REPAIR = "run `zsar cache verify` and `zsar extract` again with the same settings to repair it"


@dataclass(frozen=True)
class ShardInfo:
    """A committed shard: its file name, how many videos it holds, its checksum and its arrays' digest."""

    name: str
    n_rows: int
    sha256: str
    digest: str = ""


class ShardDamaged(ZsarError):
    """A shard does not hold what its manifest rows say: one line naming the file and the repair."""


def _row_sums(array: np.ndarray) -> np.ndarray:
    """Per row (first axis), the sum of its bytes as 64-bit words, wrapping (8-bit units if a row is not whole words)."""
    flat = np.ascontiguousarray(array).reshape(len(array), -1).view(np.uint8)
    if flat.shape[1] % 8 == 0:
        return flat.view(np.uint64).sum(axis=1, dtype=np.uint64)
    return flat.sum(axis=1, dtype=np.uint64)


def array_digest(arrays: dict[str, np.ndarray]) -> str:
    """The digest of a shard's arrays: SHA-256 over each array's name, dtype, shape and row sums (module doc)."""
    h = hashlib.sha256()
    for name in sorted(arrays):
        array = arrays[name]
        h.update(f"{name}\t{array.dtype.str}\t{array.shape}\n".encode())
        h.update(_row_sums(array).tobytes())
    return h.hexdigest()[:32]


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
        arrays = {"features": np.stack(self._features), "frame_index": np.stack(self._frame_index),
                  "timestamps": np.stack(self._timestamps), "video_row": np.asarray(self._video_row, dtype=np.int64)}
        fix = "free some space or make the cache writable, then run `zsar extract` again to resume"
        with atomic_write(self.path, fix) as tmp:  # a full disk, a read-only folder: the shard is not committed
            self._write(tmp, arrays)
            sha = file_sha256(tmp)
        self.committed = ShardInfo(self.path.name, len(self._video_row), sha, array_digest(arrays))
        return self.committed

    def _write(self, tmp: Path, arrays: dict[str, np.ndarray]) -> None:
        with h5py.File(tmp, "w") as f:
            for name in ARRAYS:
                f.create_dataset(name, data=arrays[name])
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


def shard_digest(path: Path) -> str:
    """``array_digest`` of the shard at ``path`` as it is now (recorded for shards committed before digests)."""
    with h5py.File(path, "r") as f:
        return array_digest({name: f[name][()] for name in ARRAYS})


def read_checked(path: Path, digest: str, sha256: str, rows: np.ndarray, video_rows: np.ndarray,
                 names: tuple[str, ...] = ("features",), cache_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Arrays ``names`` at ``rows`` of the shard at ``path``, checked against what its manifest rows record.

    ``digest``/``sha256``: the manifest's ``shard_digest``/``shard_sha256`` (an empty digest:
    the file's SHA-256 is checked as it is read); ``video_rows``: the manifest's ``video_row``
    of each of ``rows``. Anything else is a ``ShardDamaged`` naming the file and the repair.
    """
    what = f"shard {path.name} of {cache_dir or path.parent.parent}"
    if not path.is_file():
        raise ShardDamaged(f"{what} is missing; {REPAIR}")
    try:
        source: Any = path
        if not digest:
            data = path.read_bytes()
            if hashlib.sha256(data).hexdigest() != sha256:
                raise ShardDamaged(f"{what} fails its checksum (it differs from the shard that was committed); {REPAIR}")
            source = io.BytesIO(data)
        with h5py.File(source, "r") as f:
            arrays = {name: f[name][()] for name in (ARRAYS if digest else set(names) | {"video_row"})}
    except (OSError, KeyError, ValueError) as err:
        raise ShardDamaged(f"{what} is damaged ({' '.join(str(err).split())[:200]}); {REPAIR}") from None
    if digest and array_digest(arrays) != digest:
        raise ShardDamaged(f"{what} fails its content check (its arrays differ from those recorded when it was "
                           f"committed: damaged, or another shard put in its place); {REPAIR}")
    stored = arrays["video_row"]
    rows = np.asarray(rows, dtype=np.int64)
    if len(rows) and (rows.max() >= len(stored) or not np.array_equal(stored[rows], video_rows)):
        raise ShardDamaged(f"{what} holds other videos than the manifest rows that point to it (shards renamed "
                           f"or swapped); {REPAIR}")
    if np.array_equal(rows, np.arange(len(stored))):
        return {name: arrays[name] for name in names}
    return {name: arrays[name][rows] for name in names}
