"""Zero-shot inference of one split: embed videos, build class prototypes, score, re-rank, and its accuracy.

Scores are what the head says (cosine to the prototypes, or ActionCLIP's prompt-ensemble
probabilities; heads that score (video, class) pairs jointly, ResT's joint mode, fuse
those pair scores in, ``pair_scores_of_rows``); with semantic transfer the test classes' prototypes are replaced by
composed visual prototypes (seen classes, in GZSL, by their own visual prototype).
Re-ranking (``zsar.heads.rerank``) is applied next; last, a plan with class ``groups``
(``base-to-novel``) ranks each test video only among the candidates of its own class's
group (the others get the lowest float32 score). Accuracy (``zsar.metrics.accuracy``) is the
fraction of test videos, in percent; when seen classes are among the candidates (GZSL) the
accuracy on seen and on unseen test videos and their harmonic mean are added.
"""

from __future__ import annotations

import numpy as np
import torch

from zsar.metrics.accuracy import accuracy, harmonic_mean, mean_std
from zsar.heads.batches import FeatureBatches
from zsar.runs.results import SplitResult
from zsar.heads.base import ClassText, Head
from zsar.heads.plans import SplitPlan
from zsar.heads.rerank import rerank
from zsar.heads.transfer import TransferConfig, class_means, semantic_transfer
from zsar.vectors import positions

INFERENCE_BATCH = 512
SCORE_BATCH = 4096  # videos scored at a time: ActionCLIP's ensemble holds (prompts, videos, classes) logits
SUMMARY_KEYS = ("top1", "top5", "seen_top1", "unseen_top1", "harmonic", "base_top1", "novel_top1", "hm")
OUT_OF_GROUP = np.finfo(np.float32).min


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
def score_split(head: Head, plan: SplitPlan, test_embeddings: np.ndarray, train_embeddings: np.ndarray,
                train_targets: np.ndarray, transfer: TransferConfig, rerank_method: str,
                device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """``(prototypes (Ct, E), scores (N, Ct))`` of the plan's test classes.

    ``train_embeddings`` / ``train_targets`` (indices of ``plan.train.classes``) give the
    seen visual prototypes for semantic transfer (ignored without it).
    """
    head.eval()
    views = head.embed_classes(ClassText.from_embeddings(plan.test.text, device))
    if transfer.mode == "semantic":
        seen = class_means(train_embeddings, train_targets, len(plan.train.classes))
        composed = semantic_transfer(seen, plan.train.text.mean, plan.test.text.mean,
                                     head.prototypes(views).cpu().numpy(), transfer)
        seen_candidates = plan.seen[plan.test.classes]  # GZSL: seen classes keep their visual means
        composed[seen_candidates] = seen[positions(plan.test.classes[seen_candidates], plan.train.classes)]
        views = torch.as_tensor(composed, device=device)[:, None]
    scores = batched_scores(head, torch.as_tensor(test_embeddings, device=device), views)
    if head.scores_pairs:
        pairs = pair_scores_of_rows(head, plan.test.cache.features, plan.test.rows,
                                    ClassText.from_embeddings(plan.test.text, device), device)
        scores = head.fuse(torch.as_tensor(scores), torch.as_tensor(pairs)).numpy()
    return head.prototypes(views).float().cpu().numpy(), within_groups(plan, rerank(scores, rerank_method))


def within_groups(plan: SplitPlan, scores: np.ndarray) -> np.ndarray:
    """``scores`` ``(N, Ct)`` with every candidate outside the test video's class group at ``OUT_OF_GROUP``."""
    if plan.groups is None:
        return scores
    own = plan.groups[plan.test.labels][:, None] == plan.groups[plan.test.classes][None, :]
    return np.where(own, scores, OUT_OF_GROUP).astype(scores.dtype)


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


def batched_scores(head: Head, videos: torch.Tensor, views: torch.Tensor) -> np.ndarray:
    """``head.scores`` ``(N, C)`` of ``videos`` ``(N, E)`` against ``views`` ``(C, V, E)``, in batches of videos."""
    scores = np.empty((len(videos), len(views)), dtype=np.float32)
    for start in range(0, len(videos), SCORE_BATCH):
        scores[start:start + SCORE_BATCH] = head.scores(videos[start:start + SCORE_BATCH], views).float().cpu().numpy()
    return scores


def split_metrics(result: SplitResult, names: dict[str, str] | None = None) -> dict[str, float | int]:
    """Top-1/top-5 (percent) of one split; with seen candidates also seen, unseen and harmonic top-1.

    ``names`` renames those three (``base-to-novel``: base, novel, HM).
    """
    measured = accuracy(result.scores, result.label_positions())
    metrics: dict[str, float | int] = {
        "split": result.split, "top1": measured.top1, "top5": measured.top5,
        "n_test": int(len(result.test_labels)), "n_classes": int(len(result.test_classes))}
    if result.seen[result.test_classes].any():
        on_seen, correct = result.seen[result.test_labels], measured.correct
        seen_top1 = 100 * float(correct[on_seen].mean()) if on_seen.any() else 0.0
        unseen_top1 = 100 * float(correct[~on_seen].mean()) if (~on_seen).any() else 0.0
        metrics.update(seen_top1=seen_top1, unseen_top1=unseen_top1, harmonic=harmonic_mean(seen_top1, unseen_top1))
    return {(names or {}).get(k, k): v for k, v in metrics.items()}


def summarise(per_split: list[dict[str, float | int]]) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and (population) standard deviation over splits of every accuracy in ``SUMMARY_KEYS``."""
    return mean_std([{k: m[k] for k in SUMMARY_KEYS if k in m} for m in per_split])
