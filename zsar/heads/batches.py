"""Serving training and inference batches from features already in memory.

``FeatureBatches`` wraps the ``(N, clips, T', D)`` float16 array of a ``FeatureSet`` (no
copy: a torch view of the same memory) and a subset of its rows, and yields batches as
float32 tensors: shuffled ones for training, in order for inference. Nothing is read
from disk after ``load_features``; an HMDB51-sized cache is served with one gather per
batch.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np
import torch
from torch import Tensor


class FeatureBatches:
    """Batches of ``features[rows]`` ``(B, clips, T', D)`` and their ``targets[rows]`` ``(B,)``.

    ``targets`` are per-row integers (e.g. indices of the training classes); rows not in
    ``rows`` are never served.
    """

    def __init__(self, features: np.ndarray, rows: np.ndarray, targets: np.ndarray | None = None) -> None:
        self.features = torch.from_numpy(np.ascontiguousarray(features))
        self.rows = torch.as_tensor(np.asarray(rows, dtype=np.int64))
        self.targets = None if targets is None else torch.as_tensor(np.asarray(targets, dtype=np.int64))
        assert self.targets is None or len(self.targets) == len(self.rows)

    def __len__(self) -> int:
        return int(self.rows.shape[0])

    @property
    def clips(self) -> int:
        return int(self.features.shape[1])

    def steps_per_epoch(self, batch_size: int) -> int:
        """Batches per training epoch: the last incomplete batch is dropped unless it is the only one."""
        return max(1, len(self) // batch_size)

    def epoch(self, batch_size: int, rng: torch.Generator, device: torch.device | str = "cpu",
              one_clip: bool = True) -> Iterator[tuple[Tensor, Tensor]]:
        """Shuffled training batches ``(B, clips', T', D)``, ``(B,)``.

        With ``one_clip`` each video contributes one random clip per epoch (E2E trains on one
        clip, tests on several); the last incomplete batch is dropped (BatchNorm needs B > 1).
        """
        assert self.targets is not None, "training batches need targets"
        order = torch.randperm(len(self), generator=rng)
        steps = self.steps_per_epoch(batch_size)
        size = batch_size if len(self) >= batch_size else len(self)
        for step in range(steps):
            pick = order[step * size:(step + 1) * size]
            video = self.features[self.rows[pick]]
            if one_clip and self.clips > 1:
                clip = torch.randint(self.clips, (len(pick),), generator=rng)
                video = video[torch.arange(len(pick)), clip][:, None]
            yield video.to(device=device, dtype=torch.float32), self.targets[pick].to(device)

    def stream(self, batch_size: int, rng: torch.Generator, device: torch.device | str = "cpu",
               one_clip: bool = True) -> Iterator[tuple[Tensor, Tensor]]:
        """Training batches without end: epoch after epoch, each freshly shuffled (see ``epoch``)."""
        while True:
            yield from self.epoch(batch_size, rng, device, one_clip)

    def in_order(self, batch_size: int, device: torch.device | str = "cpu") -> Iterator[Tensor]:
        """Every row once, in order, with all its clips: ``(B, clips, T', D)`` float32."""
        for start in range(0, len(self), batch_size):
            video = self.features[self.rows[start:start + batch_size]]
            yield video.to(device=device, dtype=torch.float32)
