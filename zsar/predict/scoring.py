"""Scores ``(N videos, C labels)`` of new videos: with a trained run's heads, or the training-free ``frozen`` rule.

With a run, each split's head scores the videos exactly as ``zsar train-head`` scored its
test videos, with the same classifier (``zsar.heads.classifier.classify``): the user's
labels are the candidates, the split's seen classes give semantic transfer its visual
prototypes, and ResT's joint mode fuses its pair scores. A run of several splits (e.g. ``within-half``: each
split trained on other seen classes) scores with one split (``split``) or, by default,
with the mean of every split's scores: an ensemble of the split models, which is steadier
than any one of them. Re-ranking comes last, on the final scores.

Without a run, ``frozen_scores`` (``zsar.heads.frozen``) scores the cached features
against the prompt ensemble of each label: the backbone's own zero-shot, which needs
features and text of one joint space (CLIP's image and text towers).

Without a run and with a backbone that keeps its ImageNet classifier, ``objects_scores``
(``zsar.heads.objects``) names the labels by the objects the classifier sees.

Re-ranking (``--rerank csls`` / ``inverted-softmax``, ``zsar.heads.rerank``) is
transductive: it judges each label by how close it is to *all the videos of the call*
(CSLS: the mean of its ``CSLS_K`` = 10 best video scores), so it needs a batch of videos,
at least ``MIN_RERANK_VIDEOS``, and helps with dozens or more; with one video it changes
nothing and is refused. Windows are re-ranked among the call's windows, apart from the
videos.

Probabilities (``call_scores``) are a softmax of the final scores over the labels at the
model's logit scale (``Head.softmax_scale``: CLIP's 100 for frozen, a head's learnt or
configured scale, 10 for heads without one; the mean over a run's splits), or the scores
renormalised where they are probabilities already (a ``probability`` prompt ensemble).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from zsar.cache.features import FeatureSet
from zsar.cache.text import TextEmbeddings
from zsar.errors import ZsarError
from zsar.heads.base import COSINE_LOGIT_SCALE
from zsar.heads.frozen import CLIP_LOGIT_SCALE, frozen_scores
from zsar.heads.classifier import SeenClasses, classify, embed_rows, probabilities
from zsar.heads.objects import objects_scores
from zsar.heads.rerank import CSLS_K, RERANKERS, rerank
from zsar.predict.config import PredictConfig
from zsar.predict.model import RunModel, SplitModel

log = logging.getLogger(__name__)
MIN_RERANK_VIDEOS = 2
NO_RERANK = "none"


def check_rerank(method: str, n_videos: int) -> None:
    """Refuse an unknown re-ranker, or re-ranking a single video; warn when the batch is small."""
    RERANKERS.entry(method)
    if method == NO_RERANK:
        return
    if n_videos < MIN_RERANK_VIDEOS:
        raise ZsarError(f"--rerank {method} compares each label with all the videos of the call, so it needs a "
                        f"batch of videos ({n_videos} here); predict a folder, or drop --rerank")
    if n_videos < CSLS_K:
        log.warning("--rerank %s with only %d videos: it estimates each label's hubness from the %d best videos, "
                    "so it works best with dozens or more", method, n_videos, CSLS_K)


def split_scores(model: SplitModel, videos: FeatureSet, text: TextEmbeddings, run: RunModel,
                 device: torch.device) -> np.ndarray:
    """``(N, C)`` scores of one split's head (before re-ranking): the user's labels are the candidates."""
    rows = np.arange(len(videos))
    embeddings = embed_rows(model.head, videos.features, rows, device)
    seen = None
    if run.transfer.mode == "semantic":
        if len(model.train_targets) == 0:
            raise ZsarError(f"run {run.run}: split {model.split} uses semantic transfer but keeps no training "
                            "embeddings; re-run `zsar train-head` to redo it")
        seen = SeenClasses(embeddings=model.train_embeddings, targets=model.train_targets, text=model.train_text)
    _, scores = classify(model.head, embeddings, text, features=videos.features, rows=rows, transfer=run.transfer,
                         seen=seen, device=device)
    return scores


def run_scores(run: RunModel, videos: FeatureSet, text: TextEmbeddings, device: torch.device) -> np.ndarray:
    """``(N, C)``: the mean over the run's (chosen) splits of their scores."""
    total = np.zeros((len(videos), len(text.class_names)), dtype=np.float64)
    for model in run.splits:
        total += split_scores(model, videos, text, run, device)
    return (total / len(run.splits)).astype(np.float32)


def training_free_scores(videos: FeatureSet, text: TextEmbeddings, ensemble: str = "embedding") -> np.ndarray:
    """``(N, C)`` frozen zero-shot scores of cached features against the labels' prompt embeddings."""
    space = videos.config.space
    if not space or space != text.space:
        raise ZsarError(f"the frozen head scores features and label text of one joint space; the features of "
                        f"{videos.config.backbone} are in space {space or 'none'!r}, the text of {text.encoder} in "
                        f"{text.space or 'none'!r}: use --backbone clip-vit-b16 --text-encoder clip, or a trained "
                        "run (--run)")
    with torch.no_grad():
        scores = frozen_scores(torch.as_tensor(videos.features), torch.as_tensor(text.embeddings), ensemble)
    return scores.numpy().astype(np.float32)


def final_scores(scores: np.ndarray, method: str) -> np.ndarray:
    """Re-rank ``scores`` ``(N, C)`` with ``method`` (``none`` keeps them)."""
    check_rerank(method, len(scores))
    return rerank(scores, method)


def softmax_scale(config: PredictConfig, run: RunModel | None) -> float | None:
    """The logit scale of the call's model (module doc); None: its scores are probabilities already."""
    if run is not None:
        scales = [model.head.softmax_scale for model in run.splits]
        return None if None in scales else float(np.mean(scales))
    if config.head == "objects":
        return COSINE_LOGIT_SCALE  # Head's: objects has no scale of its own
    return None if config.ensemble == "probability" else CLIP_LOGIT_SCALE


def call_scores(config: PredictConfig, run: RunModel | None, features: FeatureSet, text: TextEmbeddings,
                device: torch.device, is_window: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(N, C)`` final scores and probabilities of the call's rows (videos, and windows re-ranked apart)."""
    n_labels = len(text.class_names)
    if len(features) == 0:
        return np.zeros((0, n_labels), np.float32), np.zeros((0, n_labels))
    if run is not None:
        raw = run_scores(run, features, text, device)
    elif config.head == "objects":
        from zsar.extract.objects import add_object_vocabulary

        raw = objects_scores(features.features, add_object_vocabulary(features.cache_dir, text, config.device), text)
    else:
        raw = training_free_scores(features, text, config.ensemble)
    scores = np.array(raw, dtype=np.float32)
    scores[~is_window] = final_scores(raw[~is_window], config.rerank)
    if is_window.sum() >= MIN_RERANK_VIDEOS:
        scores[is_window] = rerank(raw[is_window], config.rerank)
    return scores, probabilities(scores, softmax_scale(config, run))
