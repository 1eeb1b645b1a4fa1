"""The training-free ``objects`` head: actions from the objects an ImageNet classifier sees (Objects2action, ConSE).

Objects2action (Jain, van Gemert, Mensink and Snoek, ICCV 2015) recognises actions with no
video training at all: an image classifier says which of its K object classes a video
shows, and a text space says how close each object's name is to each action label. ConSE
(Norouzi et al., ICLR 2014) is the same idea for images, as a convex combination of the
embeddings of the most probable classes. zsar takes the classifier from the backbone itself
(EfficientNet-Lite0's ImageNet-1k layer, applied to the pooled features the cache already
holds) and the object names from ``zsar/objects_data`` (both stored in the cache's object
vocabulary, ``zsar.cache.objects``, by ``zsar.extract.objects``):

- object probabilities ``p(z|v)`` ``(K,)``: the classifier's softmax on every cached frame,
  averaged over the video's frames and clips: Objects2action's video encoding (the mean of
  its frames' object scores). ConSE, made for images, takes that video-level distribution;
- ``rule="objects2action"`` (default): ``score(v, a) = sum over z in top_T(a) of p(z|v) *
  cos(s(z), s(a))``: each label ``a`` keeps only the ``top_t`` objects whose names are
  closest to its text ``s(a)`` (the paper's sparse selection of the most related objects
  per action), weighted by that affinity;
- ``rule="conse"``: the video is ``f(v) = sum over its top_t most probable objects of
  p(z|v) s(z) / sum of those p(z|v)`` (ConSE's convex combination), scored against each
  label's text by cosine.

``s`` is the label text's encoder for both sides: a label is its normalised prompt mean,
an object its name in the vocabulary's template. It sees objects and scenes in single
frames, never motion: "riding a bike" is found through bicycles, "walking" has no object
that gives it away.

As a ``Head``: with ``conse`` the embedding space is the text space. With
``objects2action`` a video is its unit probability vector and a label its masked affinity
vector, padded with one coordinate that no video uses: the views are unit vectors, scaled
by one factor for all labels of a call, so each video's ranking and score ratios are the
paper's sums exactly. The classifier, its bias and the object text are buffers (in every
checkpoint); ``bind_objects`` sets them from the cache's vocabulary. It has no
parameters, is never trained and never selects anything (``training_free``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from zsar.cache.config import read_cache_config
from zsar.cache.features import FeatureSet, load_text
from zsar.cache.layout import open_layout
from zsar.cache.objects import ObjectVocabulary, find_object_vocabulary
from zsar.cache.text import TextEmbeddings
from zsar.errors import ZsarError, check_choice
from zsar.heads.base import HEADS, ClassText, Head, HeadDims, l2_normalise

RULES = ("objects2action", "conse")
IMAGENET_CLASSES = 1000  # the object classes of the vocabulary (zsar/objects_data/imagenet1k.txt)
ADD_VOCABULARY = ("`zsar train-head`, `zsar sweep` and `zsar predict` add it; from Python call "
                  "zsar.extract.objects.add_object_vocabulary(CACHE)")


@dataclass(frozen=True)
class ObjectsConfig:
    """``rule``: ``objects2action`` (the T objects closest to each label) or ``conse`` (the video's T most
    probable objects, convexly combined); ``top_t``: T."""

    rule: str = "objects2action"
    top_t: int = 10


@HEADS.register("objects", help="training-free: the backbone's own ImageNet classifier and the object names' text "
                "(Objects2action; rule=conse: ConSE); needs a backbone with a classifier")
class ObjectsHead(Head):
    Config = ObjectsConfig
    training_free = True
    needs_objects = True

    def __init__(self, dims: HeadDims, config: ObjectsConfig) -> None:
        super().__init__(dims, config)
        check_choice("objects rule", config.rule, RULES)
        if not 1 <= config.top_t <= IMAGENET_CLASSES:
            raise ZsarError(f"objects top_t={config.top_t}: must be 1 to {IMAGENET_CLASSES} (the object classes)")
        self.register_buffer("classifier_weight", torch.zeros(IMAGENET_CLASSES, dims.video_dim))
        self.register_buffer("classifier_bias", torch.zeros(IMAGENET_CLASSES))
        self.register_buffer("object_text", torch.zeros(IMAGENET_CLASSES, dims.text_dim))
        self.register_buffer("bound", torch.zeros((), dtype=torch.bool))

    def set_objects(self, weight: Tensor | np.ndarray, bias: Tensor | np.ndarray, text: Tensor | np.ndarray) -> None:
        """Bind the classifier ``(K, D)``, its bias ``(K,)`` and the object names' unit text ``(K, Dt)``."""
        weight, bias, text = (torch.as_tensor(np.asarray(a), dtype=torch.float32) for a in (weight, bias, text))
        want = (tuple(self.classifier_weight.shape), tuple(self.classifier_bias.shape), tuple(self.object_text.shape))
        if (tuple(weight.shape), tuple(bias.shape), tuple(text.shape)) != want:
            raise ZsarError(f"the object vocabulary has a {tuple(weight.shape)} classifier and {tuple(text.shape)} "
                            f"object text; this objects head takes {want[0]} and {want[2]} ({self.dims.video_dim}-d "
                            f"features, {self.dims.text_dim}-d label text)")
        self.classifier_weight.copy_(weight)
        self.classifier_bias.copy_(bias)
        self.object_text.copy_(l2_normalise(text))
        self.bound.fill_(True)

    def _check_bound(self) -> None:
        if not bool(self.bound):
            raise ZsarError(f"the objects head has no object vocabulary yet; {ADD_VOCABULARY}")

    def standardise(self, video: Tensor) -> Tensor:
        """The classifier takes the cached features as the backbone gave them (no training statistics)."""
        return video

    def object_probabilities(self, video: Tensor) -> Tensor:
        """``(B, clips, T', D)`` -> ``(B, K)``: the classifier's softmax per frame, averaged over clips and frames."""
        self._check_bound()
        logits = video.float() @ self.classifier_weight.T + self.classifier_bias
        return torch.softmax(logits, dim=-1).mean(dim=(1, 2))

    def encode_clips(self, clips: Tensor) -> Tensor:
        return self.object_probabilities(clips[:, None])

    def embed_video(self, video: Tensor) -> Tensor:
        """``(B, clips, T', D)`` -> ``conse``: the unit convex combination ``(B, Dt)``; ``objects2action``: the unit
        object probabilities, padded with a zero ``(B, K + 1)``."""
        p = self.object_probabilities(video)
        if self.config.rule == "conse":
            top = p.topk(self.config.top_t, dim=1)
            weights = top.values / top.values.sum(dim=1, keepdim=True)
            return l2_normalise(torch.einsum("bt,btd->bd", weights, self.object_text[top.indices]))
        return torch.cat([l2_normalise(p), p.new_zeros(len(p), 1)], dim=1)

    def affinities(self, text: ClassText) -> Tensor:
        """``(C, K)``: the cosine of each label's text to each object name, kept for its ``top_t`` objects only."""
        self._check_bound()
        affinity = text.mean @ self.object_text.T
        keep = torch.zeros_like(affinity, dtype=torch.bool)
        keep.scatter_(1, affinity.topk(self.config.top_t, dim=1).indices, True)
        return torch.where(keep, affinity, torch.zeros_like(affinity))

    def embed_classes(self, text: ClassText) -> Tensor:
        """``conse``: each label's unit text ``(C, 1, Dt)``; ``objects2action``: its masked affinities over one
        scale ``M`` (the largest norm among the labels), padded to unit length ``(C, 1, K + 1)``."""
        if self.config.rule == "conse":
            self._check_bound()
            return text.mean[:, None]
        affinity = self.affinities(text)
        norms = affinity.norm(dim=1, keepdim=True)
        scale = norms.max().clamp_min(1e-12)
        pad = (1 - (norms / scale) ** 2).clamp_min(0).sqrt()
        return torch.cat([affinity / scale, pad], dim=1)[:, None]

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        raise ZsarError("the objects head is training-free and has no loss; train another head (`zsar heads`)")


