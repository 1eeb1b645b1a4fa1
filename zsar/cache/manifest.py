"""The Parquet manifest: one row per video (ok or failed), written only after its shard is committed.

Each committed shard gets a manifest *part* ``manifest/part-<rank>-<seq>.parquet`` (written
atomically right after the shard's rename). ``compact_manifest`` folds a rank's parts into
``manifest-<rank>.parquet`` and then deletes them; a reader takes the union of every rank's
compacted file and the parts not yet folded in, so a run killed at any point leaves a
manifest that lists exactly the committed videos, each once.

A row says how to read its array: ``shard`` (file name under ``shards/``) and ``row``;
failed videos have ``shard == ""``, ``row == -1`` and the decoder's message in ``error``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from zsar.cache.layout import CacheLayout

SPLIT_COLUMNS = ("split1", "split2", "split3")
SPLIT_VALUES = ("train", "val", "test", "unused", "")
STATUS_OK, STATUS_FAILED = "ok", "failed"


@dataclass
class ManifestRow:
    """One video of the dataset and where its features are.

    ``split1..3`` hold ``train``/``val``/``test``/``unused`` for each official split of the
    dataset (HMDB51 and UCF101 have three; Kinetics/ActivityNet only ``split1``); ``""``
    where the dataset has no such split. ``start``/``end`` (seconds) bound a trimmed
    segment, NaN for the whole video.
    """

    video_id: str
    path: str
    label: str
    label_index: int
    video_row: int
    split1: str = ""
    split2: str = ""
    split3: str = ""
    start: float = float("nan")
    end: float = float("nan")
    rank: int = 0
    shard: str = ""
    row: int = -1
    shard_sha256: str = ""
    n_frames: int = 0
    fps: float = 0.0
    duration: float = 0.0
    status: str = STATUS_OK
    error: str = ""


# Field annotations are strings under ``from __future__ import annotations``.
_ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}
MANIFEST_SCHEMA = pa.schema([(f.name, _ARROW_TYPES[f.type]) for f in fields(ManifestRow)])


def rows_to_table(rows: Iterable[ManifestRow]) -> pa.Table:
    rows = list(rows)
    columns = {f.name: [getattr(r, f.name) for r in rows] for f in fields(ManifestRow)}
    return pa.Table.from_pydict(columns, schema=MANIFEST_SCHEMA)


def table_to_rows(table: pa.Table) -> list[ManifestRow]:
    return [ManifestRow(**r) for r in table.to_pylist()]


def _write_table(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(table, tmp)
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    os.replace(tmp, path)


def write_manifest_part(layout: CacheLayout, rank: int, seq: int, rows: list[ManifestRow]) -> Path:
    """Record the rows of one committed shard (and the failed videos of its batch)."""
    layout.parts_dir.mkdir(parents=True, exist_ok=True)
    path = layout.part_path(rank, seq)
    _write_table(rows_to_table(rows), path)
    return path


def _rank_of(path: Path) -> int:
    return int(path.stem.split("-")[1])


def _rank_tables(layout: CacheLayout, rank: int | None = None) -> list[pa.Table]:
    """Compacted tables then parts, for one rank or all."""
    pattern = "*" if rank is None else f"{rank:03d}"
    tables = [pq.read_table(p) for p in sorted(layout.root.glob(f"manifest-{pattern}.parquet"))]
    tables += [pq.read_table(p) for p in sorted(layout.parts_dir.glob(f"part-{pattern}-*.parquet"))]
    return [t.cast(MANIFEST_SCHEMA) for t in tables]


def read_manifest(layout: CacheLayout, rank: int | None = None) -> pa.Table:
    """All committed rows (every rank, or one), each video once, sorted by ``video_row``.

    A part that a compaction already folded in (a kill between writing the compacted file
    and deleting the part) appears twice; the duplicate is dropped here.
    """
    tables = _rank_tables(layout, rank)
    if not tables:
        return MANIFEST_SCHEMA.empty_table()
    table = pa.concat_tables(tables)
    rows = table.column("video_row").to_numpy()
    _, first = np.unique(rows, return_index=True)
    return table.take(pa.array(np.sort(first))).sort_by("video_row")


def compact_manifest(layout: CacheLayout, rank: int) -> Path:
    """Fold rank ``rank``'s parts into ``manifest-<rank>.parquet`` and delete the parts."""
    parts = sorted(layout.parts_dir.glob(f"part-{rank:03d}-*.parquet"))
    path = layout.manifest_path(rank)
    if not parts and path.exists():
        return path
    _write_table(read_manifest(layout, rank), path)
    for p in parts:
        p.unlink(missing_ok=True)
    return path


def drop_manifest_rows(layout: CacheLayout, rank: int, video_rows: Iterable[int]) -> int:
    """Remove rank ``rank``'s rows of ``video_rows`` (e.g. a shard found damaged, to re-extract).

    Each file (the compacted manifest, then each part) is rewritten atomically without
    those rows, or deleted if nothing is left; a kill part-way leaves some rows behind,
    which the next call removes. Returns how many rows were removed.
    """
    drop = pa.array(sorted({int(r) for r in video_rows}), type=pa.int64())
    removed = 0
    files = [layout.manifest_path(rank)] + sorted(layout.parts_dir.glob(f"part-{rank:03d}-*.parquet"))
    for path in files:
        if not path.is_file():
            continue
        table = pq.read_table(path).cast(MANIFEST_SCHEMA)
        hit = pc.is_in(table.column("video_row"), value_set=drop)
        n_hit = int(pc.sum(hit).as_py() or 0)
        if n_hit == 0:
            continue
        removed += n_hit
        kept = table.filter(pc.invert(hit))
        if kept.num_rows or path == layout.manifest_path(rank):
            _write_table(kept, path)
        else:
            path.unlink()
    return removed


def manifest_ranks(layout: CacheLayout) -> list[int]:
    """The ranks that have written anything to this cache."""
    files = list(layout.root.glob("manifest-*.parquet")) + list(layout.parts_dir.glob("part-*.parquet"))
    return sorted({_rank_of(p) for p in files})


@dataclass
class ManifestSummary:
    """Counts of a manifest: videos ok and failed, shards referenced."""

    ok: int = 0
    failed: int = 0
    shards: dict[str, str] = field(default_factory=dict)  # name -> sha256

    @classmethod
    def of(cls, table: pa.Table) -> "ManifestSummary":
        status = table.column("status").to_pylist()
        shards: dict[str, Any] = {}
        for name, sha in zip(table.column("shard").to_pylist(), table.column("shard_sha256").to_pylist()):
            if name:
                shards[name] = sha
        return cls(ok=status.count(STATUS_OK), failed=status.count(STATUS_FAILED), shards=shards)
