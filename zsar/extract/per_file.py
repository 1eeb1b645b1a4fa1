"""A cache without a fixed video list: one cache per model setting, rows added per file as videos are asked for.

A dataset registered with the ``PER_FILE`` tag (``videos``: a user's own videos, what
``zsar predict`` extracts) does not key its cache by its video list. The key covers the
model setting alone (backbone, weights, sampling, resolution, precision, decoder, resize),
so every call with one setting, on any set of videos (a folder, a glob, a list, one file,
a subset or a superset of an earlier call), extends one cache and decodes only the videos
it holds no current row for. Its ``config.json`` has no root, ``n_videos`` 0 and
``videos_per_shard`` 0: nothing in it depends on the call.

Rows are keyed per file. A row's ``video_id`` is the video's absolute path (``#`` and ``%``
percent-encoded), with ``#t=START,END`` for a window of it (``zsar predict --window``), and
its identity is what the manifest records of the file: size and modification time, the
ends fingerprint and the content digest (``zsar.cache.fingerprints``). Each call, holding
the cache's writer lock (waiting while another call holds it, so two calls on overlapping
sets lose nothing: the second finds what the first extracted):

1. damaged manifest files are dropped, as in ``zsar.extract.plan``;
2. each asked video's row is looked up by id. None: the video is new. The file's identity
   as ``check_files`` judges it: unchanged (a ``stat``) or moved or touched (equal content
   digest; the new time is recorded, nothing decoded): the row is kept; changed: every row
   of that file is dropped and the video is new. A ``failed`` row with ``retry_failed`` is
   dropped and decoded again (alone, not with its chunk). A kept ``ok`` row whose shard is
   missing or fails its SHA-256 is dropped with the other rows of that shard;
3. the new videos get the video rows after the last one and chunks numbered after the last
   shard, ``videos_per_shard`` videos each, and are extracted like any chunk.

Rows of other files stay as they are: another call's videos are never decoded again here.
"""

from __future__ import annotations

import logging
import os
import re
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from zsar.cache.fingerprints import content_digest, file_fingerprint
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import (MANIFEST_SCHEMA, STATUS_FAILED, STATUS_OK, compact_manifest,
                                 drop_damaged_manifest_files, read_manifest)
from zsar.errors import ZsarError
from zsar.extract.chunk_writer import printable
from zsar.extract.plan import Chunk, Plan
from zsar.files import file_sha256
from zsar.registry import PER_FILE

log = logging.getLogger(__name__)
RANK = 0                              # one writer at a time: the lock is waited for, never split across ranks
PER_FILE_DIGEST = PER_FILE            # the cache key's "videos" field: no video list
_SEQ = re.compile(r"-(\d{3})-(\d{6})\.")  # shard-<rank>-<seq>.h5, part-<rank>-<seq>.parquet


def is_per_file(dataset: str) -> bool:
    """Whether ``dataset`` is registered with the ``PER_FILE`` tag (no fixed video list)."""
    from zsar.extract.datasets import DATASETS

    return PER_FILE in DATASETS.entry(dataset).tags


def check_single_writer(dataset: str, world: int) -> None:
    """Refuse ``--shard i/N`` or torchrun's ranks for a per-file dataset: its calls extend one cache in turn."""
    if world > 1:
        raise ZsarError(f"--dataset {dataset} has no fixed video list to split among {world} processes; run one "
                        "`zsar extract` per set of videos (calls on one cache wait for each other), without --shard "
                        "or RANK/WORLD_SIZE")


@dataclass(kw_only=True)
class PerFilePlan:
    """What one call extracts: ``records`` indexed by video row (None for rows of earlier calls) and the plan."""

    records: list
    plan: Plan
    dropped: int = 0     # rows dropped: their file changed, a retried failure, a damaged shard
    refreshed: int = 0   # rows kept whose file has a new modification time and the same content


@dataclass
class _Table:
    """The rank's manifest rows as columns, with what this call changes in them."""

    table: pa.Table

    def __post_init__(self) -> None:
        get = lambda name: self.table.column(name).to_pylist()  # noqa: E731
        self.ids, self.paths, self.status = get("video_id"), get("path"), get("status")
        self.shards, self.shas = get("shard"), get("shard_sha256")
        self.fingerprints, self.mtimes, self.digests = get("fingerprint"), get("mtime_ns"), get("content_digest")
        self.video_rows = get("video_row")
        self.position = {vid: i for i, vid in enumerate(self.ids)}
        self.drop: set[int] = set()
        self.updated: set[int] = set()


