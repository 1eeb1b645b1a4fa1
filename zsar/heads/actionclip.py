"""ActionCLIP's head (Wang et al., 2021), on cached frame features.

- Linear projection of every frame feature into the joint space, then temporal fusion
  there (registry ``FUSIONS``), as ActionCLIP fuses CLIP's projected frame embeddings:
  ``transformer`` (default; ActionCLIP's ``Transf``, its configs' choice): learned frame
  position embeddings, a temporal transformer of ``layers`` = 6 residual attention blocks
  (pre-LayerNorm with ActionCLIP's eps 1e-12, QuickGELU MLP of 4x width, ``width / 64``
  attention heads, as CLIP's ``ResidualAttentionBlock``), a residual connection to the
  input frames, then the mean over frames; ``mean`` (its ``meanP``).
- Initialisation. With video and text of unrelated models, as ActionCLIP's
  ``init_weights``: ``nn.Linear`` weights and the position embeddings drawn from
  N(0, 0.02), zero biases (the attention's packed input projection is not an
  ``nn.Linear`` and keeps torch's default there too). When video and text share one
  model's joint space (``HeadDims.shared_space``: CLIP features with CLIP text) zsar departs
  from that to start exactly at the training-free ``frozen`` head, as ActionCLIP starts from
  CLIP: its input is the L2-normalised frame embeddings (``frozen``'s default
  ``pool=normalised-mean``; the z-scoring every other head gets would leave CLIP's metric),
  the frames' and the text's projections are identity-initialised, and the position
  embeddings and the output layers of the residual branches (attention ``out_proj``, MLP
  ``linear2``) start at zero, so the fusion starts as the frame mean (ActionCLIP's N(0, 0.02)
  start adds a random perturbation there; zero-initialised residual branches still get
  gradients from the first step). Its step-0 scores are then ``frozen``'s only with the same
  prompt ensemble and pooling: the defaults differ (``actionclip`` ``ensemble=probability``,
  ``frozen`` ``ensemble=embedding``), so compare with ``frozen --head-opt ensemble=probability``.
  Otherwise both projections are random (an identity text side beside a random video
  side scored 1.4 points lower in class-disjoint validation on the demo set).
- Logit scale (``scale`` 0: by the space): in a shared space, as ActionCLIP uses it:
  training starts from CLIP's pretrained 100 (``logit_scale.exp()``, which ActionCLIP
  fine-tunes from), learned and capped at 100, and the test scores use a fixed 100
  (``test_scale`` 0; ActionCLIP's ``test.py``: ``100.0 * image_features @ text_features.T``).
  With freshly initialised projections (features from unrelated models) there is no
  pretrained scale to inherit: training starts from CLIP's own from-scratch 1/0.07 and the
  test uses the learned scale (100 from the start cost 16 points of unseen top-1 with
  ``mean`` fusion on split 0 of the HMDB51-sized structured cache of ``bench/train.py``).
- Training: one prompt sampled per video, the symmetric KL loss against the same-class
  target matrix of the batch (``zsar.heads.losses.SymmetricKLLoss``). The whole head
  shares one learning rate (ActionCLIP gives its fusion module 10x the encoders' lr, but
  here there are no encoders to fine-tune).
- Test: the prompt ensemble (``zsar.heads.frozen.ensemble_scores``).
  ``ensemble="probability"`` (default, ActionCLIP's test.py): the softmax over classes for
  each prompt, averaged over prompts; ``"embedding"``: the cosine to the normalised mean of
  the prompt embeddings.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from zsar.errors import ZsarError, check_choice
from zsar.heads.base import HEADS, ClassText, Head, HeadDims, l2_normalise
from zsar.heads.frozen import CLIP_LOGIT_SCALE, check_ensemble, ensemble_scores
from zsar.heads.losses import SymmetricKLLoss
from zsar.registry import Registry

FUSIONS: Registry[type[nn.Module]] = Registry("temporal fusion")
CLIP_INIT_SCALE = 1 / 0.07  # CLIP's logit scale before training
ACTIVATIONS = ("quick-gelu", "gelu", "relu")
HEAD_WIDTH = 64  # CLIP / ActionCLIP: attention heads = width // 64
INIT_STD = 0.02  # ActionCLIP's TemporalTransformer.init_weights
LAYER_NORM_EPS = 1e-12  # ActionCLIP's LayerNorm (modules/Visual_Prompt.py, "TF style"), not torch's 1e-5
# Joint dim for video and text features from unrelated models, chosen by class-disjoint
# validation on the demo set (bench/head_defaults.py: 45.7 % at the text's 384, 46.9 % at
# 256, 47.9 % at 128).
SEPARATE_SPACES_DIM = 128


@dataclass(frozen=True, kw_only=True)
class ActionCLIPConfig:
    """Fusion (``transformer``/``mean``) and its depth, heads (0: width/64) and activation,
    joint dim, logit scales, test ensemble.

    ``embed_dim`` 0: the features' own dim when video and text share one space (CLIP),
    else ``SEPARATE_SPACES_DIM``. ``scale``: the training logit scale's start (learned, at
    most 100; 0: 100 in a shared space, else 1/0.07); ``test_scale``: the scale of the
    test's prompt ensemble (0: a fixed 100 in a shared space, else the learned scale).
    """

    fusion: str = "transformer"
    layers: int = 6
    heads: int = 0
    activation: str = "quick-gelu"
    embed_dim: int = 0
    scale: float = 0.0
    test_scale: float = 0.0
    ensemble: str = "probability"


class QuickGELU(nn.Module):
    """CLIP's activation: ``x * sigmoid(1.702 x)``."""

    def forward(self, x: Tensor) -> Tensor:
        return x * torch.sigmoid(1.702 * x)


