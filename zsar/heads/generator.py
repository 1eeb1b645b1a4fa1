"""Learnable visual class centres and AURL's class generator.

``VisualCentres`` holds one learnable vector per training class (AURL's ``W``, a cosine
classifier). The class generator makes synthetic classes: at every step a fresh random
mixing matrix ``L`` ``(C, C)`` mixes the normalised class text embeddings ``Z`` and the
normalised visual centres ``W`` with the *same* weights, ``Z~ = L Z`` and ``W~ = L W``,
and synthetic class i must match its own mixed centre among all synthetic classes:
``CE(10 cos(Z~, W~), i)``.

Modes (``GENERATOR_MODES``):
- ``interpolate``: weights i.i.d. U[0, 1), as AURL's released code (``torch.rand``);
- ``extrapolate``: weights i.i.d. U[-0.5, 1.5), so mixes may fall outside the convex hull
  of the seen classes, as the paper describes (its exact range is not public; this one is
  ours).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from zsar.errors import ZsarError
from zsar.heads.base import l2_normalise
from zsar.heads.losses import ScaledCosineCELoss

GENERATOR_MODES = ("interpolate", "extrapolate")
NO_GENERATOR = "none"
EXTRAPOLATE_RANGE = (-0.5, 1.5)
CENTRE_INIT_RANGE = (0.0, 1.0)  # AURL's torch.nn.init.uniform_ defaults


def check_generator_mode(mode: str) -> str:
    """``mode`` if it is ``none`` or one of ``GENERATOR_MODES``, else a ``ZsarError``."""
    if mode != NO_GENERATOR and mode not in GENERATOR_MODES:
        raise ZsarError(f"unknown class-generator mode {mode!r}; choose one of {', '.join(GENERATOR_MODES)}")
    return mode


def mixing_weights(n_synthetic: int, n_classes: int, mode: str, rng: torch.Generator) -> Tensor:
    """A fresh ``(n_synthetic, n_classes)`` mixing matrix drawn from ``rng`` (a CPU generator)."""
    check_generator_mode(mode)
    weights = torch.rand(n_synthetic, n_classes, generator=rng)
    if mode == "extrapolate":
        low, high = EXTRAPOLATE_RANGE
        weights = low + (high - low) * weights
    return weights


class VisualCentres(nn.Module):
    """Learnable visual class centres ``(C, E)`` (AURL's ``W``), each entry drawn from U[0, 1).

    As AURL's ``CosineLayer`` (``Train/network.py``: ``torch.nn.init.uniform_`` with its
    default bounds): every centre starts in the positive orthant, so the centres start
    close together (pairwise cosine about 0.75) and the losses spread them apart.
    """

    def __init__(self, n_classes: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.empty(n_classes, dim).uniform_(*CENTRE_INIT_RANGE))

    def forward(self) -> Tensor:
        return self.weight


class ClassGenerator(nn.Module):
    """The class-generator loss for a head with visual centres (no parameters of its own)."""

    def __init__(self, mode: str, scale: float) -> None:
        super().__init__()
        self.mode = check_generator_mode(mode)
        self.criterion = ScaledCosineCELoss(scale)

    def forward(self, text: Tensor, centres: Tensor, rng: torch.Generator) -> Tensor:
        """``text`` ``(C, E)`` class text embeddings and ``centres`` ``(C, E)`` -> the loss on C synthetic classes."""
        n = text.shape[0]
        weights = mixing_weights(n, n, self.mode, rng).to(text.device)
        synthetic_text = weights @ l2_normalise(text)
        synthetic_centres = weights @ l2_normalise(centres)
        return self.criterion(synthetic_text, synthetic_centres, torch.arange(n, device=text.device))
