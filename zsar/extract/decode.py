"""Decode the sampled frames of one video, resized and centre-cropped for a backbone.

``decode_video(path, sampling, size)`` opens the file with a decoder
(``zsar.extract.decoders``: ``decord``, ``pyav``, ``torchcodec``, or ``auto``: the fastest
first and PyAV for the files it cannot read), reads only the frames ``sample_indices`` asks
for, ``window`` distinct frames at a time so a long video never sits in memory whole, and
resizes each window in one call: short side to ``size``, then the centre ``size x size``
square. A trimmed segment (ActivityNet) is given in seconds and only frames inside it are
decoded.

Two resize methods (``RESIZE_METHODS``; the cache key names the one used):

- ``uint8`` (the default): torch's antialiased bilinear ``interpolate`` on the uint8 frames,
  channels last, as the decoder gave them: about 1 ms for 8 frames of 320x240;
- ``float``: the same interpolation in float32 on channels-first copies, rounded back to
  uint8: what zsar did before (about 24 ms for the same frames), kept so caches made
  before can be extended with the same pixels and the two can be compared. The two differ
  by at most a few levels (``docs/benchmarks-extract.md``).

Anything the decoder cannot do (missing, empty, corrupt, truncated or non-video file; a
segment outside the video) raises ``DecodeError`` carrying the decoder's message, which
the extractor stores in the video's ``failed`` manifest row; with ``auto`` it carries both
decoders' messages.

A file whose container claims more frames than the decoder can read (a file cut short) is
decoded from what is there and marked: ``DecodedVideo.note`` says how many frames of how
many, and goes into its manifest row. The claim is the stream's frame count, else its
duration times its frame rate, else the container's duration times that rate
(``claimed_frames``): Matroska and WebM headers carry no frame count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import torch
import torch.nn.functional as F

from zsar.cache.manifest import PARTLY_DECODED
from zsar.extract.decoders import AUTO, DECODERS, DecodeError, Reader, auto_order, joined_reason, open_reader
from zsar.extract.sampling import SamplingConfig, sample_indices

__all__ = ["DecodeError", "DecodedVideo", "decode_video", "resize_crop", "claimed_frames", "RESIZE_METHODS"]

DEFAULT_WINDOW = 64          # distinct frames decoded (and resized) at once
DEFAULT_DECODE_THREADS = 1   # decoder threads per reader; parallelism comes from loader workers
RESIZE_METHODS = ("uint8", "float")
DEFAULT_RESIZE = "uint8"
LEGACY_RESIZE, LEGACY_DECODER = "float", "decord"   # what caches made before both options were
CLAIM_SLACK = 1              # frames a duration-based claim may exceed the count by (rounding of durations)


@dataclass(kw_only=True)
class DecodedVideo:
    """The sampled clips of one video.

    ``frames`` uint8 ``(clips, T, S, S, 3)``; ``frame_index`` int64 ``(clips, T)`` frame
    numbers in the file; ``timestamps`` float32 ``(clips, T)`` seconds of those frames.
    ``decoder`` names the decoder that read it; ``note`` what was lost or which fallback read it.
    """

    frames: torch.Tensor
    frame_index: np.ndarray
    timestamps: np.ndarray
    n_frames: int
    fps: float
    duration: float
    note: str = ""  # what was lost: e.g. only part of the frames the container claims decoded
    decoder: str = ""
    cpu_fallback: bool = False   # torchcodec on CUDA decoded this file on the CPU


def _scaled(height: int, width: int, size: int) -> tuple[int, int]:
    scale = size / min(height, width)
    return max(size, round(height * scale)), max(size, round(width * scale))


def resize_crop(frames: torch.Tensor, size: int, method: str = DEFAULT_RESIZE) -> torch.Tensor:
    """uint8 ``(n, H, W, 3)`` -> uint8 ``(n, size, size, 3)``: short side to ``size``, centre crop.

    Bilinear with antialiasing (so downscaling does not alias), one call for all ``n``;
    ``method`` ``uint8`` interpolates the uint8 frames channels last, ``float`` in float32
    (see the module doc).
    """
    if method not in RESIZE_METHODS:
        raise ValueError(f"resize method {method!r} is not one of {RESIZE_METHODS}")
    _, height, width, _ = frames.shape
    new_h, new_w = _scaled(height, width, size)
    x = frames.permute(0, 3, 1, 2)  # NCHW view with channels-last strides
    if method == "float":
        x = x.float()
    elif not x.is_contiguous(memory_format=torch.channels_last):
        x = x.contiguous(memory_format=torch.channels_last)
    if (new_h, new_w) != (height, width):
        if method == "uint8" and x.device.type != "cpu":  # CUDA has no uint8 antialiased kernel
            x = F.interpolate(x.float(), size=(new_h, new_w), mode="bilinear", align_corners=False,
                              antialias=True).round_().clamp_(0, 255).to(torch.uint8)
        else:
            x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = x[:, :, top:top + size, left:left + size]
    if method == "float":
        x = x.round_().clamp_(0, 255).to(torch.uint8)
    return x.permute(0, 2, 3, 1).contiguous()


def container_claim(path: Path | str) -> tuple[int, bool]:
    """The frames the container claims for its first video stream, and whether that is a count (not a duration).

    ``(0, False)`` when it does not say; see the module doc for where the claim comes from.
    """
    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            if stream.frames:
                return int(stream.frames), True
            rate = stream.average_rate or stream.guessed_rate
            if not rate:
                return 0, False
            if stream.duration and stream.time_base:
                return int(round(float(stream.duration * stream.time_base * rate))), False
            if container.duration:
                return int(round(container.duration / av.time_base * float(rate))), False
    except (av.FFmpegError, IndexError, OSError, ValueError, ZeroDivisionError):
        pass
    return 0, False


def claimed_frames(path: Path | str) -> int:
    """The frames the container claims (``container_claim``), 0 when it does not say."""
    return container_claim(path)[0]


def _partial_note(path: Path, n_frames: int) -> str:
    claimed, counted = container_claim(path)
    if claimed > n_frames + (0 if counted else CLAIM_SLACK):
        return f"{PARTLY_DECODED}: {n_frames} of the {claimed} frames its container claims"
    return ""


def _frame_range(n_frames: int, fps: float, start: float, end: float) -> tuple[int, int | None]:
    """Frames ``[first, stop)`` of the segment ``[start, end]`` seconds (NaN: the whole video)."""
    if math.isnan(start) and math.isnan(end):
        return 0, None
    first = 0 if math.isnan(start) else int(math.floor(start * fps))
    stop = None if math.isnan(end) else int(math.ceil(end * fps))
    return first, stop


def _decode_with(reader: Reader, sampling: SamplingConfig, size: int, start: float, end: float, window: int,
                 resize: str) -> tuple[torch.Tensor, np.ndarray]:
    n_frames, fps = reader.n_frames, reader.fps
    first, stop = _frame_range(n_frames, fps, start, end)
    try:
        index = sample_indices(n_frames, sampling, first, stop)
    except ValueError:
        raise DecodeError(f"segment [{start:.2f}, {end:.2f}] s is outside the video "
                          f"({n_frames} frames, {n_frames / fps:.2f} s)") from None
    unique, inverse = np.unique(index, return_inverse=True)
    out = None
    for lo in range(0, len(unique), window):
        part = unique[lo:lo + window]
        resized = resize_crop(reader.read(part), size, resize)
        if out is None:
            out = torch.empty((len(unique), size, size, 3), dtype=torch.uint8, device=resized.device)
        out[lo:lo + len(part)] = resized
    frames = out[torch.from_numpy(inverse.reshape(-1)).to(out.device)].reshape(index.shape + (size, size, 3))
    return frames, index


def _attempt(name: str, path: Path, sampling: SamplingConfig, size: int, start: float, end: float, window: int,
             threads: int, resize: str, device: str) -> DecodedVideo:
    reader = open_reader(name, path, threads, device)
    try:
        try:
            frames, index = _decode_with(reader, sampling, size, start, end, window, resize)
        except DecodeError as err:  # an index that lists more frames than the file holds: read those it holds
            if not str(err).startswith("truncated or damaged") or not hasattr(reader, "rescan") or not reader.rescan():
                raise
            frames, index = _decode_with(reader, sampling, size, start, end, window, resize)
        fallback = bool(getattr(reader, "cpu_fallback", False))
    finally:
        reader.close()
    fps = reader.fps
    return DecodedVideo(frames=frames, frame_index=index, timestamps=(index / fps).astype(np.float32),
                        n_frames=reader.n_frames, fps=fps, duration=reader.n_frames / fps, decoder=name,
                        cpu_fallback=fallback)


def decoder_order(decoder: str) -> tuple[str, ...]:
    """The decoders ``decoder`` tries in turn: ``auto``'s order (those installed), else the one named."""
    if decoder != AUTO:
        DECODERS.entry(decoder)
        return (decoder,)
    return auto_order()


