"""Decoding on the GPU (NVDEC): threads of this process, each with its own CUDA decoders.

Two decoders decode on NVDEC: ``--decoder pyav-nvdec`` (PyAV through the CUDA hwaccel of
the FFmpeg in its wheels: ``zsar.extract.nvdec``) and ``--decoder torchcodec --device cuda``.
Forked worker processes cannot hold CUDA decoders, so both decode in ``--workers`` threads
of the extracting process (at least ``MIN_GPU_DECODERS`` are advised: NVDEC runs several
sessions at once, and one decoder leaves it idle while its thread converts, resizes and
copies). Each thread opens its file on the GPU and hands back the sampled frames as uint8
``(clips, T, S, S, 3)`` in system memory (torchcodec resizes on the GPU; PyAV downloads the
sampled frames and resizes on the CPU); the videos are handed out in list order, at most
``AHEAD_PER_THREAD`` per thread ahead of the consumer.

Two things are counted for the run summary (``GpuDecodeStats``):

- ``cpu_fallback``: files decoded on the CPU although CUDA was asked for (a codec or size
  NVDEC does not take; for PyAV also a CUDA failure on the file);
- the pixel check: the first ``CHECK_SAMPLE`` videos decoded on the GPU are decoded again
  by the CPU decoders (``auto``) and compared; a mean absolute difference above
  ``PIXEL_WARN`` levels (of 255) is a warning naming the video (NVDEC has mis-cropped
  videos that share a coded size: torchcodec issue 1704). NVDEC's colour conversion
  differs from FFmpeg's by about one level, so the threshold leaves room for that only.

``check_cuda_decoding`` refuses, in one line, a machine where the decoder cannot decode on
CUDA: no CUDA device for torch, the decoder's own test (``Reader.cuda_problem``: PyAV's
FFmpeg without the CUDA hwaccel, no ``libnvcuvid``, a test stream that does not decode on
NVDEC), or a first video that opens on the CPU but not on CUDA (torchcodec's CPU builds).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import torch

from zsar.errors import ZsarError
from zsar.extract.decode import decode_video
from zsar.extract.decoders import AUTO, DECODERS, DecodeError, first_line, open_reader

log = logging.getLogger(__name__)

MIN_GPU_DECODERS = 7
AHEAD_PER_THREAD = 2
CHECK_SAMPLE = 4
PIXEL_WARN = 4.0


@dataclass(kw_only=True)
class GpuDecodeStats:
    """What the GPU decoders did: files that fell back to the CPU, and the pixel check against the CPU decoders."""

    cpu_fallback: int = 0
    checked: int = 0
    max_abs: int = 0
    mean_abs: float = 0.0            # the largest per-video mean |GPU - CPU| among the videos checked
    warnings: list[str] = field(default_factory=list)

    def describe(self) -> str:
        text = f"{self.cpu_fallback} file(s) decoded on the CPU (cpu_fallback)"
        if self.checked:
            text += (f"; pixels of {self.checked} video(s) against the CPU decoder: max |diff| {self.max_abs}, "
                     f"mean {self.mean_abs:.2f} levels (warning above {PIXEL_WARN})")
        return text


def gpu_decoding(decoder: str, device_type: str) -> bool:
    """Whether ``--decoder decoder`` decodes on the GPU beside a backbone on ``device_type`` (``cuda``, ``cpu``).

    A decoder that decodes only on a GPU (``pyav-nvdec``) beside a CPU backbone is refused in one line.
    """
    if decoder == AUTO:
        return False
    reader = DECODERS.get(decoder)
    if reader.needs_cuda and device_type != "cuda":
        raise ZsarError(f"--decoder {decoder} decodes on NVDEC, a GPU's video decoder: it needs --device cuda "
                        f"(this run's device is {device_type}); on the CPU use --decoder pyav or auto")
    return reader.on_cuda and device_type == "cuda"


def check_cuda_decoding(path: Path, decoder: str, device: str) -> None:
    """Refuse, in one line, decoding on ``device`` where ``decoder`` cannot (see the module doc).

    Last, opens ``path`` (the run's first video) on ``device``; when that fails but the same
    file opens on the CPU, the failure is the GPU decoder's, not the file's.
    """
    if not torch.cuda.is_available():
        raise ZsarError(f"--decoder {decoder} --device {device}: no CUDA device is visible to torch; "
                        "use --decoder auto (CPU decoding in worker processes) or run on a GPU machine")
    problem = DECODERS.get(decoder).cuda_problem(device)
    if problem:
        raise ZsarError(f"--decoder {decoder} --device {device}: CUDA decoding is unavailable here: {problem}; "
                        "use --decoder auto (CPU decoding in worker processes)")
    try:
        open_reader(decoder, Path(path), 1, device).close()
    except DecodeError as err:
        try:
            open_reader(decoder, Path(path), 1, "cpu").close()
        except DecodeError:
            return  # the file itself cannot be read: its manifest row will say so
        raise ZsarError(f"--decoder {decoder} --device {device}: this {decoder} cannot decode on CUDA "
                        f"({str(err)[:200]}); install a CUDA build of it, or use --decoder auto") from None


class ThreadDecodePool:
    """``threads`` threads decode ``dataset``'s videos on the GPU; iterate once for them in order."""

    def __init__(self, dataset, threads: int, sample: int = CHECK_SAMPLE) -> None:
        self.dataset, self.threads = dataset, threads
        self.stats = GpuDecodeStats()
        self._sample, self._lock = sample, threading.Lock()
        if threads < MIN_GPU_DECODERS:
            log.info("%d GPU decoding thread(s); NVDEC keeps %d or more busy (--workers)", threads, MIN_GPU_DECODERS)
        self._executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="zsar-gpu-decode")

    def _decode(self, i: int):
        video = self.dataset[i]
        decoded = video.decoded
        if decoded is not None:
            decoded.frames = decoded.frames.cpu()
            with self._lock:
                self.stats.cpu_fallback += int(decoded.cpu_fallback)
                check = not decoded.cpu_fallback and self.stats.checked < self._sample
                self.stats.checked += int(check)
            if check:
                self._check_pixels(i, decoded.frames)
        return video

    def _check_pixels(self, i: int, frames: torch.Tensor) -> None:
        record, data = self.dataset.records[i], self.dataset
        try:
            cpu = decode_video(record.path, data.sampling, data.size, record.start, record.end, decoder=AUTO,
                               resize=data.settings.resize).frames
        except DecodeError as err:
            log.warning("pixel check of %s: the CPU decoders cannot read it (%s)", record.video_id, first_line(err))
            return
        diff = (frames.int() - cpu.int()).abs()
        mean = float(diff.float().mean())
        with self._lock:
            self.stats.max_abs = max(self.stats.max_abs, int(diff.max()))
            self.stats.mean_abs = max(self.stats.mean_abs, mean)
            if mean > PIXEL_WARN:
                text = (f"{record.video_id}: GPU-decoded pixels differ from the CPU decoder's by {mean:.1f} levels "
                        f"on average (max {int(diff.max())}); above {PIXEL_WARN}, its features may be wrong")
                self.stats.warnings.append(text)
                log.warning("%s", text)

    def __iter__(self) -> Iterator:
        pending: deque[Future] = deque()
        n, submitted = len(self.dataset), 0
        try:
            for _ in range(n):
                while submitted < n and len(pending) < self.threads * AHEAD_PER_THREAD:
                    pending.append(self._executor.submit(self._decode, submitted))
                    submitted += 1
                yield pending.popleft().result()
        finally:
            for future in pending:
                future.cancel()
            self.close()

    def close(self) -> None:
        """Stop the threads (each finishes the video at hand)."""
        self._executor.shutdown(wait=True, cancel_futures=True)
