"""Windows of a long video: ``--window S --stride S`` gives a label per window, a timeline.

``window_bounds(duration, window, stride)`` cuts ``[0, duration]`` seconds into windows
``[k * stride, k * stride + window]`` for k = 0, 1, ... while a window ends within the
video; when the last of them ends more than half a stride before the video does, one more
window ends at the video's end (so the end is never left out); a video no longer than one
window has none (its own row is its timeline). A 60 s video with ``--window 5 --stride 5``
has 12 windows, 0-5 s to 55-60 s; with ``--stride 2.5``, 23.

Each window is a row of the per-file cache (``zsar.extract.datasets.unlabelled``: the
video's id with ``#t=START,END``), extracted with the same sampling as a whole video (8
frames spread over the window, by default) and reused by later calls like any row. The
duration comes from the container (``video_duration``: its frame count and rate, else its
stream's or its own duration), read without decoding a frame; a video whose container does
not say gets no windows, only its whole-video row (a note says so).

``asked_videos`` pairs each video asked about with its windows (an ``Asked``); a file whose
name is not valid UTF-8 gets none and a ``name_error`` instead, and becomes a failed row
naming it (escaped) while the other videos go on.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.datasets.unlabelled import video_id_of
from zsar.predict.inputs import VideoInput

EPSILON = 1e-6  # seconds: a window ending this close past the video's end still fits (rounded durations)


@dataclass(frozen=True)
class WindowSpec:
    """``window`` seconds per window, a new one every ``stride`` seconds (default: ``window``, no overlap)."""

    window: float
    stride: float

    def __post_init__(self) -> None:
        for flag, value in (("--window", self.window), ("--stride", self.stride)):
            if not math.isfinite(value) or value <= 0:
                raise ZsarError(f"{flag} {value:g}: must be a positive number of seconds, e.g. --window 5")

    @classmethod
    def of(cls, window: float | None, stride: float | None) -> "WindowSpec | None":
        """The spec of ``--window`` and ``--stride`` (None without ``--window``; ``--stride`` alone is refused)."""
        if window is None:
            if stride is not None:
                raise ZsarError(f"--stride {stride:g} needs --window: give the window length too, e.g. "
                                f"--window {stride:g} --stride {stride:g}")
            return None
        return cls(float(window), float(window if stride is None else stride))


def window_bounds(duration: float, window: float, stride: float) -> list[tuple[float, float]]:
    """``[(start, end), ...]`` seconds of the windows of a ``duration``-second video (see the module doc)."""
    if duration <= window + EPSILON:
        return []
    bounds = []
    k = 0
    while k * stride + window <= duration + EPSILON:
        start = round(k * stride, 6)
        bounds.append((start, round(start + window, 6)))
        k += 1
    if duration - bounds[-1][1] > stride / 2:
        bounds.append((round(duration - window, 6), round(duration, 6)))
    return bounds


def video_duration(path: Path | str) -> float | None:
    """The video's duration in seconds as its container says, without decoding (None when it does not say)."""
    import av

    try:
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            if stream.frames and rate:
                return float(stream.frames / rate)
            if stream.duration and stream.time_base:
                return float(stream.duration * stream.time_base)
            if container.duration:
                return container.duration / av.time_base
    except (av.FFmpegError, IndexError, OSError, ValueError, ZeroDivisionError):
        return None
    return None


@dataclass(frozen=True)
class Asked:
    """One video asked about and the windows of its timeline; ``name_error`` when its name cannot be listed."""

    video: VideoInput
    windows: tuple[tuple[float, float], ...] = ()
    name_error: str = ""

    def window_ids(self) -> list[str]:
        return [video_id_of(self.video.path, start, end) for start, end in self.windows]


def asked_videos(videos: list[VideoInput], spec: WindowSpec | None) -> tuple[list[Asked], list[str]]:
    """Each video with its windows (durations read from the containers), and notes on videos without windows."""
    asked, no_duration = [], []
    for video in videos:
        try:
            os.fsencode(str(video.path)).decode("utf-8")
        except UnicodeDecodeError:
            asked.append(Asked(video, name_error="its file name is not valid UTF-8, which the cache's manifest "
                                                  "cannot hold; rename the file (e.g. with `convmv`) to predict it"))
            continue
        duration = video_duration(video.path) if spec is not None else None
        if spec is not None and duration is None:
            no_duration.append(video.shown)
        bounds = window_bounds(duration, spec.window, spec.stride) if spec is not None and duration else []
        asked.append(Asked(video, tuple(bounds)))
    notes = [f"{len(no_duration)} video(s) have no duration in their container, so no windows: "
             f"{', '.join(no_duration[:3])}{' ...' if len(no_duration) > 3 else ''}"] if no_duration else []
    return asked, notes
