"""Decode the sampled frames of one video with decord, resized and centre-cropped for a backbone.

``decode_video(path, sampling, size)`` opens a decord ``VideoReader`` on the CPU, reads
only the frames ``sample_indices`` asks for with ``get_batch`` (never ``seek``, which
lands on keyframes), ``window`` distinct frames at a time so a long video never sits in
memory whole, and resizes each window in one ``interpolate`` call: short side to ``size``,
then the centre ``size x size`` square. A trimmed segment (ActivityNet) is given in
seconds and only frames inside it are decoded.

Anything the decoder cannot do (missing, empty, corrupt, truncated or non-video file; a
segment outside the video) raises ``DecodeError`` carrying the decoder's message, which
the extractor stores in the video's ``failed`` manifest row.

A file whose container claims more frames than the decoder can read (an AVI cut short:
decord then counts only the frames it finds) is decoded from what is there and marked:
``DecodedVideo.note`` says how many frames of how many, and goes into its manifest row.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

import av
import decord
import numpy as np
import torch
import torch.nn.functional as F

from zsar.extract.sampling import SamplingConfig, sample_indices

DEFAULT_WINDOW = 64          # distinct frames decoded (and resized) at once
DEFAULT_DECODE_THREADS = 1   # decord threads per reader; parallelism comes from loader workers

# The decoder's complaints about damaged streams go into manifest rows, not onto stderr.
decord.logging.set_level(decord.logging.QUIET)


class DecodeError(Exception):
    """A video that could not be decoded; ``str()`` is the reason, with the decoder's message."""


@dataclass(kw_only=True)
class DecodedVideo:
    """The sampled clips of one video.

    ``frames`` uint8 ``(clips, T, S, S, 3)``; ``frame_index`` int64 ``(clips, T)`` frame
    numbers in the file; ``timestamps`` float32 ``(clips, T)`` seconds of those frames.
    """

    frames: torch.Tensor
    frame_index: np.ndarray
    timestamps: np.ndarray
    n_frames: int
    fps: float
    duration: float
    note: str = ""  # what was lost: e.g. only part of the frames the container claims decoded


def resize_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """uint8 ``(n, H, W, 3)`` -> uint8 ``(n, size, size, 3)``: short side to ``size``, centre crop.

    Bilinear with antialiasing (so downscaling does not alias), one call for all ``n``.
    """
    n, height, width, _ = frames.shape
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    x = frames.permute(0, 3, 1, 2).float()
    if (new_h, new_w) != (height, width):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = x[:, :, top:top + size, left:left + size]
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def _open(path: Path, threads: int) -> decord.VideoReader:
    if not path.is_file():
        raise DecodeError(f"file not found: {path}")
    if os.path.getsize(path) == 0:
        raise DecodeError("empty file (0 bytes)")
    try:
        return decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=threads)
    except (decord.DECORDError, RuntimeError) as err:  # decord raises RuntimeError for unreadable files
        raise DecodeError(f"cannot open video: {_first_line(err)}") from None


_LOG_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ")  # decord's "[12:00:00] file.cc:42: "


def _first_line(err: Exception) -> str:
    """The decoder's message on one line, without decord's timestamp and source-file prefixes."""
    text = _LOG_PREFIX.sub("", str(err)).strip() or type(err).__name__
    return " ".join(text.split())[:500]


def claimed_frames(path: Path) -> int:
    """The frame count the container's header claims for its first video stream (0 when it does not say)."""
    try:
        with av.open(str(path)) as container:
            return int(container.streams.video[0].frames or 0)
    except (av.FFmpegError, IndexError, OSError, ValueError):
        return 0


def _partial_note(path: Path, n_frames: int) -> str:
    claimed = claimed_frames(path)
    if claimed > n_frames:
        return f"partly decoded: {n_frames} of the {claimed} frames its container claims"
    return ""


def _frame_range(n_frames: int, fps: float, start: float, end: float) -> tuple[int, int | None]:
    """Frames ``[first, stop)`` of the segment ``[start, end]`` seconds (NaN: the whole video)."""
    if math.isnan(start) and math.isnan(end):
        return 0, None
    first = 0 if math.isnan(start) else int(math.floor(start * fps))
    stop = None if math.isnan(end) else int(math.ceil(end * fps))
    return first, stop


def _read_window(reader: decord.VideoReader, index: np.ndarray) -> torch.Tensor:
    try:
        batch = reader.get_batch(index.tolist()).asnumpy()
    except (decord.DECORDError, RuntimeError) as err:
        raise DecodeError(f"decoding frames {index[0]}..{index[-1]} failed: {_first_line(err)}") from None
    if batch.shape[0] != len(index):
        raise DecodeError(f"truncated: asked for {len(index)} frames from {index[0]}, "
                          f"the decoder returned {batch.shape[0]}")
    return torch.from_numpy(batch)


def decode_video(path: Path | str, sampling: SamplingConfig, size: int, start: float = float("nan"),
                 end: float = float("nan"), *, window: int = DEFAULT_WINDOW,
                 threads: int = DEFAULT_DECODE_THREADS) -> DecodedVideo:
    """Decode the frames ``sampling`` picks from ``path`` (optionally only ``[start, end]`` seconds).

    Raises ``DecodeError`` when the file cannot be decoded.
    """
    path = Path(path)
    reader = _open(path, threads)
    n_frames = len(reader)
    fps = float(reader.get_avg_fps())
    if n_frames <= 0 or not fps > 0:
        raise DecodeError(f"no decodable video stream ({n_frames} frames at {fps} fps)")
    first, stop = _frame_range(n_frames, fps, start, end)
    try:
        index = sample_indices(n_frames, sampling, first, stop)
    except ValueError:
        raise DecodeError(f"segment [{start:.2f}, {end:.2f}] s is outside the video "
                          f"({n_frames} frames, {n_frames / fps:.2f} s)") from None
    unique, inverse = np.unique(index, return_inverse=True)
    out = torch.empty((len(unique), size, size, 3), dtype=torch.uint8)
    for lo in range(0, len(unique), window):
        part = unique[lo:lo + window]
        out[lo:lo + len(part)] = resize_crop(_read_window(reader, part), size)
    frames = out[torch.from_numpy(inverse.reshape(-1))].reshape(index.shape + (size, size, 3))
    timestamps = (index / fps).astype(np.float32)
    return DecodedVideo(frames=frames, frame_index=index, timestamps=timestamps, n_frames=n_frames, fps=fps,
                        duration=n_frames / fps, note=_partial_note(path, n_frames))
