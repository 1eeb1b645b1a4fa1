"""Training losses of the heads (registry ``LOSSES``).

- ``cosine``: ``1 - cos(prediction, target)``, E2E's objective with a linear head;
- ``mse``: mean squared error between unit vectors (E2E's released code: ``MSELoss`` on
  the L2-normalised prediction and class vector);
- ``cross-entropy``: cross-entropy on cosine logits times a fixed scale (AURL's
  ``Nceloss`` with scale 10, i.e. temperature 0.1; also ResT's matching losses here);
- ``symmetric-kl``: ActionCLIP's ``KLLoss`` in both directions, against the softmax of
  10 x the same-class matrix of the batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zsar.heads.base import COSINE_LOGIT_SCALE, l2_normalise
from zsar.registry import Registry

LOSSES: Registry[type[nn.Module]] = Registry("loss")
REGRESSION = "regression"  # registry tag: a loss of a prediction and a target vector (B, E), as the linear head uses
SAME_CLASS_SHARPNESS = 10.0  # ActionCLIP: softmax(10 * ground-truth matrix)


@LOSSES.register("cosine", help="1 - cos(prediction, target) (E2E)", tags=(REGRESSION,))
class CosineLoss(nn.Module):
    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """``prediction`` and ``target`` ``(B, E)`` -> mean of ``1 - cos``."""
        return (1 - (l2_normalise(prediction) * l2_normalise(target)).sum(dim=-1)).mean()


@LOSSES.register("mse", help="mean squared error of unit vectors (E2E's released code)", tags=(REGRESSION,))
class UnitMSELoss(nn.Module):
    def forward(self, prediction: Tensor, target: Tensor) -> Tensor:
        """``prediction`` and ``target`` ``(B, E)`` -> ``mean((p/|p| - t/|t|)^2)`` over all elements."""
        return F.mse_loss(l2_normalise(prediction), l2_normalise(target))


@LOSSES.register("cross-entropy", help="cross-entropy on scaled cosine logits (AURL, ResT)")
class ScaledCosineCELoss(nn.Module):
    def __init__(self, scale: float = COSINE_LOGIT_SCALE) -> None:
        super().__init__()
        self.scale = scale

    def forward(self, queries: Tensor, keys: Tensor, targets: Tensor) -> Tensor:
        """``queries`` ``(B, E)`` against ``keys`` ``(C, E)``; ``targets`` ``(B,)`` index the keys."""
        logits = self.scale * l2_normalise(queries) @ l2_normalise(keys).T
        return F.cross_entropy(logits, targets)


@LOSSES.register("symmetric-kl", help="ActionCLIP's KL loss against the same-class target, both directions")
class SymmetricKLLoss(nn.Module):
    def forward(self, logits: Tensor, labels: Tensor) -> Tensor:
        """``logits`` ``(B, B)`` video i vs text of video j; ``labels`` ``(B,)`` the classes of the batch.

        The target of row i is ``softmax(10 * [label_i == label_j])``; each direction is
        ``KL(target || softmax(logits))`` summed over j and averaged over i (ActionCLIP's
        ``KLDivLoss(mean) * B``); the result is the mean of the two directions.
        """
        same = (labels[:, None] == labels[None, :]).to(logits.dtype)
        target = torch.softmax(SAME_CLASS_SHARPNESS * same, dim=1)
        v2t = F.kl_div(F.log_softmax(logits, dim=1), target, reduction="batchmean")
        t2v = F.kl_div(F.log_softmax(logits.T, dim=1), target, reduction="batchmean")
        return (v2t + t2v) / 2
