"""E2E's linear head: mean-pooled visual feature -> linear map into the label-text space.

Brattoli et al. (CVPR 2020) pool the backbone's features, apply dropout 0.05 and a
Linear(512 -> 300) into word2vec space, L2-normalise, and regress the class vector
(``MSELoss`` on unit vectors in the released code; a cosine loss is the same objective up
to a factor). Classes are the (normalised) text embeddings themselves: the head has no
text-side parameters.

Ours: the map starts near zero (``init_scale`` times PyTorch's default init, bias 0).
With more feature dims than training videos (1,280-d EfficientNet features, a few hundred
videos) gradient descent never changes the part of the weights that acts on directions
no training video spans, so a full-size random start stays in every test prediction as
noise; from a small start SGD tends to the minimum-norm map, the one the ridge head finds
in closed form.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zsar.errors import check_choice
from zsar.heads.base import HEADS, ClassText, Head, HeadDims
from zsar.heads.losses import LOSSES, REGRESSION

E2E_DROPOUT = 0.05
SMALL_INIT = 0.01


@dataclass(frozen=True)
class LinearConfig:
    """``loss``: a regression loss (``cosine``, ``mse`` or a plugin's tagged ``regression``); ``dropout`` before the map (E2E: 0.05); ``init_scale`` of the map's start."""

    loss: str = "cosine"
    dropout: float = E2E_DROPOUT
    init_scale: float = SMALL_INIT


@HEADS.register("linear", help="E2E: mean-pooled feature -> linear map into the text space, cosine loss")
class LinearHead(Head):
    Config = LinearConfig

    def __init__(self, dims: HeadDims, config: LinearConfig) -> None:
        super().__init__(dims, config)
        check_choice("linear head loss", config.loss, LOSSES.tagged(REGRESSION))
        self.dropout = nn.Dropout(config.dropout)
        self.proj = nn.Linear(dims.video_dim, dims.text_dim)
        with torch.no_grad():
            self.proj.weight.mul_(config.init_scale)
            self.proj.bias.zero_()
        self.criterion = LOSSES.get(config.loss)()

    def encode_clips(self, clips: Tensor) -> Tensor:
        return self.proj(self.dropout(clips.mean(dim=1)))

    def embed_classes(self, text: ClassText) -> Tensor:
        return text.mean[:, None]

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        return self.criterion(self.embed_video(video), text.mean[targets])
