"""ActionCLIP's head (Wang et al., 2021), on cached frame features.

- Temporal fusion over frame features (registry ``FUSIONS``): ``mean`` (ActionCLIP's
  ``meanP``) or ``transformer`` (its ``Transf``: learned frame position embeddings, a
  temporal transformer of width D, a residual connection to the input frames, then the
  mean over frames). ActionCLIP uses 6 layers; the default here is 1 (``layers``).
- Linear projections of the fused video feature and of each prompt's text embedding into
  one space (both identity-initialised when video, text and joint dims agree, i.e. the
  features already share a space as CLIP's do, so they start from CLIP's own zero-shot;
  both random otherwise: an identity text side beside a random video side scored 1.4
  points lower in class-disjoint validation on the demo set), cosine logits times a learnable scale (CLIP's init 1/0.07, capped at 100).
- Training: one prompt sampled per video, the symmetric KL loss against the same-class
  target matrix of the batch (``zsar.heads.losses.SymmetricKLLoss``). The whole head
  shares one learning rate (ActionCLIP gives its fusion module 10x the encoders' lr, but
  here there are no encoders to fine-tune).
- Test: the prompt ensemble. ``ensemble="probability"`` (default, ActionCLIP's test.py):
  the softmax over classes for each prompt, averaged over prompts; ``"embedding"``: the
  cosine to the normalised mean of the prompt embeddings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zsar.errors import ZsarError
from zsar.heads.base import HEADS, ClassText, Head, HeadDims, l2_normalise
from zsar.heads.losses import SymmetricKLLoss
from zsar.registry import Registry

FUSIONS: Registry[type[nn.Module]] = Registry("temporal fusion")
CLIP_INIT_SCALE = 1 / 0.07
MAX_LOGIT_SCALE = 100.0
ENSEMBLES = ("probability", "embedding")
# Joint dim for video and text features from unrelated models, chosen by class-disjoint
# validation on the demo set (bench/head_defaults.py: 45.7 % at the text's 384, 46.9 % at
# 256, 47.9 % at 128).
SEPARATE_SPACES_DIM = 128


@dataclass(frozen=True)
class ActionCLIPConfig:
    """Fusion (``mean``/``transformer``) and its size, joint dim, test ensemble.

    ``embed_dim`` 0: the features' own dim when video and text share one (CLIP), else
    ``SEPARATE_SPACES_DIM``.
    """

    fusion: str = "mean"
    layers: int = 1
    heads: int = 8
    embed_dim: int = 0
    ensemble: str = "probability"


@FUSIONS.register("mean", help="mean over frames (ActionCLIP's meanP)")
class MeanFusion(nn.Module):
    def __init__(self, dim: int, frames: int, config: ActionCLIPConfig) -> None:
        super().__init__()

    def forward(self, frames: Tensor) -> Tensor:
        """``(B, T', D)`` -> ``(B, D)``."""
        return frames.mean(dim=1)


@FUSIONS.register("transformer", help="temporal transformer with a residual, then mean (ActionCLIP's Transf)")
class TransformerFusion(nn.Module):
    def __init__(self, dim: int, frames: int, config: ActionCLIPConfig) -> None:
        super().__init__()
        if dim % config.heads:
            raise ZsarError(f"actionclip heads={config.heads} does not divide the feature dim {dim}; "
                            "choose a divisor of it")
        self.position = nn.Parameter(torch.randn(frames, dim) * 0.02)
        layer = nn.TransformerEncoderLayer(dim, config.heads, 4 * dim, dropout=0.0, batch_first=True,
                                           norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)

    def forward(self, frames: Tensor) -> Tensor:
        """``(B, T', D)`` -> ``(B, D)``."""
        return (frames + self.encoder(frames + self.position[: frames.shape[1]])).mean(dim=1)


def _identity(layer: nn.Linear) -> None:
    nn.init.eye_(layer.weight)
    nn.init.zeros_(layer.bias)


@HEADS.register("actionclip", help="ActionCLIP: temporal fusion, learnable-scale cosine logits, symmetric KL")
class ActionCLIPHead(Head):
    Config = ActionCLIPConfig

    def __init__(self, dims: HeadDims, config: ActionCLIPConfig) -> None:
        super().__init__(dims, config)
        if config.ensemble not in ENSEMBLES:
            raise ZsarError(f"actionclip ensemble {config.ensemble!r} is not one of {', '.join(ENSEMBLES)}")
        shared = dims.video_dim == dims.text_dim
        embed_dim = config.embed_dim or (dims.text_dim if shared else SEPARATE_SPACES_DIM)
        self.fusion = FUSIONS.get(config.fusion)(dims.video_dim, dims.frames, config)
        self.video_proj = nn.Linear(dims.video_dim, embed_dim)
        self.text_proj = nn.Linear(dims.text_dim, embed_dim)
        if dims.video_dim == dims.text_dim == embed_dim:  # one shared space (CLIP): start from its zero-shot
            _identity(self.video_proj), _identity(self.text_proj)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(CLIP_INIT_SCALE)))
        self.criterion = SymmetricKLLoss()

    @property
    def scale(self) -> Tensor:
        return self.logit_scale.exp().clamp(max=MAX_LOGIT_SCALE)

    def encode_clips(self, clips: Tensor) -> Tensor:
        return self.video_proj(self.fusion(clips))

    def embed_classes(self, text: ClassText) -> Tensor:
        return l2_normalise(self.text_proj(text.prompts))

    def scores(self, videos: Tensor, views: Tensor) -> Tensor:
        if self.config.ensemble == "embedding":
            return super().scores(videos, views)
        logits = self.scale * torch.einsum("ne,cpe->pnc", videos, views)
        return torch.softmax(logits, dim=-1).mean(dim=0)

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        z = self.embed_video(video)
        prompt = torch.randint(text.prompts.shape[1], targets.shape, generator=rng).to(targets.device)
        t = l2_normalise(self.text_proj(text.prompts[targets, prompt]))
        return self.criterion(self.scale * z @ t.T, targets)
