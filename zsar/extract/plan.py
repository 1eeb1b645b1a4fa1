"""Which videos this process extracts: chunks, ranks, and what a resumed run still has to do.

The dataset's video list (deterministic order) is cut into chunks of ``videos_per_shard``
videos; chunk ``k`` becomes shard ``shard-<rank>-<k>.h5`` and manifest part
``part-<rank>-<k>.parquet``, and belongs to rank ``k % world_size``. A chunk is the unit
of commit: its shard and its manifest part are written at once after all its videos are
encoded, so a run killed at any moment loses at most the chunks in flight.

On start, ``plan_chunks`` checks each chunk of this rank against the manifest:

- all its videos have rows and (when any is ``ok``) its shard exists with the recorded
  SHA-256: done, skipped;
- some rows but not all, or a shard missing or damaged: its rows are dropped and it is
  extracted again (this is how ``zsar extract`` repairs what ``zsar cache verify`` reports);
- no rows: extracted (a shard file without rows, from a kill between the shard's rename and
  its manifest part, is simply overwritten).

First, a manifest file of this rank that fails its checksum or does not parse is deleted:
its videos have no rows, so they are extracted again.

Given the run's video records, a done chunk also follows its video files
(``zsar.cache.fingerprints``): a chunk holding a video whose file changed since it was
extracted is extracted again. The rows kept get their metadata refreshed without
decoding anything: split columns from the split files read now, fingerprints and content digests of files
moved or not yet fingerprinted (a cache from before fingerprints), and the content digest
of shards committed before digests; the rank's manifest is then rewritten once.

Videos the decoder could not read have ``failed`` rows; a chunk whose videos all failed
still gets its manifest part (and no shard), so a re-run does not retry them. To retry
failed videos (say, after replacing the files), pass ``retry_failed``: chunks holding a
failed row are extracted again.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from zsar.cache.layout import CacheLayout
from zsar.cache.checksums import settle_checksum
from zsar.cache.fingerprints import FileCheck, check_files, refresh_rows
from zsar.cache.manifest import (STATUS_FAILED, STATUS_OK, chunk_bounds, compact_manifest,
                                 drop_damaged_manifest_files, drop_manifest_rows, manifest_files, read_manifest)
from zsar.cache.shards import shard_digest
from zsar.cache.text import list_text_files
from zsar.cache.verify import leftover_tmp_files
from zsar.files import file_sha256
from zsar.errors import ZsarError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Chunk:
    """Videos ``[start, stop)`` of the dataset's list, written as shard number ``seq``."""

    seq: int
    start: int
    stop: int

    def __len__(self) -> int:
        return self.stop - self.start


def parse_shard(text: str) -> tuple[int, int]:
    """``"1/4"`` -> ``(1, 4)``: this process is rank 1 of 4 (ranks count from 0)."""
    try:
        rank, world = (int(p) for p in text.split("/"))
    except ValueError:
        raise ZsarError(f"--shard {text!r}: write it as i/N, e.g. 0/4 for the first of 4 parts") from None
    check_rank(rank, world, f"--shard {text}")
    return rank, world


def check_rank(rank: int, world: int, source: str) -> None:
    if world < 1 or not 0 <= rank < world:
        raise ZsarError(f"{source}: rank must be in 0..N-1 and N at least 1 (got rank {rank} of {world})")


def resolve_rank(shard: tuple[int, int] | None) -> tuple[int, int]:
    """``shard`` if given, else torchrun's ``RANK``/``WORLD_SIZE``, else ``(0, 1)``."""
    if shard is not None:
        check_rank(*shard, source=f"shard {shard[0]}/{shard[1]}")
        return shard
    if "RANK" in os.environ or "WORLD_SIZE" in os.environ:
        try:
            rank, world = int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))
        except ValueError:
            raise ZsarError(f"RANK={os.environ.get('RANK')!r} / WORLD_SIZE={os.environ.get('WORLD_SIZE')!r} "
                            "are not integers; unset them or pass --shard i/N") from None
        check_rank(rank, world, "RANK/WORLD_SIZE")
        return rank, world
    return 0, 1


def rank_chunks(n_videos: int, videos_per_shard: int, rank: int, world: int) -> list[Chunk]:
    """The chunks of ``rank`` (``k % world == rank``), in order."""
    if videos_per_shard < 1:
        raise ZsarError(f"--videos-per-shard {videos_per_shard}: must be at least 1")
    bounds = chunk_bounds(n_videos, videos_per_shard)
    return [Chunk(k, start, stop) for k, (start, stop) in enumerate(bounds) if k % world == rank]


@dataclass
class Plan:
    """What this rank has to extract, and what earlier runs already committed."""

    pending: list[Chunk]
    done_ok: int = 0          # ok videos in chunks already committed
    done_failed: int = 0      # failed videos in chunks already committed
    repaired: list[str] = field(default_factory=list)  # why chunks were dropped and redone

    @property
    def skipped(self) -> int:
        return self.done_ok + self.done_failed