def decode_video(path: Path | str, sampling: SamplingConfig, size: int, start: float = float("nan"),
                 end: float = float("nan"), *, window: int = DEFAULT_WINDOW, threads: int = DEFAULT_DECODE_THREADS,
                 decoder: str = AUTO, resize: str = DEFAULT_RESIZE, device: str = "cpu") -> DecodedVideo:
    """Decode the frames ``sampling`` picks from ``path`` (optionally only ``[start, end]`` seconds).

    Raises ``DecodeError`` when no decoder of ``decoder_order(decoder)`` can decode the file.
    """
    path = Path(path)
    errors: list[tuple[str, str]] = []
    for name in decoder_order(decoder):
        try:
            decoded = _attempt(name, path, sampling, size, start, end, window, threads, resize, device)
        except DecodeError as err:
            if len(errors) == 0 and _same_for_every_decoder(str(err)):
                raise
            errors.append((name, str(err)))
            continue
        notes = [_partial_note(path, decoded.n_frames)]
        if errors:
            notes.append(f"read by {_NAMES[name]} after {'; '.join(f'{n} failed: {e}' for n, e in errors)}")
        decoded.note = "; ".join(n for n in notes if n)
        return decoded
    raise DecodeError(_combine(errors))


def _combine(errors: list[tuple[str, str]]) -> str:
    """Every decoder's message, ``"<decoder>: <message>"``; a reason all of them open with is said once, first."""
    if len(errors) == 1:
        return errors[0][1]
    marker = "cannot open video: "
    if not all(marker in e for _, e in errors):
        return "; ".join(f"{n}: {e}" for n, e in errors)
    reason = max((e.partition(marker)[0].rstrip(":; ") for _, e in errors), key=len)  # the most specific
    return joined_reason(reason, marker + "; ".join(f"{n}: {e.partition(marker)[2]}" for n, e in errors))


_NAMES = {"pyav": "PyAV", "decord": "decord", "torchcodec": "torchcodec"}


def _same_for_every_decoder(message: str) -> bool:
    """Failures no other decoder can change: the file is missing, empty, misnamed, or the segment is outside it."""
    return message.startswith(("file not found", "empty file", "the file name", "segment ["))
