"""The contract every head meets, the ``HEADS`` registry, and the one torch L2 normaliser.

A head is an ``nn.Module`` on tensors. It embeds videos and class label texts into one
space where zero-shot classification is a cosine nearest neighbour:

- ``embed_video(video)``: cached features ``(B, clips, T', D)`` -> unit vectors ``(B, E)``
  (each clip is encoded on its own, the clip embeddings are averaged);
- ``embed_classes(text)``: ``ClassText`` of C classes -> unit "views" ``(C, V, E)``: one
  per prompt for heads that keep prompts apart (ActionCLIP's ensemble), else ``V = 1``;
  ``prototypes(views)`` is their normalised mean ``(C, E)``;
- ``scores(videos, views)``: ``(N, C)``, by default the cosine to the prototypes;
- heads that also score (video, class) pairs jointly (``scores_pairs``: ResT's joint
  mode) give ``pair_scores(video, text)`` ``(B, C)`` from the cached features, and
  ``fuse(scores, pairs)`` combines them with ``scores`` into the zero-shot scores;
- ``loss(video, targets, text, rng)``: the training loss of one batch, where ``targets``
  ``(B,)`` index the C training classes of ``text``.

Every head standardises its input: ``embed_video`` first maps the cached features to
``(x - feature_mean) / feature_scale`` (per feature dim, statistics of the training videos
set by ``set_feature_stats``; zero and one until then). Both are buffers, so they are in
the state dict and the checkpoint, and test videos are standardised with the training
statistics.

Training-free heads (``training_free``: ``frozen``, the backbone's own zero-shot, and
``objects``, its own ImageNet classifier) are neither trained nor selected; heads that
``needs_shared_space`` are refused for features and text of unrelated models, heads that
``needs_objects`` for caches with no object vocabulary (``zsar.heads.objects``). Heads with learnable visual class centres (``has_centres``) can use AURL's class
generator. Closed-form heads (``ClosedFormHead``, the ridge) are solved exactly instead of
trained by SGD. Each head class carries its frozen ``Config`` dataclass and is created by
``create_head(name, dims, **options)``; its ``tiny_options`` make a small, fast instance for
tests (the contract test runs every registered head with them, plugins included).

Adding a head is one registered class. The registry also says which head is the
``BASELINE`` every sweep compares against (the ridge) and which is the
``SHARED_SPACE_BASELINE`` (``frozen``); ``heads_in_order`` is the sweep's order.
"""

from __future__ import annotations

import abc
from dataclasses import asdict, dataclass, fields
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zsar.heads.batches import FeatureBatches
from zsar.cache.text import TextEmbeddings
from zsar.errors import ZsarError
from zsar.registry import Registry

# Modules whose import registers a head; the registry imports them on first use, so ``import zsar.heads.rerank`` stays light.
HEAD_MODULES = ("zsar.heads.frozen", "zsar.heads.objects", "zsar.heads.ridge", "zsar.heads.linear", "zsar.heads.actionclip",
                "zsar.heads.aurl", "zsar.heads.rest")
HEADS: Registry[type["Head"]] = Registry("head", modules=HEAD_MODULES)
BASELINE = "baseline"  # registry tag: the head every sweep row is compared with
SHARED_SPACE_BASELINE = "shared-space-baseline"  # registry tag: the training-free check of a shared space
COSINE_LOGIT_SCALE = 10.0  # AURL: CE(10 * cos(a, b), y); ``losses.ScaledCosineCELoss`` and heads' probabilities


def l2_normalise(x: Tensor, dim: int = -1, eps: float = 1e-12) -> Tensor:
    """``x / ||x||`` along ``dim`` (zero vectors stay zero): the torch twin of ``zsar.vectors.l2_normalise``."""
    return F.normalize(x, p=2.0, dim=dim, eps=eps)


@dataclass(frozen=True, kw_only=True)
class HeadDims:
    """Sizes a head is built for: feature dim ``D``, text dim ``Dt``, frames ``T'``, training classes.

    ``shared_space``: the video features and the label text come from one model's joint
    space (CLIP's image and text towers: the feature cache's and the text's ``space`` agree).
    """

    video_dim: int
    text_dim: int
    frames: int
    n_classes: int
    shared_space: bool = False


