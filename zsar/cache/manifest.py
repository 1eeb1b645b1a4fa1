"""The Parquet manifest: one row per video (ok or failed), written only after its shard is committed.

Each committed shard gets a manifest *part* ``manifest/part-<rank>-<seq>.parquet`` (written
atomically right after the shard's rename). ``compact_manifest`` folds a rank's parts into
``manifest-<rank>.parquet`` and then deletes them; a reader takes the union of every rank's
compacted file and the parts not yet folded in, so a run killed at any point leaves a
manifest that lists exactly the committed videos, each once.

Every manifest file has a checksum file beside it (``zsar.cache.checksums``); a reader that
finds one damaged or unreadable raises a ``ManifestError`` naming it, and ``zsar extract``
of that rank drops it (``drop_damaged_manifest_files``) and extracts its videos again.

A row says how to read its array: ``shard`` (file name under ``shards/``) and ``row``;
failed videos have ``shard == ""``, ``row == -1`` and the decoder's message in ``error``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Iterable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from zsar.cache.checksums import commit_with_checksum, file_problem, orphan_checksums, remove_with_checksum
from zsar.cache.layout import CacheLayout
from zsar.errors import ZsarError
from zsar.files import atomic_write

SPLIT_COLUMNS = ("split1", "split2", "split3")
SPLIT_VALUES = ("train", "val", "test", "unused", "")
STATUS_OK, STATUS_FAILED = "ok", "failed"


@dataclass(kw_only=True)
class ManifestRow:
    """One video of the dataset and where its features are.

    ``split1..3`` hold ``train``/``val``/``test``/``unused`` for each official split of the
    dataset (HMDB51 and UCF101 have three; Kinetics/ActivityNet only ``split1``); ``""``
    where the dataset has no such split. ``start``/``end`` (seconds) bound a trimmed
    segment, NaN for the whole video.

    ``fingerprint`` names the video file's content (``zsar.cache.fingerprints``) and
    ``mtime_ns`` its modification time when fingerprinted; ``shard_digest`` is the content
    digest of the shard's arrays (``zsar.cache.shards.array_digest``), checked by every
    reader; ``note`` says what was lost from an ``ok`` video (e.g. only part of it decoded)
    or that a fallback decoder read it. ``content_digest`` is the BLAKE2b-128 of the whole
    video file when it was extracted (``zsar.cache.fingerprints.content_digest``), ``decoder``
    the decoder that read it (``decord``, ``pyav``, ``torchcodec``). Caches written before
    these columns existed read with them empty (``LEGACY_DEFAULTS``).
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
    fingerprint: str = ""
    mtime_ns: int = 0
    shard_digest: str = ""
    note: str = ""
    content_digest: str = ""
    decoder: str = ""


# Field annotations are strings under ``from __future__ import annotations``.
_ARROW_TYPES = {"str": pa.string(), "int": pa.int64(), "float": pa.float64()}
MANIFEST_SCHEMA = pa.schema([(f.name, _ARROW_TYPES[f.type]) for f in fields(ManifestRow)])
# Columns added after the first release, and their value in a manifest written before them.
LEGACY_DEFAULTS = {"fingerprint": "", "mtime_ns": 0, "shard_digest": "", "note": "", "content_digest": "",
                   "decoder": ""}


def with_current_schema(table: pa.Table) -> pa.Table:
    """``table`` in ``MANIFEST_SCHEMA``: columns an older zsar did not write are added with their defaults."""
    for name, default in LEGACY_DEFAULTS.items():
        if name not in table.column_names:
            table = table.append_column(name, pa.array([default] * table.num_rows,
                                                       type=MANIFEST_SCHEMA.field(name).type))
    return table.select(MANIFEST_SCHEMA.names).cast(MANIFEST_SCHEMA)


def rows_to_table(rows: Iterable[ManifestRow]) -> pa.Table:
    rows = list(rows)
    columns = {f.name: [getattr(r, f.name) for r in rows] for f in fields(ManifestRow)}
    return pa.Table.from_pydict(columns, schema=MANIFEST_SCHEMA)


def table_to_rows(table: pa.Table) -> list[ManifestRow]:
    return [ManifestRow(**r) for r in table.to_pylist()]


class ManifestError(ZsarError):
    """A manifest file is damaged, unreadable or has lost its checksum."""


def _write_table(table: pa.Table, path: Path) -> None:
    fix = "free some space or make the cache writable, then run `zsar extract` again to resume"
    with atomic_write(path, fix, commit=commit_with_checksum) as tmp:
        pq.write_table(table, tmp)