def _file_state(path: str, fingerprint: str, mtime_ns: int, digest: str) -> tuple[str, int, str] | None:
    """The file's identity now if it is the video a row recorded (unchanged, moved or touched), else None."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    if fingerprint and stat.st_mtime_ns == mtime_ns and fingerprint.split("-", 1)[0] == str(stat.st_size):
        return fingerprint, mtime_ns, digest
    now, mtime = file_fingerprint(path)
    if not now or (fingerprint and now != fingerprint):
        return None
    digest_now = content_digest(path)
    if digest and digest_now != digest:
        return None
    return now, mtime, digest_now


def _judge_files(rows: _Table, asked: dict[int, str]) -> None:
    """Drop every row of a file that changed; refresh the identity of rows whose file was moved or touched.

    ``asked``: row -> the file it is of, as the asking record names it (the manifest holds a printable form).
    """
    by_path: dict[str, list[int]] = {}
    for i, path in enumerate(rows.paths):
        by_path.setdefault(path, []).append(i)
    files = {rows.paths[i]: path for i, path in asked.items()}
    for stored, path in sorted(files.items()):
        i = by_path[stored][0]
        state = _file_state(path, rows.fingerprints[i], rows.mtimes[i], rows.digests[i])
        if state is None:
            rows.drop.update(by_path[stored])
            continue
        for j in by_path[stored]:
            if (rows.fingerprints[j], rows.mtimes[j], rows.digests[j]) != state:
                rows.fingerprints[j], rows.mtimes[j], rows.digests[j] = state
                rows.updated.add(j)


def _judge_shards(layout: CacheLayout, rows: _Table, asked: list[int]) -> None:
    """Drop the rows of every shard an asked ``ok`` row points to that is missing or fails its SHA-256."""
    shards = {rows.shards[i]: rows.shas[i] for i in asked if i not in rows.drop and rows.status[i] == STATUS_OK}
    for name, sha in sorted(shards.items()):
        path = layout.shard_path(name)
        if path.is_file() and file_sha256(path) == sha:
            continue
        log.warning("shard %s is %s; its videos are extracted again", name, "damaged" if path.is_file() else
                    "missing")
        rows.drop.update(i for i, shard in enumerate(rows.shards) if shard == name)


def _next_seq(layout: CacheLayout, shards: list[str]) -> int:
    """The chunk number after every shard and manifest part this cache has (or had, in its rows)."""
    names = list(shards) + [p.name for p in layout.shards_dir.glob("shard-*")]
    names += [p.name for p in layout.parts_dir.glob("part-*")]
    seqs = [int(m.group(2)) for m in map(_SEQ.search, names) if m]
    return max(seqs, default=-1) + 1


def _rewrite(layout: CacheLayout, rows: _Table) -> None:
    """Write the rank's manifest without the dropped rows and with the refreshed identities."""
    table = rows.table
    if rows.updated:
        for name, values in (("fingerprint", rows.fingerprints), ("mtime_ns", rows.mtimes),
                             ("content_digest", rows.digests)):
            i = table.schema.get_field_index(name)
            table = table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))
    if rows.drop:
        keep = np.ones(table.num_rows, dtype=bool)
        keep[sorted(rows.drop)] = False
        table = table.filter(pa.array(keep))
    compact_manifest(layout, RANK, table.cast(MANIFEST_SCHEMA))


def plan_per_file(layout: CacheLayout, records: list, videos_per_shard: int, retry_failed: bool = False) -> PerFilePlan:
    """What this call extracts of ``records`` (see the module doc); call holding the cache's writer lock."""
    for reason in drop_damaged_manifest_files(layout, RANK):
        log.warning("%s; its videos are extracted again", reason)
    rows = _Table(read_manifest(layout, RANK))
    asked = {rows.position[printable(r.video_id)]: str(r.path) for r in records
             if printable(r.video_id) in rows.position}
    if retry_failed:
        rows.drop.update(i for i in asked if rows.status[i] == STATUS_FAILED)
    _judge_files(rows, asked)
    _judge_shards(layout, rows, list(asked))
    if rows.drop or rows.updated:
        _rewrite(layout, rows)
    kept = {rows.ids[i]: rows.status[i] for i in asked if i not in rows.drop}
    new = [r for r in records if printable(r.video_id) not in kept]
    start = max(rows.video_rows, default=-1) + 1
    seq, step = _next_seq(layout, rows.shards), max(1, videos_per_shard)
    chunks = [Chunk(seq + k, start + lo, start + min(len(new), lo + step))
              for k, lo in enumerate(range(0, len(new), step))]
    failed = sum(status == STATUS_FAILED for status in kept.values())
    plan = Plan(pending=chunks, done_ok=len(kept) - failed, done_failed=failed)
    if rows.drop or rows.updated:
        log.info("%d row(s) dropped (changed files, retried failures, damaged shards), %d moved or touched file(s) "
                 "kept without decoding", len(rows.drop), len(rows.updated))
    return PerFilePlan(records=[None] * start + new, plan=plan, dropped=len(rows.drop), refreshed=len(rows.updated))
