"""Backbone batches of clips across videos, filled in place and encoded one batch ahead.

``encode_videos`` copies each video's clips into a preallocated batch buffer as soon as
the video arrives (then drops the video's frames: a loader slot or decoded tensor is free
again), cuts batches of ``batch_size`` clips regardless of video and chunk boundaries, and
hands each video back, in order, with its features once all its clips are encoded.

There are two batch buffers (pinned memory when the backbone is on a GPU). When one is
full it is launched (``Backbone.launch``: a non-blocking copy to the device, the network,
a non-blocking copy of the features back), and the main process goes on filling the other
one; the features of a batch are taken (``PendingFeatures.result()``) only after the next
batch has been launched, so the process never waits for the batch it has just launched. A
buffer is refilled only after its batch's features are back, so its copy to the device is
over by then. On a CPU, ``launch`` computes at once and the same order is simply correct.

The copies into a buffer are numpy copies: one thread, whatever torch's thread count
(torch's own copy of a large tensor would wake its OpenMP threads in the main process,
which then spin against the decoding workers).
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from zsar.extract.loader import LoadedVideo

RELEASED = torch.empty(0, dtype=torch.uint8)  # the frames of a video once they are in a batch buffer


@dataclass
class EncodedVideo:
    """A video with its features ``(clips, T', D)`` float32, or with its decoder error."""

    item: LoadedVideo
    features: np.ndarray | None


@dataclass
class _Waiting:
    """A video handed in whose clips are not all encoded yet."""

    item: LoadedVideo
    missing: int                                          # clips not yet encoded
    parts: list[torch.Tensor] = dataclasses.field(default_factory=list)


class _Batches:
    """Two reusable batch buffers, the batch being filled, and the batch launched before it."""

    def __init__(self, launch: Callable, batch_size: int, pinned: bool) -> None:
        self.launch, self.batch_size, self.pinned = launch, batch_size, pinned
        self.buffers: list[torch.Tensor] = []
        self.current = 0        # which buffer is being filled
        self.filled = 0         # clips in it
        self.spans: list[tuple[_Waiting, int]] = []     # (video, clips) in the buffer being filled, in order
        self.in_flight: tuple[object, list] | None = None

    def _allocate(self, clip_shape: tuple[int, ...]) -> None:
        shape = (self.batch_size,) + clip_shape
        self.buffers = [torch.empty(shape, dtype=torch.uint8, pin_memory=self.pinned) for _ in range(2)]
        self.views = [b.numpy() for b in self.buffers]

    def add(self, entry: _Waiting, frames: torch.Tensor) -> None:
        """Copy ``frames`` (the video's clips) into the buffers, launching each buffer that fills up."""
        if not self.buffers:
            self._allocate(tuple(frames.shape[1:]))
        source = frames.numpy()
        done = 0
        while done < len(source):
            take = min(len(source) - done, self.batch_size - self.filled)
            self.views[self.current][self.filled:self.filled + take] = source[done:done + take]
            self.spans.append((entry, take))
            self.filled += take
            done += take
            if self.filled == self.batch_size:
                self.flush()

    def flush(self) -> None:
        """Launch the clips gathered so far (if any), then take the features of the batch before."""
        if self.filled:
            pending = self.launch(self.buffers[self.current][:self.filled])
            launched = (pending, self.spans)
            self.spans, self.filled, self.current = [], 0, 1 - self.current
        else:
            launched = None
        if self.in_flight is not None:
            self._collect(*self.in_flight)
        self.in_flight = launched

    def finish(self) -> None:
        """Launch what is left and take every feature."""
        self.flush()
        self.flush()

    @staticmethod
    def _collect(pending, spans: list[tuple[_Waiting, int]]) -> None:
        features = pending if isinstance(pending, torch.Tensor) else pending.result()
        offset = 0
        for entry, n in spans:
            entry.parts.append(features[offset:offset + n])
            entry.missing -= n
            offset += n


def encode_videos(videos: Iterable[LoadedVideo], launch: Callable[[torch.Tensor], object], batch_size: int,
                  pinned: bool = False) -> Iterator[EncodedVideo]:
    """Encode the clips of ``videos`` in batches of ``batch_size`` (the last fewer); see the module docstring.

    ``launch`` maps uint8 ``(B, T, S, S, 3)`` to float32 ``(B, T', D)``, or to an object whose
    ``result()`` gives them later (``Backbone.launch``); it must have read its input by then.
    ``pinned``: allocate the batch buffers in pinned memory (for a GPU backbone). Videos come
    back in input order; failed ones pass through with ``features=None`` in their place.
    """
    batches = _Batches(launch, batch_size, pinned)
    waiting: deque[_Waiting] = deque()
    for video in videos:
        entry = _Waiting(video, video.n_clips)
        waiting.append(entry)
        if video.decoded is not None:
            batches.add(entry, video.decoded.frames)
            video.decoded = dataclasses.replace(video.decoded, frames=RELEASED)
        yield from _finished(waiting)
    batches.finish()
    yield from _finished(waiting)
    assert not waiting, "every video is handed back"


def _finished(waiting: deque[_Waiting]) -> Iterator[EncodedVideo]:
    """Hand back the leading videos whose clips are all encoded."""
    while waiting and waiting[0].missing == 0:
        entry = waiting.popleft()
        if entry.item.decoded is None:
            yield EncodedVideo(entry.item, None)
            continue
        parts = entry.parts
        features = parts[0] if len(parts) == 1 else torch.cat(parts)
        yield EncodedVideo(entry.item, features.numpy())