def manifest_files(layout: CacheLayout, rank: int | None = None) -> list[Path]:
    """The compacted manifest files, then the parts, of one rank or all (present or with an orphan checksum)."""
    pattern = "*" if rank is None else f"{rank:03d}"
    compacted = set(layout.root.glob(f"manifest-{pattern}.parquet"))
    compacted |= set(orphan_checksums(layout.root, f"manifest-{pattern}.parquet"))
    parts = set(layout.parts_dir.glob(f"part-{pattern}-*.parquet"))
    parts |= set(orphan_checksums(layout.parts_dir, f"part-{pattern}-*.parquet"))
    return sorted(compacted) + sorted(parts)


def read_manifest_file(layout: CacheLayout, path: Path) -> pa.Table:
    """One manifest file, checked against its checksum; a ``ManifestError`` names it and the repair."""
    rel = path.relative_to(layout.root).as_posix()
    repair = (f"`zsar extract` of rank {_rank_of(path)} with the same settings drops it and extracts "
              "its videos again")
    problem = file_problem(path, layout.root)
    if problem is not None:
        raise ManifestError(f"manifest file {problem}; {repair}")
    try:
        return with_current_schema(pq.read_table(path))
    except (OSError, pa.ArrowException, ValueError) as err:
        raise ManifestError(f"unreadable manifest file {rel}: {err}; {repair}") from None


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
    tables = []
    for path in manifest_files(layout, rank):
        # A part gone with its checksum left was being removed (compacted or dropped): not a loss.
        if path.is_file() or path.parent == layout.root:
            tables.append(read_manifest_file(layout, path))
    return tables


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


def compact_manifest(layout: CacheLayout, rank: int, table: pa.Table | None = None) -> Path:
    """Fold rank ``rank``'s parts into ``manifest-<rank>.parquet`` and delete the parts.

    ``table`` (rank ``rank``'s rows with refreshed metadata, see ``zsar.cache.fingerprints``)
    replaces the rank's rows; a kill before the parts are deleted leaves them behind the new
    file, which a reader takes first.
    """
    parts = sorted(layout.parts_dir.glob(f"part-{rank:03d}-*.parquet"))
    path = layout.manifest_path(rank)
    if not parts and path.exists() and table is None:
        return path
    _write_table(read_manifest(layout, rank) if table is None else table, path)
    for p in parts:
        remove_with_checksum(p)
    return path


def drop_manifest_rows(layout: CacheLayout, rank: int, video_rows: Iterable[int]) -> int:
    """Remove rank ``rank``'s rows of ``video_rows`` (e.g. a shard found damaged, to re-extract).

    Each file (the compacted manifest, then each part) is rewritten atomically without
    those rows, or deleted if nothing is left; a kill part-way leaves some rows behind,
    which the next call removes. Returns how many rows were removed.
    """
    drop = pa.array(sorted({int(r) for r in video_rows}), type=pa.int64())
    removed = 0
    for path in manifest_files(layout, rank):
        if not path.is_file():
            continue
        table = read_manifest_file(layout, path)
        hit = pc.is_in(table.column("video_row"), value_set=drop)
        n_hit = int(pc.sum(hit).as_py() or 0)
        if n_hit == 0:
            continue
        removed += n_hit
        kept = table.filter(pc.invert(hit))
        if kept.num_rows or path == layout.manifest_path(rank):
            _write_table(kept, path)
        else:
            remove_with_checksum(path)
    return removed


def drop_damaged_manifest_files(layout: CacheLayout, rank: int) -> list[str]:
    """Delete rank ``rank``'s manifest files that fail their checksum or do not parse; returns why, per file.

    Their videos then have no rows, so the rank's next plan extracts them again (call while
    holding the rank's lock).
    """
    reasons = []
    for path in manifest_files(layout, rank):
        try:
            read_manifest_file(layout, path)
        except ManifestError as err:
            reasons.append(str(err).split("; ")[0])
            remove_with_checksum(path)
    return reasons


def manifest_ranks(layout: CacheLayout) -> list[int]:
    """The ranks that have written anything to this cache."""
    return sorted({_rank_of(p) for p in manifest_files(layout) if p.is_file()})


PARTLY_DECODED = "partly decoded"  # how the note of an ok row that lost frames begins (zsar.extract.decode)


def is_partly_decoded(status: str, note: str) -> bool:
    """Whether a row (or a predicted video) is ``ok`` but only partly decoded: its note says so."""
    return status == STATUS_OK and note.startswith(PARTLY_DECODED)


