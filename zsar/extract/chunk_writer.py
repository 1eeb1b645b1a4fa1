"""The hot loop: decoded videos -> backbone -> one committed shard and manifest part per chunk.

``extract_chunks`` opens one loader over the videos of every pending chunk (so workers
decode straight through chunk boundaries), encodes each chunk's clips in batches that stay
inside the chunk, and commits the chunk: shard first (atomic rename, SHA-256), then its
manifest part with the ok rows (pointing into the shard) and the failed rows (decoder
message in ``error``). A kill before the part is written leaves no rows for the chunk,
so the next run extracts it again.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import torch

from zsar.cache.fingerprints import file_fingerprint
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import STATUS_FAILED, ManifestRow, write_manifest_part
from zsar.cache.shards import ShardWriter
from zsar.extract.loader import EncodedVideo, encode_videos, make_loader
from zsar.extract.plan import Chunk
from zsar.extract.sampling import SamplingConfig
from zsar.progress import progress

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChunkContext:
    """What every chunk of one run shares."""

    layout: CacheLayout
    rank: int
    key: str
    records: Sequence            # the run's VideoRecords; a record's position is its manifest video_row
    class_names: list[str]
    root: Path                   # dataset root; manifest paths are stored relative to it
    sampling: SamplingConfig
    size: int
    batch_size: int
    workers: int

    @functools.cached_property
    def label_index(self) -> dict[str, int]:
        """Class name -> index (a dict: Kinetics has 700 classes and 650k videos)."""
        return {name: i for i, name in enumerate(self.class_names)}


@dataclass
class RunStats:
    """Counts of the chunks extracted by this run, and how long the loop took."""

    ok: int = 0
    clips: int = 0
    seconds: float = 0.0
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video_id, decoder message)


def relative_path(path: Path, root: Path) -> str:
    """``path`` relative to the dataset root when it lies under it (portable caches), else as is."""
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return str(path) if rel.startswith("..") else rel


def _row(context: ChunkContext, video_row: int, done: EncodedVideo) -> ManifestRow:
    record = context.records[video_row]
    row = ManifestRow(
        video_id=record.video_id, path=relative_path(record.path, context.root), label=record.label,
        label_index=context.label_index[record.label], video_row=video_row,
        split1=record.splits[0], split2=record.splits[1], split3=record.splits[2],
        start=float(record.start), end=float(record.end), rank=context.rank)
    row.fingerprint, row.mtime_ns = file_fingerprint(record.path)
    decoded = done.item.decoded
    if decoded is None:
        row.status, row.error = STATUS_FAILED, done.item.error
    else:
        row.n_frames, row.fps, row.duration = decoded.n_frames, decoded.fps, decoded.duration
        row.note = decoded.note
    return row


def _commit_chunk(context: ChunkContext, chunk: Chunk, videos: list[EncodedVideo]) -> None:
    """Write the chunk's shard (if any video decoded) and then its manifest part."""
    layout = context.layout
    name = layout.shard_name(context.rank, chunk.seq)
    rows = [_row(context, chunk.start + i, done) for i, done in enumerate(videos)]
    attrs = {"cache_key": context.key, "rank": context.rank, "seq": chunk.seq}
    with ShardWriter(layout.shard_path(name), attrs) as writer:
        for row, done in zip(rows, videos):
            if done.features is not None:
                decoded = done.item.decoded
                row.shard = name
                row.row = writer.add(row.video_row, done.features, decoded.frame_index, decoded.timestamps)
        if len(writer):
            info = writer.commit()
            for row in rows:
                if row.shard:
                    row.shard_sha256, row.shard_digest = info.sha256, info.digest
    write_manifest_part(layout, context.rank, chunk.seq, rows)


def extract_chunks(context: ChunkContext, chunks: list[Chunk], encode: Callable[[torch.Tensor], torch.Tensor]) -> RunStats:
    """Extract and commit ``chunks`` in order; ``encode`` maps uint8 ``(B, T, S, S, 3)`` to ``(B, T', D)``."""
    stats = RunStats()
    order = [i for chunk in chunks for i in range(chunk.start, chunk.stop)]
    if not order:
        return stats
    loader = make_loader([context.records[i] for i in order], context.sampling, context.size, context.workers)
    started = time.perf_counter()
    bar = progress(desc=f"extract rank {context.rank}", total=len(order), unit="video")
    stream = iter(loader)
    try:
        for chunk in chunks:
            videos = []
            for done in encode_videos(itertools.islice(stream, len(chunk)), encode, context.batch_size):
                videos.append(done)
                if done.features is None:
                    stats.failed.append((context.records[chunk.start + len(videos) - 1].video_id, done.item.error))
                else:
                    stats.ok += 1
                    stats.clips += done.item.n_clips
                bar.update(1)
                elapsed = time.perf_counter() - started
                bar.set_postfix_str(f"{stats.clips / elapsed:.1f} clips/s" if elapsed > 0 else "", refresh=False)
            assert len(videos) == len(chunk), (len(videos), len(chunk))
            _commit_chunk(context, chunk, videos)
    finally:
        bar.close()
        del stream  # shuts the loader's workers down
    stats.seconds = time.perf_counter() - started
    return stats