def _activation(name: str) -> nn.Module | str:
    check_choice("actionclip activation", name, ACTIVATIONS)
    return QuickGELU() if name == "quick-gelu" else name


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
        heads = config.heads or max(1, dim // HEAD_WIDTH)
        if dim % heads:
            raise ZsarError(f"actionclip heads={heads} does not divide the joint dim {dim}; "
                            "choose a divisor of it (or heads=0 for dim/64)")
        if config.layers < 1:
            raise ZsarError(f"actionclip layers={config.layers}: the transformer fusion needs at least 1")
        self.position = nn.Parameter(torch.randn(frames, dim) * INIT_STD)
        layer = nn.TransformerEncoderLayer(dim, heads, 4 * dim, dropout=0.0, activation=_activation(config.activation),
                                           layer_norm_eps=LAYER_NORM_EPS, batch_first=True, norm_first=True)
        self.encoder = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        for module in self.encoder.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=INIT_STD)
                nn.init.zeros_(module.bias)

    def start_as_mean(self) -> None:
        """Zero the position embeddings and each residual branch's output layer: the fusion is then the frame mean."""
        nn.init.zeros_(self.position)
        for layer in self.encoder.layers:
            for branch_out in (layer.self_attn.out_proj, layer.linear2):
                nn.init.zeros_(branch_out.weight)
                nn.init.zeros_(branch_out.bias)

    def forward(self, frames: Tensor) -> Tensor:
        """``(B, T', D)`` -> ``(B, D)``."""
        return (frames + self.encoder(frames + self.position[: frames.shape[1]])).mean(dim=1)


def _identity(layer: nn.Linear) -> None:
    nn.init.eye_(layer.weight)
    nn.init.zeros_(layer.bias)


@HEADS.register("actionclip", help="ActionCLIP: Transf temporal fusion, CLIP-scale cosine logits, symmetric KL, "
                "prompt ensemble")
class ActionCLIPHead(Head):
    Config = ActionCLIPConfig
    tiny_options = {"fusion": "transformer"}
    costly = True  # the 6-block temporal transformer: among the slowest per step (docs/benchmarks.md)

    def __init__(self, dims: HeadDims, config: ActionCLIPConfig) -> None:
        super().__init__(dims, config)
        check_ensemble("actionclip", config.ensemble)
        for name in ("scale", "test_scale"):
            value = getattr(config, name)
            if not 0 <= value <= CLIP_LOGIT_SCALE:
                raise ZsarError(f"actionclip {name}={value}: must be in (0, {CLIP_LOGIT_SCALE:g}], or 0 for "
                                "the default of the features' space")
        shared = dims.shared_space and dims.video_dim == dims.text_dim
        embed_dim = config.embed_dim or (dims.text_dim if shared else SEPARATE_SPACES_DIM)
        self.video_proj = nn.Linear(dims.video_dim, embed_dim)
        self.text_proj = nn.Linear(dims.text_dim, embed_dim)
        self.fusion = FUSIONS.get(config.fusion)(embed_dim, dims.frames, config)
        self.starts_frozen = shared and embed_dim == dims.text_dim
        if self.starts_frozen:  # one joint space (CLIP): start exactly at its zero-shot, the frozen head
            _identity(self.video_proj), _identity(self.text_proj)
            if isinstance(self.fusion, TransformerFusion):
                self.fusion.start_as_mean()
        start = config.scale or (CLIP_LOGIT_SCALE if shared else CLIP_INIT_SCALE)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(start)))
        self.test_scale = config.test_scale or (CLIP_LOGIT_SCALE if shared else None)
        self.criterion = SymmetricKLLoss()

    @property
    def scale(self) -> Tensor:
        return self.logit_scale.exp().clamp(max=CLIP_LOGIT_SCALE)

    @property
    def softmax_scale(self) -> float | None:
        """The test's scale (fixed, or the learnt one); None with the ``probability`` ensemble (scores are probabilities)."""
        if self.config.ensemble == "probability":
            return None
        return float(self.scale if self.test_scale is None else self.test_scale)

    def standardise(self, video: Tensor) -> Tensor:
        """In a joint space the frame embeddings are only L2-normalised (``frozen``'s input); else z-scored."""
        return l2_normalise(video) if self.starts_frozen else super().standardise(video)

    def encode_clips(self, clips: Tensor) -> Tensor:
        return self.fusion(self.video_proj(clips))

    def embed_classes(self, text: ClassText) -> Tensor:
        return l2_normalise(self.text_proj(text.prompts))

    def scores(self, videos: Tensor, views: Tensor) -> Tensor:
        scale = self.scale if self.test_scale is None else self.test_scale
        return ensemble_scores(videos, views, self.config.ensemble, scale)

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        z = self.embed_video(video)
        prompt = torch.randint(text.prompts.shape[1], targets.shape, generator=rng).to(targets.device)
        t = l2_normalise(self.text_proj(text.prompts[targets, prompt]))
        return self.criterion(self.scale * z @ t.T, targets)