@dataclass(frozen=True)
class VideoCounts:
    """Videos by outcome: ``ok`` (fully decoded), ``partial`` (ok but only partly decoded), ``failed``.

    The one count that ``zsar extract``'s summary, ``zsar cache info``/``ls`` and ``zsar predict``
    show; ``describe()`` words it (``"7 ok, 1 partly decoded, 0 failed"``).
    """

    ok: int = 0
    partial: int = 0
    failed: int = 0

    @classmethod
    def of(cls, statuses: Iterable[str], notes: Iterable[str]) -> "VideoCounts":
        """Counts of rows given by their ``status`` and ``note`` columns."""
        ok = partial = failed = 0
        for status, note in zip(statuses, notes):
            if status == STATUS_FAILED:
                failed += 1
            elif is_partly_decoded(status, note or ""):
                partial += 1
            else:
                ok += 1
        return cls(ok, partial, failed)

    @classmethod
    def of_table(cls, table: pa.Table) -> "VideoCounts":
        return cls.of(table.column("status").to_pylist(), table.column("note").to_pylist())

    def __add__(self, other: "VideoCounts") -> "VideoCounts":
        return VideoCounts(self.ok + other.ok, self.partial + other.partial, self.failed + other.failed)

    @property
    def total(self) -> int:
        return self.ok + self.partial + self.failed

    @property
    def extracted(self) -> int:
        """Videos whose features are stored (ok and partly decoded)."""
        return self.ok + self.partial

    def describe(self) -> str:
        """``"7 ok, 1 partly decoded, 0 failed"``; the partly decoded are named only when there are some."""
        partial = f" {self.partial} partly decoded," if self.partial else ""
        return f"{self.ok} ok,{partial} {self.failed} failed"


@dataclass
class ManifestSummary:
    """What a manifest holds: its videos by outcome (``VideoCounts``) and the shards referenced."""

    counts: VideoCounts = field(default_factory=VideoCounts)
    shards: dict[str, str] = field(default_factory=dict)  # name -> sha256

    @classmethod
    def of(cls, table: pa.Table) -> "ManifestSummary":
        shards: dict[str, Any] = {}
        for name, sha in zip(table.column("shard").to_pylist(), table.column("shard_sha256").to_pylist()):
            if name:
                shards[name] = sha
        return cls(counts=VideoCounts.of_table(table), shards=shards)


def chunk_bounds(n_videos: int, videos_per_shard: int) -> list[tuple[int, int]]:
    """``[start, stop)`` of each chunk of the video list; chunk ``k`` belongs to rank ``k % world_size``."""
    return [(s, min(n_videos, s + videos_per_shard)) for s in range(0, n_videos, max(1, videos_per_shard))]


@dataclass(frozen=True)
class Completeness:
    """How much of a cache's video list has manifest rows (ok or failed), per rank."""

    n_videos: int
    listed: int
    per_rank: tuple[tuple[int, int], ...]  # (listed, expected) for rank 0..world_size-1

    @classmethod
    def of(cls, table: pa.Table, n_videos: int, world_size: int, videos_per_shard: int) -> "Completeness":
        """``n_videos`` 0: a cache without a fixed video list (``zsar.extract.per_file``), complete with its rows."""
        if n_videos == 0:
            return cls(table.num_rows, table.num_rows, ((table.num_rows, table.num_rows),))
        world = max(1, world_size)
        expected = [0] * world
        for k, (start, stop) in enumerate(chunk_bounds(n_videos, videos_per_shard or n_videos or 1)):
            expected[k % world] += stop - start
        ranks = table.column("rank").to_numpy()
        listed = [int((ranks == r).sum()) for r in range(world)]
        return cls(n_videos, table.num_rows, tuple(zip(listed, expected)))

    @property
    def complete(self) -> bool:
        return self.listed >= self.n_videos > 0

    @property
    def unfinished_ranks(self) -> list[int]:
        return [r for r, (listed, expected) in enumerate(self.per_rank) if listed < expected]

    def describe(self) -> str:
        """``"6 of 9 videos not extracted yet (rank 0: 0 of 3, rank 2: 0 of 3; world size 3)"``."""
        text = f"{self.n_videos - self.listed} of {self.n_videos} videos not extracted yet"
        if len(self.per_rank) > 1:
            ranks = ", ".join(f"rank {r}: {self.per_rank[r][0]} of {self.per_rank[r][1]}"
                              for r in self.unfinished_ranks)
            text += f" ({ranks}; world size {len(self.per_rank)})"
        return text

    def fix(self) -> str:
        """The commands that finish the cache."""
        if len(self.per_rank) == 1:
            return "run `zsar extract` again with the same settings to finish it"
        shards = " and ".join(f"--shard {r}/{len(self.per_rank)}" for r in self.unfinished_ranks)
        return f"run `zsar extract` with the same settings and {shards} to finish it"
