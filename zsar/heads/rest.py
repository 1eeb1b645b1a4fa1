"""A ResT-style cross-modal transformer head (after Lin et al., CVPR 2022).

ResT's code and exact configuration are not public (see docs/methods.md, section 4), so
this is our reading of the paper's description, with every size an option:

- Tokens: the T' frame features of a clip, and the label-text tokens of a class (the P
  prompt embeddings, or the words of the label for word-vector encoders), each projected
  to ``width`` and given a modality embedding (video / text) and a learned position
  embedding.
- The *same* transformer layers encode the video tokens and the text tokens (two
  passes, one per modality, with shared weights), the valid tokens are mean-pooled and
  projected to the joint space of dim ``embed_dim``.
- Training: video-text matching (cross-entropy on scaled cosine logits of a video
  against the text embeddings of all training classes) plus a visual prototype loss
  (the same against learnable visual class centres), weighted by ``prototype_weight``;
  the class generator may be added (``generator``).
- Zero-shot: by default through semantic transfer (``zsar.heads.transfer``): unseen
  prototypes composed from the seen classes' visual prototypes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zsar.errors import ZsarError
from zsar.heads.base import HEADS, ClassText, Head, HeadDims, l2_normalise
from zsar.heads.generator import NO_GENERATOR, ClassGenerator, VisualCentres
from zsar.heads.losses import COSINE_LOGIT_SCALE, ScaledCosineCELoss

VIDEO, TEXT = 0, 1


@dataclass(frozen=True)
class ResTConfig:
    """Transformer width, depth, attention heads, FFN multiple, joint dim, token limit, losses."""

    width: int = 128
    layers: int = 1
    heads: int = 4
    ff_mult: int = 2
    embed_dim: int = 256
    max_tokens: int = 64
    dropout: float = 0.0
    scale: float = COSINE_LOGIT_SCALE
    prototype_weight: float = 1.0
    generator: str = NO_GENERATOR


@HEADS.register("rest", help="ResT-style cross-modal transformer, matching + prototype loss, semantic transfer")
class ResTHead(Head):
    Config = ResTConfig
    has_centres = True
    default_transfer = "semantic"

    def __init__(self, dims: HeadDims, config: ResTConfig) -> None:
        super().__init__(dims, config)
        if config.width % config.heads:
            raise ZsarError(f"rest heads={config.heads} does not divide width={config.width}; choose a divisor")
        self._check_tokens(dims.frames, "frames per clip")
        self.video_in = nn.Linear(dims.video_dim, config.width)
        self.text_in = nn.Linear(dims.text_dim, config.width)
        self.modality = nn.Embedding(2, config.width)
        self.position = nn.Parameter(torch.randn(config.max_tokens, config.width) * 0.02)
        layer = nn.TransformerEncoderLayer(config.width, config.heads, config.ff_mult * config.width,
                                           dropout=config.dropout, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.width)
        self.out = nn.Linear(config.width, config.embed_dim)
        self.centres = VisualCentres(dims.n_classes, config.embed_dim)
        self.criterion = ScaledCosineCELoss(config.scale)
        self.generator = None if config.generator == NO_GENERATOR else ClassGenerator(config.generator, config.scale)

    def _check_tokens(self, n: int, what: str) -> None:
        if n > self.config.max_tokens:
            raise ZsarError(f"rest max_tokens={self.config.max_tokens} is less than the {n} {what}; "
                            f"raise max_tokens to at least {n}")

    def _encode(self, tokens: Tensor, mask: Tensor, modality: int) -> Tensor:
        """``tokens`` ``(B, L, width)`` with ``mask`` ``(B, L)`` (True: real) -> ``(B, embed_dim)``."""
        self._check_tokens(tokens.shape[1], "tokens")
        x = tokens + self.modality.weight[modality] + self.position[: tokens.shape[1]]
        x = self.norm(self.encoder(x, src_key_padding_mask=~mask))
        weights = mask.to(x.dtype)[..., None]
        return self.out((x * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1))

    def encode_clips(self, clips: Tensor) -> Tensor:
        mask = torch.ones(clips.shape[:2], dtype=torch.bool, device=clips.device)
        return self._encode(self.video_in(clips), mask, VIDEO)

    def embed_classes(self, text: ClassText) -> Tensor:
        tokens, mask = text.tokens()
        return l2_normalise(self._encode(self.text_in(tokens), mask, TEXT))[:, None]

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        z = self.embed_video(video)
        class_text = self.embed_classes(text)[:, 0]
        loss = self.criterion(z, class_text, targets)
        loss = loss + self.config.prototype_weight * self.criterion(z, self.centres(), targets)
        if self.generator is not None:
            loss = loss + self.generator(class_text, self.centres(), rng)
        return loss
