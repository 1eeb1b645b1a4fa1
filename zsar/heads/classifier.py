"""The zero-shot classifier: pure functions from video embeddings and class text to scores.

Evaluation (``zsar.heads.zero_shot``), model selection (``zsar.heads.selection``) and
``zsar predict`` all score through ``classify``; none of these functions knows a protocol
or a split plan:

- ``class_views``: class label text -> the head's class views ``(C, V, E)``; with semantic
  transfer (``SeenClasses``) the prototypes of classes that were not seen are composed from
  the seen classes' visual means (``zsar.heads.transfer``), and candidates that were seen
  (GZSL, base-to-novel's base classes) keep their own visual mean;
- ``zero_shot_scores``: video embeddings x views -> ``(N, C)`` what the head says (cosine to
  the prototypes, or ActionCLIP's prompt-ensemble probabilities), with the pair scores of
  heads that score (video, class) pairs jointly fused in (ResT's joint mode);
- re-ranking (``zsar.heads.rerank``) last, on the final scores of these videos and classes;
- ``probabilities``: scores -> a softmax over the classes at the head's ``softmax_scale``.

``embed_rows`` and ``pair_scores_of_rows`` read cached features ``(N, clips, T', D)`` in batches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from zsar.cache.text import TextEmbeddings
from zsar.heads.base import ClassText, Head
from zsar.heads.batches import FeatureBatches
from zsar.heads.rerank import rerank
from zsar.heads.transfer import TransferConfig, class_means, semantic_transfer

INFERENCE_BATCH = 512
SCORE_BATCH = 4096  # videos scored at a time: ActionCLIP's ensemble holds (prompts, videos, classes) logits
NO_TRANSFER = TransferConfig("none")


@dataclass(frozen=True, kw_only=True)
class SeenClasses:
    """What semantic transfer composes prototypes from: the embeddings of training videos of S seen classes.

    ``embeddings`` ``(M, E)`` unit video embeddings, ``targets`` ``(M,)`` their class as a
    position in ``text`` (the S seen classes' label text). ``of_candidates`` ``(C,)``: for
    each candidate class, its position among the seen classes, or -1 for a class not seen
    (None: no candidate was seen).
    """

    embeddings: np.ndarray
    targets: np.ndarray
    text: TextEmbeddings
    of_candidates: np.ndarray | None = None


def probabilities(scores: np.ndarray, scale: float | None) -> np.ndarray:
    """``(N, C)`` scores -> ``(N, C)`` probabilities over the C classes: ``softmax(scale x scores)``.

    ``scale`` None: the scores are probabilities already (a prompt ensemble of softmaxes,
    or a mean of them over splits); they are only renormalised, negatives clipped to 0.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scale is None:
        kept = np.clip(scores, 0.0, None)
        total = kept.sum(axis=1, keepdims=True)
        return np.where(total > 0, kept / np.where(total > 0, total, 1.0), 1.0 / scores.shape[1])
    logits = scale * scores
    logits -= logits.max(axis=1, keepdims=True)
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


@torch.no_grad()
def embed_rows(head: Head, features: np.ndarray, rows: np.ndarray, device: torch.device) -> np.ndarray:
    """``(len(rows), E)`` unit embeddings of ``features[rows]`` (all clips), in eval mode."""
    head.eval()
    out = np.zeros((0, 0), np.float32)
    for start, video in zip(range(0, len(rows), INFERENCE_BATCH),
                            FeatureBatches(features, rows).in_order(INFERENCE_BATCH, device)):
        embedded = head.embed_video(video).float().cpu().numpy()
        if start == 0:  # filled in place: a list of batches to concatenate would hold them twice
            out = np.empty((len(rows), embedded.shape[1]), dtype=np.float32)
        out[start:start + len(embedded)] = embedded
    return out


@torch.no_grad()
def pair_scores_of_rows(head: Head, features: np.ndarray, rows: np.ndarray, text: ClassText,
                        device: torch.device) -> np.ndarray:
    """``(len(rows), C)`` ``head.pair_scores`` of ``features[rows]`` (all clips) with the classes of ``text``."""
    head.eval()
    out = np.empty((len(rows), len(text)), dtype=np.float32)
    for start, video in zip(range(0, len(rows), INFERENCE_BATCH),
                            FeatureBatches(features, rows).in_order(INFERENCE_BATCH, device)):
        out[start:start + len(video)] = head.pair_scores(video, text).float().cpu().numpy()
    return out


@torch.no_grad()
def class_views(head: Head, text: TextEmbeddings, transfer: TransferConfig, seen: SeenClasses | None,
                device: torch.device) -> torch.Tensor:
    """``(C, V, E)`` views of the C classes of ``text``; with semantic transfer, ``(C, 1, E)`` composed prototypes."""
    head.eval()
    views = head.embed_classes(ClassText.from_embeddings(text, device))
    if transfer.mode != "semantic":
        return views
    assert seen is not None, "semantic transfer composes prototypes from seen classes"
    means = class_means(seen.embeddings, seen.targets, len(seen.text.class_names))
    composed = semantic_transfer(means, seen.text.mean, text.mean, head.prototypes(views).cpu().numpy(), transfer)
    if seen.of_candidates is not None:
        was_seen = seen.of_candidates >= 0
        composed[was_seen] = means[seen.of_candidates[was_seen]]
    return torch.as_tensor(composed, device=device)[:, None]


def batched_scores(head: Head, videos: torch.Tensor, views: torch.Tensor) -> np.ndarray:
    """``head.scores`` ``(N, C)`` of ``videos`` ``(N, E)`` against ``views`` ``(C, V, E)``, in batches of videos."""
    scores = np.empty((len(videos), len(views)), dtype=np.float32)
    for start in range(0, len(videos), SCORE_BATCH):
        scores[start:start + SCORE_BATCH] = head.scores(videos[start:start + SCORE_BATCH], views).float().cpu().numpy()
    return scores


@torch.no_grad()
def zero_shot_scores(head: Head, embeddings: np.ndarray, views: torch.Tensor,
                     pairs: np.ndarray | None = None) -> np.ndarray:
    """``(N, C)`` scores of ``embeddings`` ``(N, E)`` against ``views`` ``(C, V, E)``; ``pairs`` ``(N, C)`` fused in."""
    scores = batched_scores(head, torch.as_tensor(embeddings, device=views.device), views)
    if pairs is not None:
        scores = head.fuse(torch.as_tensor(scores), torch.as_tensor(pairs)).numpy()
    return scores


@torch.no_grad()
def classify(head: Head, embeddings: np.ndarray, text: TextEmbeddings, *, features: np.ndarray | None = None,
             rows: np.ndarray | None = None, transfer: TransferConfig = NO_TRANSFER, seen: SeenClasses | None = None,
             rerank_method: str = "none", device: torch.device | str = "cpu") -> tuple[np.ndarray, np.ndarray]:
    """``(prototypes (C, E), scores (N, C))`` of N videos among the C classes of ``text``.

    ``embeddings`` ``(N, E)`` are the videos' unit embeddings; ``features[rows]`` their cached
    features, read only by heads that score pairs (``head.scores_pairs``).
    """
    device = torch.device(device)
    views = class_views(head, text, transfer, seen, device)
    pairs = None
    if head.scores_pairs:
        assert features is not None and rows is not None, "pair scores read the cached features"
        pairs = pair_scores_of_rows(head, features, rows, ClassText.from_embeddings(text, device), device)
    scores = zero_shot_scores(head, embeddings, views, pairs)
    return head.prototypes(views).float().cpu().numpy(), rerank(scores, rerank_method)
