"""Which frames of a video become the backbone's input: pure index arithmetic, no decoding.

Two modes, as the published methods sample:

``uniform`` (TSN, ActionCLIP)
    The video (or its trimmed segment ``[start_frame, end_frame)`` of length ``L``) is cut
    into ``T`` equal segments and each clip takes one frame per segment. With one clip that
    frame is the segment's centre, ``floor((i + 1/2) * L / T)``; with ``N`` clips (test-time
    views) view ``v`` takes the frame at fraction ``(v + 1/2) / N`` of every segment, so the
    views interleave and the middle view is the centre. Integer arithmetic throughout: the
    index is ``((2 i N + 2 v + 1) * L) // (2 N T)``.

``dense`` (E2E)
    ``N`` clips of ``T`` consecutive frames ``stride`` apart (a clip spans
    ``(T - 1) * stride + 1`` frames). One clip sits in the middle of the video; several are
    spread evenly so the first starts at the first frame and the last ends at the last
    frame: start ``k`` is ``(k * (L - span)) // (N - 1)``.

Short videos never fail: ``uniform`` repeats frames (segments shorter than one frame share
it), ``dense`` clips longer than the video start at its first frame and hold its last frame
(indices are clamped to ``L - 1``). The result is deterministic: the same ``n_frames`` and
config always give the same indices.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zsar.errors import ZsarError

SAMPLING_MODES = ("uniform", "dense")


@dataclass(frozen=True)
class SamplingConfig:
    """How frames are picked: ``mode``, ``frames`` (T) per clip, ``clips`` (N) per video, dense ``stride``."""

    mode: str = "uniform"
    frames: int = 8
    clips: int = 1
    stride: int = 1

    def __post_init__(self) -> None:
        if self.mode not in SAMPLING_MODES:
            raise ZsarError(f"--sampling {self.mode!r}: choose one of {', '.join(SAMPLING_MODES)}")
        for flag, value in (("--frames", self.frames), ("--clips", self.clips), ("--stride", self.stride)):
            if value < 1:
                raise ZsarError(f"{flag} {value}: must be at least 1")
        if self.mode == "uniform" and self.stride != 1:
            raise ZsarError(f"--stride {self.stride} applies to --sampling dense only; drop it or use dense")

    @property
    def span(self) -> int:
        """Frames covered by one dense clip."""
        return (self.frames - 1) * self.stride + 1

    def describe(self) -> str:
        """Short name used in cache folder names: ``uniform8x1``, ``dense16x2s2``."""
        text = f"{self.mode}{self.frames}x{self.clips}"
        return text + (f"s{self.stride}" if self.mode == "dense" else "")


def sample_indices(n_frames: int, config: SamplingConfig, start_frame: int = 0,
                   end_frame: int | None = None) -> np.ndarray:
    """Frame numbers to decode, ``(clips, T)`` int64, all within ``[start_frame, end_frame)``.

    ``end_frame`` defaults to ``n_frames``; both bounds are clipped to the video. Raises
    ``ValueError`` if nothing is left (an empty video, or a segment outside it).
    """
    first = max(0, int(start_frame))
    stop = n_frames if end_frame is None else min(int(end_frame), n_frames)
    length = stop - first
    if length <= 0:
        raise ValueError(f"no frames to sample: frames [{first}, {stop}) of a {n_frames}-frame video")
    if config.mode == "uniform":
        index = _uniform(length, config.frames, config.clips)
    else:
        index = _dense(length, config.frames, config.clips, config.stride)
    return index + first


def _uniform(length: int, frames: int, clips: int) -> np.ndarray:
    i = np.arange(frames, dtype=np.int64)[None, :]
    v = np.arange(clips, dtype=np.int64)[:, None]
    return ((2 * i * clips + 2 * v + 1) * length) // (2 * clips * frames)


def _dense(length: int, frames: int, clips: int, stride: int) -> np.ndarray:
    span = (frames - 1) * stride + 1
    room = max(0, length - span)
    if clips == 1:
        starts = np.array([room // 2], dtype=np.int64)
    else:
        starts = (np.arange(clips, dtype=np.int64) * room) // (clips - 1)
    index = starts[:, None] + stride * np.arange(frames, dtype=np.int64)[None, :]
    return np.minimum(index, length - 1)
