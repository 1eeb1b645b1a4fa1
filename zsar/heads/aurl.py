"""AURL's head (Pu et al., CVPR 2022), on cached features.

As in the released code (``ShipuLoveMili/CVPR2022-AURL``): the pooled video feature
(dropout 0.05) and the class text embedding each go through a projection MLP
(Linear-BN-ReLU, Linear-BN-ReLU, Linear-BN); training adds three cross-entropy terms on
cosine logits x 10, each with weight 1: video vs the text features of all training
classes (alignment and uniformity), video vs learnable visual centres, and the class
generator (``zsar.heads.generator``). AURL's widths are 2048 on a from-scratch
R(2+1)D and its text branch has a Linear(300 -> 512) before the MLP; on frozen cached
features the MLP takes the text dim directly and the default widths are 512 (options).

Ours, for label text with several prompts per class (``text="sample"``, the default, chosen
by class-disjoint validation: docs/decisions.md): every class's text enters the MLP as one
of its prompts drawn at random at each step, and its test embedding is the normalised mean
of its prompts' embeddings; ``text="mean"`` feeds the prompts' mean. With one prompt per
class (AURL's own setting) both are the same model.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zsar.errors import check_choice
from zsar.heads.base import COSINE_LOGIT_SCALE, HEADS, ClassText, Head, HeadDims, l2_normalise
from zsar.heads.generator import NO_GENERATOR, ClassGenerator, VisualCentres
from zsar.heads.linear import E2E_DROPOUT
from zsar.heads.losses import ScaledCosineCELoss

TEXT_MODES = ("sample", "mean")


@dataclass(frozen=True, kw_only=True)
class AURLConfig:
    """Widths of the projection MLPs, the cosine-logit scale, the class generator's mode, and how
    several prompts per class enter the text MLP (``sample``: one at random per step; ``mean``)."""

    hidden: int = 512
    embed_dim: int = 512
    scale: float = COSINE_LOGIT_SCALE
    dropout: float = E2E_DROPOUT
    generator: str = "interpolate"
    text: str = "sample"


class ProjectionMLP(nn.Sequential):
    """Linear-BN-ReLU, Linear-BN-ReLU, Linear-BN (AURL's ``ProjectionMLP``)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__(
            nn.Linear(in_dim, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, hidden), nn.BatchNorm1d(hidden), nn.ReLU(inplace=True),
            nn.Linear(hidden, out_dim), nn.BatchNorm1d(out_dim))


@HEADS.register("aurl", help="AURL: projection MLPs, 3 cross-entropy terms, visual centres, class generator")
class AURLHead(Head):
    Config = AURLConfig
    has_centres = True
    tiny_options = {"hidden": 16, "embed_dim": 12}

    def __init__(self, dims: HeadDims, config: AURLConfig) -> None:
        super().__init__(dims, config)
        check_choice("aurl text", config.text, TEXT_MODES)
        self.dropout = nn.Dropout(config.dropout)
        self.video_mlp = ProjectionMLP(dims.video_dim, config.hidden, config.embed_dim)
        self.text_mlp = ProjectionMLP(dims.text_dim, config.hidden, config.embed_dim)
        self.centres = VisualCentres(dims.n_classes, config.embed_dim)
        self.criterion = ScaledCosineCELoss(config.scale)
        self.generator = None if config.generator == NO_GENERATOR else ClassGenerator(config.generator, config.scale)

    def encode_clips(self, clips: Tensor) -> Tensor:
        return self.video_mlp(self.dropout(clips.mean(dim=1)))

    @property
    def softmax_scale(self) -> float:
        return float(self.config.scale)

    def _samples(self, text: ClassText) -> bool:
        return self.config.text == "sample" and text.prompts.shape[1] > 1

    def embed_classes(self, text: ClassText) -> Tensor:
        """``(C, P, E)``, one view per prompt (``text="sample"``), or ``(C, 1, E)`` from the prompts' mean."""
        if self._samples(text):
            c, p, d = text.prompts.shape
            return l2_normalise(self.text_mlp(text.prompts.reshape(c * p, d))).view(c, p, -1)
        return l2_normalise(self.text_mlp(text.mean))[:, None]

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        z = self.embed_video(video)
        if self._samples(text):  # one prompt per class, drawn afresh at every step
            pick = torch.randint(text.prompts.shape[1], (len(text),), generator=rng).to(targets.device)
            class_text = l2_normalise(self.text_mlp(text.prompts[torch.arange(len(text), device=pick.device), pick]))
        else:
            class_text = self.embed_classes(text)[:, 0]
        loss = self.criterion(z, class_text, targets) + self.criterion(z, self.centres(), targets)
        if self.generator is not None:
            loss = loss + self.generator(class_text, self.centres(), rng)
        return loss
