"""Decode videos in DataLoader worker processes and feed the backbone batches of clips across videos.

``make_loader`` wraps a list of ``VideoRecord``s in a ``torch.utils.data`` dataset whose
items are whole decoded videos (``LoadedVideo``); ``workers`` processes decode ahead
while the main process runs the backbone, and the loader yields videos in list order.
``encode_videos`` cuts the stream of clips into backbone batches of ``batch_size`` clips
regardless of video boundaries (one ``torch.cat`` and one ``encode`` per batch, no work
per frame in Python) and hands back each video with its features.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from zsar.extract.decode import DEFAULT_WINDOW, DecodedVideo, DecodeError, decode_video
from zsar.extract.sampling import SamplingConfig

PREFETCH_PER_WORKER = 4


@dataclass
class LoadedVideo:
    """One video out of the loader: its position in the work list, and frames or the decoder's error."""

    position: int
    decoded: DecodedVideo | None
    error: str = ""

    @property
    def n_clips(self) -> int:
        return 0 if self.decoded is None else int(self.decoded.frames.shape[0])


class VideoDecodeDataset(Dataset):
    """Item ``i``: video ``records[i]`` decoded (or its ``DecodeError`` message), as a ``LoadedVideo``."""

    def __init__(self, records: Sequence, sampling: SamplingConfig, size: int,
                 window: int = DEFAULT_WINDOW, threads: int = 1) -> None:
        self.records = list(records)
        self.sampling, self.size, self.window, self.threads = sampling, size, window, threads

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, i: int) -> LoadedVideo:
        record = self.records[i]
        try:
            decoded = decode_video(record.path, self.sampling, self.size, record.start, record.end,
                                   window=self.window, threads=self.threads)
        except DecodeError as err:
            return LoadedVideo(i, None, str(err))
        return LoadedVideo(i, decoded)


def _keep(item: LoadedVideo) -> LoadedVideo:
    return item


def make_loader(records: Sequence, sampling: SamplingConfig, size: int, workers: int,
                window: int = DEFAULT_WINDOW) -> Iterable[LoadedVideo]:
    """Decoded videos of ``records`` in order, decoded by ``workers`` processes (0: in this process)."""
    dataset = VideoDecodeDataset(records, sampling, size, window)
    if workers == 0:
        return (dataset[i] for i in range(len(dataset)))
    return DataLoader(dataset, batch_size=None, shuffle=False, num_workers=workers, collate_fn=_keep,
                      prefetch_factor=PREFETCH_PER_WORKER, persistent_workers=False)


@dataclass
class EncodedVideo:
    """A video with its features ``(clips, T', D)`` float32, or with its decoder error."""

    item: LoadedVideo
    features: np.ndarray | None


def encode_videos(videos: Iterable[LoadedVideo], encode: Callable[[torch.Tensor], torch.Tensor],
                  batch_size: int) -> Iterator[EncodedVideo]:
    """Run ``encode`` (uint8 ``(B, T, S, S, 3)`` -> ``(B, T', D)``) over the clips of ``videos``.

    Batches hold ``batch_size`` clips taken across video boundaries (the last one fewer).
    Videos come back in input order once all their clips are encoded; failed videos pass
    through with ``features=None`` in their place in the order.
    """
    waiting: list[LoadedVideo] = []        # videos whose clips are not all encoded yet, in order
    frames: list[torch.Tensor] = []        # clips not yet encoded, in order
    queued = 0
    outputs: list[torch.Tensor] = []       # encoded clips not yet handed back, in order
    for video in videos:
        waiting.append(video)
        if video.decoded is not None:
            frames.append(video.decoded.frames)
            queued += video.n_clips
        while queued >= batch_size:
            batch, frames, queued = _take(frames, batch_size)
            outputs.append(encode(batch))
        yield from _finished(waiting, outputs, pending_clips=queued)
    if queued:
        batch, frames, queued = _take(frames, queued)
        outputs.append(encode(batch))
    yield from _finished(waiting, outputs, pending_clips=0)
    assert not waiting, "every video is handed back"


def _take(frames: list[torch.Tensor], n: int) -> tuple[torch.Tensor, list[torch.Tensor], int]:
    """The first ``n`` clips of the queue as one batch, and the rest of the queue."""
    stacked = frames[0] if len(frames) == 1 else torch.cat(frames)
    return stacked[:n], ([stacked[n:]] if stacked.shape[0] > n else []), stacked.shape[0] - n


def _finished(waiting: list[LoadedVideo], outputs: list[torch.Tensor], pending_clips: int) -> Iterator[EncodedVideo]:
    """Hand back the leading videos whose clips are all encoded (pops them from ``waiting``)."""
    available = sum(o.shape[0] for o in outputs)
    unencoded = pending_clips
    # Clips of the waiting videos, from the back: the last ``pending_clips`` are not encoded yet.
    done = len(waiting)
    for i in range(len(waiting) - 1, -1, -1):
        if unencoded <= 0:
            break
        unencoded -= waiting[i].n_clips
        done = i
    if done == 0:
        return
    encoded = torch.cat(outputs) if len(outputs) > 1 else (outputs[0] if outputs else torch.empty(0))
    offset = 0
    for video in waiting[:done]:
        n = video.n_clips
        features = None if video.decoded is None else encoded[offset:offset + n].numpy()
        offset += n
        yield EncodedVideo(video, features)
    del waiting[:done]
    outputs[:] = [encoded[offset:]] if offset < available else []
