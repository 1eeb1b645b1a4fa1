"""Decode videos in worker processes that write the frames straight into shared memory.

``make_loader`` yields the videos of a list of ``VideoRecord``s in list order, each as a
``LoadedVideo`` (its frames, or the decoder's error). With ``workers > 0`` a ``DecodePool``
starts that many processes. Each task is a *group* of consecutive videos: a worker decodes
them into one slot of a shared-memory array the main process allocated before starting the
workers, and sends back one small message with the group's metadata (frame numbers,
timestamps, fps, errors: every field of ``DecodedVideo`` but the frames). So a group costs
the main process one queue read, with no file descriptor, socket handshake, ``mmap`` or
``munmap`` per tensor (torch's sharing of tensors through a ``DataLoader`` costs all four
per tensor, about 3 ms of the main process's time per video at 224 px).

A yielded video's ``frames`` are a view of its slot, valid until the next video is asked
for: the slot is given to the next task then. Copy them out (``zsar.extract.batcher`` copies
them into its batch buffer) before asking for the next video.
"""

from __future__ import annotations

import ctypes
import dataclasses
import logging
import math
import os
import queue
import signal
import traceback
from dataclasses import dataclass
from typing import Iterable, Iterator, Sequence

import torch
import torch.multiprocessing as mp

from zsar.cache.fingerprints import content_digest
from zsar.errors import ZsarError
from zsar.extract.decode import DEFAULT_RESIZE, DEFAULT_WINDOW, DecodedVideo, DecodeError, decode_video
from zsar.extract.decoders import AUTO
from zsar.extract.sampling import SamplingConfig

log = logging.getLogger(__name__)

PREFETCH_PER_WORKER = 2       # groups decoded ahead per worker
GROUP_BYTES = 32 << 20        # frames per task (and per slot) at most, so a group stays a few videos
MAX_GROUP = 4                 # videos per task at most: few slots stay small, and work spreads over the workers
CHECK_S = 2.0                 # how often a waiting process checks that the other side is alive


@dataclass
class LoadedVideo:
    """One video out of the loader: its position in the work list, and frames or the decoder's error.

    ``clips`` is the number of clips it has (0 if it failed); it stays when the frames are released.
    ``digest`` is the file's ``content_digest`` when the loader was asked for it.
    """

    position: int
    decoded: DecodedVideo | None
    error: str = ""
    clips: int = -1
    digest: str = dataclasses.field(default="", kw_only=True)

    def __post_init__(self) -> None:
        if self.clips < 0:
            self.clips = 0 if self.decoded is None else int(self.decoded.frames.shape[0])

    @property
    def n_clips(self) -> int:
        return self.clips


@dataclass(frozen=True, kw_only=True)
class DecodeSettings:
    """How every video of a run is decoded: ``decoder`` and ``resize`` (``zsar.extract.decode``), the
    decoding ``device`` (``cuda`` only for torchcodec's NVDEC), and whether to take each file's
    ``content_digest`` (read in full just before decoding, so the decoder then reads it from the page cache)."""

    decoder: str = AUTO
    resize: str = DEFAULT_RESIZE
    device: str = "cpu"
    digest: bool = False
    window: int = DEFAULT_WINDOW
    threads: int = 1


class VideoDecodeDataset:
    """Item ``i``: video ``records[i]`` decoded (or its ``DecodeError`` message), as a ``LoadedVideo``."""

    def __init__(self, records: Sequence, sampling: SamplingConfig, size: int,
                 settings: DecodeSettings | None = None) -> None:
        self.records = list(records)
        self.sampling, self.size = sampling, size
        self.settings = settings or DecodeSettings()

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> LoadedVideo:
        record, s = self.records[i], self.settings
        digest = content_digest(record.path) if s.digest else ""
        try:
            decoded = decode_video(record.path, self.sampling, self.size, record.start, record.end, window=s.window,
                                   threads=s.threads, decoder=s.decoder, resize=s.resize, device=s.device)
        except DecodeError as err:
            return LoadedVideo(i, None, str(err), digest=digest)
        return LoadedVideo(i, decoded, digest=digest)

    @property
    def clip_shape(self) -> tuple[int, ...]:
        """The shape of one video's frames: ``(clips, T, S, S, 3)``."""
        return (self.sampling.clips, self.sampling.frames, self.size, self.size, 3)


def make_loader(records: Sequence, sampling: SamplingConfig, size: int, workers: int,
                settings: DecodeSettings | None = None) -> Iterable[LoadedVideo]:
    """Decoded videos of ``records`` in order, decoded by ``workers`` processes (0: in this process).

    Decoding on a GPU (``settings.device`` not ``cpu``) runs in ``workers`` threads of this
    process instead (``zsar.extract.gpu_loader``): forked workers cannot hold CUDA decoders.
    """
    dataset = VideoDecodeDataset(records, sampling, size, settings)
    if dataset.settings.device != "cpu":
        from zsar.extract.gpu_loader import ThreadDecodePool

        return ThreadDecodePool(dataset, max(1, workers))
    if workers == 0 or len(dataset) == 0:
        return (dataset[i] for i in range(len(dataset)))
    return DecodePool(dataset, workers)


