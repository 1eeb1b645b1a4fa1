"""The hot loop: decoded videos -> backbone -> one committed shard and manifest part per chunk.

``extract_chunks`` opens one loader over the videos of every pending chunk (so workers
decode straight through chunk boundaries) and encodes the clips in backbone batches that
ignore chunk boundaries too (``zsar.extract.batcher``). Each finished chunk goes through a
bounded queue to a writer thread (``ChunkWriter``), which commits it: shard first (atomic
rename, SHA-256, fsync), then its manifest part with the ok rows (pointing into the shard)
and the failed rows (decoder message in ``error``). So the main process only moves frames
while the last chunk is written. A kill before the part is written leaves no rows for the
chunk, so the next run extracts it again.

A write that fails (a full disk, a read-only folder) stops the run: the writer thread
keeps the error (a ``ZsarError`` naming the file), writes nothing more, and the main
process raises it at its next hand-over. Chunks count as done (``RunStats``) only once
their manifest part is written.
"""

from __future__ import annotations

import functools
import itertools
import logging
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from zsar.cache.fingerprints import file_fingerprint
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import STATUS_FAILED, STATUS_OK, ManifestRow, is_partly_decoded, write_manifest_part
from zsar.cache.shards import ShardWriter
from zsar.extract.batcher import EncodedVideo, encode_videos
from zsar.extract.loader import DecodeSettings, make_loader
from zsar.extract.plan import Chunk
from zsar.extract.sampling import SamplingConfig
from zsar.progress import progress, step_done

WRITE_QUEUE = 2   # finished chunks waiting for the writer thread at most

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ChunkContext:
    """What every chunk of one run shares."""

    layout: CacheLayout
    rank: int
    key: str
    records: Sequence            # the run's VideoRecords; a record's position is its manifest video_row
    class_names: list[str]
    root: Path | None            # dataset root; manifest paths are stored relative to it (None: absolute)
    sampling: SamplingConfig
    size: int
    batch_size: int
    workers: int
    pinned: bool = False         # batch buffers in pinned memory (a GPU backbone)
    decode: DecodeSettings = field(default_factory=lambda: DecodeSettings(digest=True))

    @functools.cached_property
    def label_index(self) -> dict[str, int]:
        """Class name -> index (a dict: Kinetics has 700 classes and 650k videos)."""
        return {name: i for i, name in enumerate(self.class_names)}


@dataclass(kw_only=True)
class RunStats:
    """Counts of the chunks this run committed, and how long the loop took."""

    ok: int = 0                  # videos stored (status ok), ``partial`` of them only partly decoded
    clips: int = 0
    seconds: float = 0.0
    cpu_seconds: float = 0.0     # CPU time of this process (all its threads) in the loop; workers not included
    failed: list[tuple[str, str]] = field(default_factory=list)  # (video_id, decoder message)
    partial: list[tuple[str, str]] = field(default_factory=list)  # (video_id, note): ok but only partly decoded
    gpu: object | None = None    # GpuDecodeStats when decoding ran on the GPU (cpu_fallback, pixel check)


def relative_path(path: Path, root: Path | None) -> str:
    """``path`` relative to the dataset root when it lies under it (portable caches), else as is (no root: as is)."""
    if root is None:
        return str(path)
    rel = os.path.relpath(os.path.abspath(path), os.path.abspath(root))
    return str(path) if rel.startswith("..") else rel