def _chunk_state(layout: CacheLayout, rank: int, chunk: Chunk, video_rows: np.ndarray, status: np.ndarray,
                 shards: np.ndarray, shas: np.ndarray) -> str:
    """``"done"``, ``"absent"`` or the reason the chunk must be redone."""
    if len(video_rows) == 0:
        return "absent"
    if len(np.unique(video_rows)) != len(chunk):
        return f"chunk {chunk.seq} has {len(np.unique(video_rows))} of its {len(chunk)} manifest rows"
    ok = status == STATUS_OK
    if not ok.any():
        return "done"
    name = layout.shard_name(rank, chunk.seq)
    if set(shards[ok]) != {name}:
        return f"chunk {chunk.seq} rows point to {sorted(set(shards[ok]))}, not {name}"
    path = layout.shard_path(name)
    if not path.is_file():
        return f"shard {name} is missing"
    if file_sha256(path) != shas[ok][0]:
        return f"shard {name} fails its checksum"
    return "done"


def _changed_files(chunk: Chunk, files: FileCheck) -> str | None:
    """Why ``chunk`` is stale: some of its video files changed since they were extracted."""
    changed = [vid for row, vid in files.changed.items() if chunk.start <= row < chunk.stop]
    if not changed:
        return None
    return (f"chunk {chunk.seq}: {len(changed)} video file(s) changed since they were extracted "
            f"(e.g. {changed[0]})")


def plan_chunks(layout: CacheLayout, rank: int, chunks: list[Chunk], retry_failed: bool = False,
                records: list | None = None) -> Plan:
    """Check ``chunks`` against rank ``rank``'s manifest; drop damaged manifest files and rows of damaged chunks.

    With ``records`` (the run's video list) chunks follow their video files and the rows
    kept get their metadata refreshed (module doc).
    """
    for reason in drop_damaged_manifest_files(layout, rank):
        log.warning("%s; its videos are extracted again", reason)
    table = read_manifest(layout, rank)
    files = FileCheck() if records is None else check_files(table, records)
    rows = table.column("video_row").to_numpy()
    status = np.asarray(table.column("status").to_pylist(), dtype=object)
    shards = np.asarray(table.column("shard").to_pylist(), dtype=object)
    shas = np.asarray(table.column("shard_sha256").to_pylist(), dtype=object)
    plan = Plan(pending=[])
    for chunk in chunks:
        mine = (rows >= chunk.start) & (rows < chunk.stop)
        state = _chunk_state(layout, rank, chunk, rows[mine], status[mine], shards[mine], shas[mine])
        n_failed = int((status[mine] == STATUS_FAILED).sum())
        if state == "done" and retry_failed and n_failed:
            state = f"chunk {chunk.seq} has {n_failed} failed video(s) to retry"
        if state == "done":
            state = _changed_files(chunk, files) or state
        if state == "done":
            plan.done_failed += n_failed
            plan.done_ok += len(chunk) - n_failed
            continue
        if state != "absent":
            log.warning("re-extracting chunk %d of rank %d: %s", chunk.seq, rank, state)
            plan.repaired.append(state)
            drop_manifest_rows(layout, rank, range(chunk.start, chunk.stop))
        plan.pending.append(chunk)
    if records is not None:
        _refresh(layout, rank, records, files)
    return plan


def _refresh(layout: CacheLayout, rank: int, records: list, files: FileCheck) -> None:
    """Rewrite the rank's kept rows with refreshed metadata (module doc), if anything changed; log what did."""
    table = read_manifest(layout, rank)
    ok = np.asarray(table.column("status").to_pylist(), dtype=object) == STATUS_OK
    legacy = {s for s, d, o in zip(table.column("shard").to_pylist(), table.column("shard_digest").to_pylist(), ok)
              if o and not d}
    digests = {name: shard_digest(layout.shard_path(name)) for name in sorted(legacy)}  # checksummed just now
    refresh = refresh_rows(table, records, {r: f for r, f in files.updates.items() if r not in files.changed},
                           digests)
    if not refresh.changed:
        return
    compact_manifest(layout, rank, refresh.table)
    if refresh.splits:
        log.info("refreshed the split columns of %d video(s) from the split files (no video decoded again)",
                 refresh.splits)
    if files.added:
        log.info("recorded the content fingerprints and digests of %d video(s) extracted by an earlier zsar (no video decoded "
                 "again)", files.added)
    if files.moved:
        log.info("%d video file(s) have a new modification time or root but the same content: their features are kept",
                 files.moved)
    if refresh.digests:
        log.info("recorded the content digests of %d shard(s) written by an earlier zsar", len(digests))


def remove_leftovers(layout: CacheLayout, rank: int) -> int:
    """Finish or delete the temporary files of this rank's killed writers (call while holding the rank's lock).

    Only this rank's shards and manifest files: other ranks may run on other machines, where
    a pid that looks dead here can be alive.
    """
    for path in manifest_files(layout, rank) + list_text_files(layout):
        settle_checksum(path)  # a commit killed between its two renames: finish it
    tags = (f"-{rank:03d}-", f"-{rank:03d}.")
    removed = 0
    for path in leftover_tmp_files(layout):
        if any(tag in path.name for tag in tags):
            path.unlink(missing_ok=True)
            removed += 1
    return removed