def group_size(video_bytes: int, n_videos: int, workers: int) -> int:
    """Videos per task: up to ``MAX_GROUP`` within ``GROUP_BYTES``, and every worker gets tasks."""
    by_bytes = max(1, GROUP_BYTES // max(1, video_bytes))
    by_workers = max(1, n_videos // (2 * workers))
    return max(1, min(MAX_GROUP, by_bytes, by_workers))


class DecodePool:
    """``workers`` processes decode groups of videos into shared slots; iterate for the videos in order.

    Iterate once. Leaving the iteration early (or ``close()``) stops the workers; a worker
    that dies is a ``ZsarError`` naming it, and an exception inside one is re-raised here
    with its traceback text.
    """

    def __init__(self, dataset: VideoDecodeDataset, workers: int, prefetch: int = PREFETCH_PER_WORKER) -> None:
        self.dataset, self.workers = dataset, workers
        shape = dataset.clip_shape
        self.group = group_size(math.prod(shape), len(dataset), workers)
        self.n_tasks = math.ceil(len(dataset) / self.group)
        self.n_slots = min(self.n_tasks, workers * prefetch + 1)
        self.slots = torch.empty((self.n_slots, self.group) + shape, dtype=torch.uint8).share_memory_()
        context = mp.get_context()
        self.tasks, self.results = context.Queue(), context.Queue()
        self.processes = [context.Process(target=_worker_loop, daemon=True,
                                          args=(dataset, self.slots, self.group, self.tasks, self.results,
                                                os.getpid()))
                          for _ in range(workers)]
        for process in self.processes:
            process.start()
        log.debug("%d decoding worker(s), %d video(s) per task, %d slot(s) of %.1f MB", workers, self.group,
                  self.n_slots, self.slots[0].numel() / 1e6)

    def __iter__(self) -> Iterator[LoadedVideo]:
        try:
            for task in range(self.n_slots):
                self.tasks.put((task, task))
            submitted = self.n_slots
            received: dict[int, list] = {}
            for task in range(self.n_tasks):
                while task not in received:
                    done, items = self._receive()
                    received[done] = items
                slot = self.slots[task % self.n_slots]
                for j, (position, meta, error, digest) in enumerate(received.pop(task)):
                    decoded = None if meta is None else dataclasses.replace(meta, frames=slot[j])
                    yield LoadedVideo(position, decoded, error, digest=digest)
                if submitted < self.n_tasks:  # the consumer has moved past this slot's videos
                    self.tasks.put((submitted, submitted % self.n_slots))
                    submitted += 1
        finally:
            self.close()

    def _receive(self) -> tuple[int, list]:
        """The next finished task ``(task, items)``; raises if a worker failed or died."""
        while True:
            try:
                done, items = self.results.get(timeout=CHECK_S)
            except queue.Empty:
                dead = [p for p in self.processes if not p.is_alive()]
                if dead:
                    code = dead[0].exitcode
                    how = f"signal {-code}" if code is not None and code < 0 else f"exit code {code}"
                    raise ZsarError(f"a decoding worker (pid {dead[0].pid}) died ({how}); run again with "
                                    "--workers 0 to decode in one process and see which video stops it") from None
                continue
            if isinstance(items, str):
                raise RuntimeError(f"a decoding worker failed:\n{items}")
            return done, items

    def close(self) -> None:
        """Stop the workers (they finish the task at hand) and free the queues."""
        if not self.processes:
            return
        for _ in self.processes:
            self.tasks.put(None)
        for process in self.processes:
            process.join(timeout=CHECK_S)
            if process.is_alive():
                process.kill()
                process.join()
        self.processes = []
        for q in (self.tasks, self.results):
            q.close()
            q.cancel_join_thread()


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when its parent dies (a ``kill -9`` of ``zsar extract``)."""
    try:
        libc = ctypes.CDLL(None)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass  # elsewhere the worker notices at its next CHECK_S


def _worker_loop(dataset: VideoDecodeDataset, slots: torch.Tensor, group: int, tasks, results,
                 parent: int) -> None:
    """Decode tasks ``(task, slot)`` until a ``None``: frames into ``slots[slot]``, metadata onto ``results``."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the main process's to handle
    torch.set_num_threads(1)
    results.cancel_join_thread()
    while True:
        try:
            task = tasks.get(timeout=CHECK_S)
        except queue.Empty:
            if os.getppid() != parent:
                return
            continue
        if task is None:
            return
        number, slot = task
        try:
            results.put((number, _decode_group(dataset, slots[slot], number * group, group)))
        except Exception:  # a bug, not a bad video: the main process raises it
            results.put((number, traceback.format_exc()))


def _decode_group(dataset: VideoDecodeDataset, slot: torch.Tensor, first: int, group: int) -> list:
    """Decode videos ``first ..`` into ``slot``; ``(position, DecodedVideo without frames | None, error)`` each."""
    items = []
    for j, position in enumerate(range(first, min(first + group, len(dataset)))):
        video = dataset[position]
        if video.decoded is None:
            items.append((position, None, video.error, video.digest))
            continue
        slot[j].copy_(video.decoded.frames)
        items.append((position, dataclasses.replace(video.decoded, frames=None), "", video.digest))
    return items