def find_objects(features: FeatureSet, text: TextEmbeddings) -> ObjectVocabulary | None:
    """The cache's object vocabulary for ``text``'s encoder, or None."""
    if features.cache_dir is None:
        return None
    return find_object_vocabulary(features.cache_dir, features.config.weights_id, text.encoder, text.model_id)


def check_objects(flag: str, features: FeatureSet, text: TextEmbeddings) -> ObjectVocabulary:
    """The cache's object vocabulary for ``text``; refused in one line when there is none."""
    vocabulary = find_objects(features, text)
    if vocabulary is None:
        raise ZsarError(f"--head objects: {flag} {features.cache_dir} ({features.config.backbone} features) has no "
                        f"object vocabulary for its {text.encoder} text; {ADD_VOCABULARY} (it needs a backbone "
                        "with its own ImageNet classifier)")
    return vocabulary


def bind_objects(head: Head, features: FeatureSet, text: TextEmbeddings) -> None:
    """Give a head that ``needs_objects`` the object vocabulary of ``features``' cache for ``text``."""
    if getattr(head, "needs_objects", False):
        vocabulary = check_objects("--features", features, text)
        head.set_objects(vocabulary.weight, vocabulary.bias, vocabulary.embeddings)


def objects_scores(video: np.ndarray, vocabulary: ObjectVocabulary, text: TextEmbeddings,
                   config: ObjectsConfig = ObjectsConfig()) -> np.ndarray:
    """Training-free scores ``(N, C)`` of cached features ``(N, clips, T', D)`` for the labels of ``text``."""
    dims = HeadDims(video_dim=int(video.shape[-1]), text_dim=text.dim, frames=int(video.shape[2]),
                    n_classes=len(text.class_names))
    head = ObjectsHead(dims, config).eval()
    head.set_objects(vocabulary.weight, vocabulary.bias, vocabulary.embeddings)
    with torch.no_grad():
        videos = head.embed_video(torch.as_tensor(np.asarray(video)))
        return head.scores(videos, head.embed_classes(ClassText.from_embeddings(text))).numpy().astype(np.float32)


def objects_ready(cache: Path, text: str | None = None) -> bool:
    """Whether ``cache`` holds an object vocabulary for its label ``text`` (so a sweep can run ``objects`` on it)."""
    try:
        features_config = read_cache_config(open_layout(cache))
        label_text = load_text(cache, text)
    except ZsarError:  # no text, or several and no --text: each run says so itself
        return False
    found = find_object_vocabulary(cache, features_config.weights_id, label_text.encoder, label_text.model_id)
    return found is not None