def printable(text: str) -> str:
    """``text`` as UTF-8 can store it: the bytes of a name that is not valid UTF-8 as ``\\xNN`` escapes."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _row(context: ChunkContext, video_row: int, done: EncodedVideo) -> ManifestRow:
    record = context.records[video_row]
    row = ManifestRow(
        video_id=printable(record.video_id), path=printable(relative_path(record.path, context.root)),
        label=record.label,
        label_index=context.label_index[record.label], video_row=video_row,
        split1=record.splits[0], split2=record.splits[1], split3=record.splits[2],
        start=float(record.start), end=float(record.end), rank=context.rank)
    row.fingerprint, row.mtime_ns = file_fingerprint(record.path)
    row.content_digest = done.item.digest
    decoded = done.item.decoded
    if decoded is None:
        row.status, row.error = STATUS_FAILED, printable(done.item.error)
    else:
        row.n_frames, row.fps, row.duration = decoded.n_frames, decoded.fps, decoded.duration
        row.note, row.decoder = decoded.note, decoded.decoder
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


class ChunkWriter:
    """A thread that commits finished chunks handed to it through a bounded queue (see the module docstring)."""

    def __init__(self, context: ChunkContext, stats: RunStats) -> None:
        self.context, self.stats = context, stats
        self.error: BaseException | None = None
        self._queue: queue.Queue = queue.Queue(maxsize=WRITE_QUEUE)
        self._thread = threading.Thread(target=self._run, name="zsar-chunk-writer", daemon=True)
        self._thread.start()

    def put(self, chunk: Chunk, videos: list[EncodedVideo]) -> None:
        """Queue a finished chunk (waits while the queue is full); raises the writer's error if it has one."""
        self.check()
        self._queue.put((chunk, videos))
        self.check()

    def check(self) -> None:
        if self.error is not None:
            raise self.error

    def close(self, wait: bool = True) -> None:
        """Commit what is queued and stop, raising the writer's error if any.

        ``wait=False`` (the main process is raising an error of its own): finish the chunk
        being written, drop the queued ones, raise nothing.
        """
        if not wait and self.error is None:
            self.error = _Stopped()
        self._queue.put(None)
        self._thread.join()
        if wait:
            self.check()

    def _run(self) -> None:
        while (item := self._queue.get()) is not None:
            if self.error is not None:
                continue  # after a failure nothing more is written; the main process stops
            chunk, videos = item
            try:
                _commit_chunk(self.context, chunk, videos)
            except BaseException as err:  # noqa: BLE001 - handed to the main process, which raises it
                self.error = err
                continue
            for i, done in enumerate(videos):
                if done.features is None:
                    self.stats.failed.append((printable(self.context.records[chunk.start + i].video_id),
                                              printable(done.item.error)))
                else:
                    self.stats.ok += 1
                    if is_partly_decoded(STATUS_OK, done.item.decoded.note):
                        self.stats.partial.append((printable(self.context.records[chunk.start + i].video_id),
                                                   done.item.decoded.note))
                    self.stats.clips += done.item.n_clips


class _Stopped(Exception):
    """The main process gave up (an error of its own): queued chunks are not written."""


def extract_chunks(context: ChunkContext, chunks: list[Chunk], launch) -> RunStats:
    """Extract and commit ``chunks`` in order; ``launch`` is ``Backbone.launch`` (see ``encode_videos``)."""
    stats = RunStats()
    order = [i for chunk in chunks for i in range(chunk.start, chunk.stop)]
    if not order:
        return stats
    started, cpu_started = time.perf_counter(), time.process_time()
    loader = make_loader([context.records[i] for i in order], context.sampling, context.size, context.workers,
                         context.decode)
    stats.gpu = getattr(loader, "stats", None)
    writer = ChunkWriter(context, stats)
    bar = progress(desc=f"extract rank {context.rank}", total=len(order), unit="video")
    stream = encode_videos(loader, launch, context.batch_size, pinned=context.pinned)
    clips, videos_done, finished = 0, 0, False
    try:
        for chunk in chunks:
            videos = []
            for done in itertools.islice(stream, len(chunk)):
                videos.append(done)
                clips += done.item.n_clips
                bar.update(1)
            assert len(videos) == len(chunk), (len(videos), len(chunk))
            writer.put(chunk, videos)
            videos_done += len(videos)
            elapsed = time.perf_counter() - started
            bar.set_postfix_str(f"{clips / elapsed:.1f} clips/s" if elapsed > 0 else "", refresh=False)
            step_done(bar, f"extract rank {context.rank}: {videos_done}/{len(order)} videos, {clips} clips, "
                           f"{elapsed:.0f} s ({clips / max(elapsed, 1e-9):.1f} clips/s)")
        finished = True
    finally:
        bar.close()
        stream.close()
        loader.close()  # stops the decoding workers
        writer.close(wait=finished)
    stats.seconds = time.perf_counter() - started
    stats.cpu_seconds = time.process_time() - cpu_started
    return stats
