"""The ridge head: closed-form regularised least squares into the label-text space (the baseline row).

In the spirit of ESZSL (Romera-Paredes and Torr, ICML 2015) with the label embeddings as
class attributes, and of E2E's linear head with its SGD replaced by the exact solution:

- a video is the mean over its clips and frames of its standardised features, ``x`` ``(D,)``
  (the standardisation every head gets, ``Head.standardise``);
- its target is the normalised mean of its class's prompt embeddings, ``y`` ``(Dt,)``;
- ``W, b = argmin (1/N) sum_i ||W x_i + b - y_i||^2 + alpha s ||W||^2``, where ``s`` is the
  mean eigenvalue of the centred second moment of ``x`` (its trace / D), so ``alpha`` does
  not depend on the feature scale or dim;
- zero-shot scores are the cosine of ``W x + b`` with each class's text.

The solution needs only the ``D x D`` second moment and the ``D x Dt`` cross moment,
accumulated in float64 in one pass over the training videos in chunks (``RidgeSystem``): a
Kinetics-sized source (650k videos x 512) fits in seconds. ``solve`` takes any
``alpha`` from one eigendecomposition, which is how selection tries a grid of them.
Deterministic: no seed, no SGD.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import Tensor, nn

from zsar.heads.batches import FeatureBatches
from zsar.errors import ZsarError
from zsar.heads.base import BASELINE, HEADS, ClassText, ClosedFormHead, HeadDims

SYSTEM_CHUNK = 4096  # videos per chunk when accumulating the moments


@dataclass(frozen=True)
class RidgeConfig:
    """``alpha``: the regulariser, relative to the mean eigenvalue of the features' second moment."""

    alpha: float = 1.0


@dataclass(kw_only=True)
class RidgeSystem:
    """The moments that determine the ridge solution: ``n`` videos, means, centred ``x x^T / n`` and ``x y^T / n``."""

    n: int
    x_mean: np.ndarray
    y_mean: np.ndarray
    second: np.ndarray
    cross: np.ndarray
    y_var: float
    _eigen: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)

    @property
    def scale(self) -> float:
        """The mean eigenvalue of ``second`` (its trace / D)."""
        return float(np.trace(self.second)) / len(self.second)

    def solve(self, alpha: float) -> tuple[np.ndarray, np.ndarray]:
        """``(W (Dt, D), b (Dt,))`` for regulariser ``alpha`` (one eigendecomposition, reused for every alpha)."""
        if self._eigen is None:
            self._eigen = np.linalg.eigh(self.second)
        values, vectors = self._eigen
        shrink = 1.0 / (np.maximum(values, 0) + alpha * max(self.scale, 1e-12))
        weight = (vectors * shrink) @ (vectors.T @ self.cross)  # (D, Dt)
        return weight.T, self.y_mean - weight.T @ self.x_mean

    def residual(self, weight: np.ndarray) -> float:
        """The mean squared error ``(1/n) sum ||W x + b - y||^2`` of the least-squares ``b`` for ``weight`` ``(Dt, D)``."""
        return float(np.sum((weight @ self.second) * weight) - 2 * np.sum(weight * self.cross.T) + self.y_var)


@HEADS.register("ridge", help="baseline: closed-form ridge regression from standardised pooled features to label text",
                tags=(BASELINE,))
class RidgeHead(ClosedFormHead):
    Config = RidgeConfig

    def __init__(self, dims: HeadDims, config: RidgeConfig) -> None:
        super().__init__(dims, config)
        if not math.isfinite(config.alpha) or config.alpha <= 0:
            raise ZsarError(f"ridge alpha={config.alpha}: must be a finite number above 0 (e.g. alpha=1)")
        self.proj = nn.Linear(dims.video_dim, dims.text_dim)

    def encode_clips(self, clips: Tensor) -> Tensor:
        return self.proj(clips.mean(dim=1))

    def embed_classes(self, text: ClassText) -> Tensor:
        return text.mean[:, None]

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        """The ridge objective on a batch (what ``solve`` minimises exactly over all training videos)."""
        x = self.standardise(video).mean(dim=(1, 2))
        scale = (x - x.mean(dim=0)).square().sum(dim=1).mean() / x.shape[1]
        error = (self.proj(x) - text.mean[targets]).square().sum(dim=1).mean()
        return error + self.config.alpha * scale.detach() * self.proj.weight.square().sum()

    @torch.no_grad()
    def system(self, batches: FeatureBatches, text: ClassText) -> RidgeSystem:
        """The moments of the standardised pooled training videos of ``batches`` and their class texts."""
        targets = text.mean.detach().cpu().double().numpy()
        d, dt = self.dims.video_dim, targets.shape[1]
        total_x, total_y, y_squares = np.zeros(d), np.zeros(dt), 0.0
        second, cross, n = np.zeros((d, d)), np.zeros((d, dt)), 0
        rows, labels = batches.rows.numpy(), batches.targets.numpy()
        for start in range(0, len(rows), SYSTEM_CHUNK):
            chunk = rows[start:start + SYSTEM_CHUNK]
            video = batches.features[torch.as_tensor(chunk)].to(self.feature_mean.device, torch.float32)
            x = self.standardise(video).mean(dim=(1, 2)).cpu().double().numpy()
            y = targets[labels[start:start + SYSTEM_CHUNK]]
            total_x += x.sum(axis=0)
            total_y += y.sum(axis=0)
            y_squares += float(np.square(y).sum())
            second += x.T @ x
            cross += x.T @ y
            n += len(chunk)
        if n == 0:
            raise ZsarError("the ridge head has no training videos to solve for")
        x_mean, y_mean = total_x / n, total_y / n
        return RidgeSystem(n=n, x_mean=x_mean, y_mean=y_mean, second=second / n - np.outer(x_mean, x_mean),
                           cross=cross / n - np.outer(x_mean, y_mean), y_var=y_squares / n - float(y_mean @ y_mean))

    @torch.no_grad()
    def solve(self, system: RidgeSystem, alpha: float | None = None) -> float:
        """Set the map to the exact solution of ``system`` (``alpha``: the config's unless given); its residual."""
        weight, bias = system.solve(self.config.alpha if alpha is None else alpha)
        self.proj.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        self.proj.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        return system.residual(weight)