@dataclass
class ClassText:
    """Label text of C classes as tensors.

    ``prompts`` ``(C, P, Dt)``: one unit vector per prompt template; ``words`` ``(C, L, Dt)``
    and ``word_mask`` ``(C, L)`` (True for a real word) for word-vector encoders, else None.
    """

    prompts: Tensor
    words: Tensor | None = None
    word_mask: Tensor | None = None

    @classmethod
    def from_embeddings(cls, text: TextEmbeddings, device: torch.device | str = "cpu") -> "ClassText":
        as_tensor = lambda a, dtype: torch.as_tensor(np.asarray(a), dtype=dtype, device=device)  # noqa: E731
        words = None if text.words is None else as_tensor(text.words, torch.float32)
        mask = None if text.word_mask is None else as_tensor(text.word_mask, torch.bool)
        return cls(as_tensor(text.embeddings, torch.float32), words, mask)

    def __len__(self) -> int:
        return int(self.prompts.shape[0])

    @property
    def mean(self) -> Tensor:
        """``(C, Dt)``: the normalised mean over prompts."""
        return l2_normalise(self.prompts.mean(dim=1))

    def tokens(self) -> tuple[Tensor, Tensor]:
        """Text tokens ``(C, L, Dt)`` and their mask ``(C, L)``: the words if there are any, else the prompts."""
        if self.words is not None and self.word_mask is not None:
            return self.words, self.word_mask
        return self.prompts, torch.ones(self.prompts.shape[:2], dtype=torch.bool, device=self.prompts.device)


class Head(nn.Module, abc.ABC):
    """Base class of the registered heads; see the module docstring for the contract."""

    Config: ClassVar[type]
    has_centres: ClassVar[bool] = False
    default_transfer: ClassVar[str] = "none"
    training_free: ClassVar[bool] = False  # no parameters: never trained, nothing to select (``frozen``)
    needs_shared_space: ClassVar[bool] = False  # only for features and text of one joint space (``frozen``)
    needs_objects: ClassVar[bool] = False  # needs the cache's object vocabulary: a backbone classifier (``objects``)
    tiny_options: ClassVar[dict[str, Any]] = {}  # options of a small, fast instance for tests
    costly: ClassVar[bool] = False  # among the slowest per step: zsar sweep starts its runs first

    def __init__(self, dims: HeadDims, config: Any) -> None:
        super().__init__()
        self.dims = dims
        self.config = config
        self.register_buffer("feature_mean", torch.zeros(dims.video_dim))
        self.register_buffer("feature_scale", torch.ones(dims.video_dim))

    def set_feature_stats(self, mean: np.ndarray | Tensor, scale: np.ndarray | Tensor) -> None:
        """Standardise inputs with ``mean`` and ``scale`` ``(D,)`` (statistics of the training videos)."""
        self.feature_mean.copy_(torch.as_tensor(np.asarray(mean), dtype=torch.float32))
        self.feature_scale.copy_(torch.as_tensor(np.asarray(scale), dtype=torch.float32))

    def standardise(self, video: Tensor) -> Tensor:
        """``(..., D)`` cached features -> ``(x - feature_mean) / feature_scale``."""
        return (video - self.feature_mean) / self.feature_scale

    @abc.abstractmethod
    def encode_clips(self, clips: Tensor) -> Tensor:
        """``(B, T', D)`` frame features of B clips -> ``(B, E)`` embeddings (not normalised)."""

    @abc.abstractmethod
    def embed_classes(self, text: ClassText) -> Tensor:
        """``(C, V, E)`` unit class views."""

    @abc.abstractmethod
    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        """Scalar training loss of a batch ``video`` ``(B, clips, T', D)`` with ``targets`` ``(B,)``."""

    def embed_video(self, video: Tensor) -> Tensor:
        """``(B, clips, T', D)`` -> ``(B, E)`` unit vectors (clip embeddings averaged)."""
        b, k = video.shape[:2]
        z = self.encode_clips(self.standardise(video).flatten(0, 1))
        return l2_normalise(z.view(b, k, -1).mean(dim=1))

    @staticmethod
    def prototypes(views: Tensor) -> Tensor:
        """``(C, V, E)`` views -> ``(C, E)`` unit prototypes."""
        return l2_normalise(views.mean(dim=1))

    def scores(self, videos: Tensor, views: Tensor) -> Tensor:
        """``(N, E)`` unit video embeddings x ``(C, V, E)`` class views -> ``(N, C)`` cosine scores."""
        return videos @ self.prototypes(views).T

    @property
    def scores_pairs(self) -> bool:
        """Whether zero-shot scores fuse ``pair_scores`` of every (video, class) pair."""
        return False

    def pair_scores(self, video: Tensor, text: ClassText) -> Tensor:
        """``(B, C)`` joint scores of cached features ``(B, clips, T', D)`` with C classes (``scores_pairs`` heads)."""
        raise ZsarError(f"head {type(self).__name__} does not score (video, class) pairs")

    def fuse(self, scores: Tensor, pairs: Tensor) -> Tensor:
        """Zero-shot scores ``(N, C)`` from ``scores`` and ``pair_scores`` (``scores_pairs`` heads)."""
        return scores

    @property
    def softmax_scale(self) -> float | None:
        """The logit scale that turns this head's zero-shot scores into probabilities over the labels (a softmax of
        ``softmax_scale x scores``, ``zsar.heads.classifier.probabilities``); None: its scores are probabilities.

        Here the scale zsar's cross-entropy on cosine logits trains with (``COSINE_LOGIT_SCALE``, AURL's 10);
        heads trained by regression (``linear``, ``ridge``) or not at all (``objects``) keep it, heads with a
        scale of their own (a config's, a learnt one, CLIP's 100) return that.
        """
        return COSINE_LOGIT_SCALE

    def describe(self) -> dict[str, Any]:
        """Primitives that rebuild this head: its dims and config (stored in checkpoints)."""
        return {"dims": asdict(self.dims), "config": asdict(self.config)}


class ClosedFormHead(Head):
    """A head solved exactly from moments of the training set instead of trained by SGD (the ridge)."""

    @abc.abstractmethod
    def system(self, batches: FeatureBatches, text: ClassText) -> Any:
        """The statistics of the (standardised) training videos of ``batches`` that determine the solution."""

    @abc.abstractmethod
    def solve(self, system: Any, alpha: float | None = None) -> float:
        """Set the weights from ``system`` with regulariser ``alpha`` (the config's if None); the training loss."""


def heads_in_order() -> list[str]:
    """The registered heads in sweep order: the baselines, then the built-in heads, then plugins as registered."""
    roles = (SHARED_SPACE_BASELINE, BASELINE)

    def key(name: str) -> tuple[int, int, int]:
        entry = HEADS.entry(name)
        role = next((i for i, tag in enumerate(roles) if tag in entry.tags), len(roles))
        module = entry.obj.__module__
        return (role, HEAD_MODULES.index(module) if module in HEAD_MODULES else len(HEAD_MODULES), entry.order)

    return sorted(HEADS.names(), key=key)


def baseline_head(tag: str = BASELINE) -> str:
    """The head registered with ``tag`` (``BASELINE``: the ridge; ``SHARED_SPACE_BASELINE``: frozen)."""
    tagged = HEADS.tagged(tag)
    if len(tagged) != 1:
        raise ZsarError(f"heads tagged {tag!r}: {', '.join(tagged) or 'none'}; exactly one head may carry that tag "
                        f"(a plugin that registers another with tags=({tag!r},) must drop the tag)")
    return tagged[0]


def head_class(name: str) -> type[Head]:
    """The head class registered as ``name`` (an unknown name lists the valid ones)."""
    return HEADS.get(name)


def head_option_names(name: str) -> list[str]:
    """The config fields of head ``name`` (its options)."""
    return [f.name for f in fields(head_class(name).Config)]


def head_config(name: str, **options: Any) -> Any:
    """The ``Config`` of head ``name`` with ``options`` set (others keep their defaults)."""
    unknown = sorted(set(options) - set(head_option_names(name)))
    if unknown:
        raise ZsarError(f"head {name!r} has no option {unknown[0]!r}; its options: "
                        f"{', '.join(head_option_names(name))}")
    return head_class(name).Config(**options)


def create_head(name: str, dims: HeadDims, **options: Any) -> Head:
    """Build head ``name`` for ``dims``; ``options`` set fields of its ``Config`` (others keep defaults)."""
    return head_class(name)(dims, head_config(name, **options))

