"""Accuracy of a score matrix, and summaries over splits: one definition for training and for metrics.

Scores are ``(N, C)`` over candidate classes; labels ``(N,)`` are positions in those same
candidates. Classes are ranked by score with ties to the lower class position (a stable
sort); with fewer than ``TOP_K`` classes top-5 is over all of them. Accuracies are the
fraction of test videos (micro-average, as E2E's ``accuracy_score``) in percent, as
``metrics.json`` stores them; over splits zsar reports the mean and the population
standard deviation (as E2E does).

The ranking itself (``top_k``) is ``zsar.vectors``', which ``zsar.cache`` uses too.
``zsar train-head`` writes them into ``metrics.json`` (``zsar.heads.zero_shot``) and
``zsar metrics`` measures them again from the stored scores (``zsar.metrics.measure``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from zsar.errors import ZsarError
from zsar.vectors import TOP_K, top_k  # noqa: F401 (ranking lives with the vectors; cache ranks predictions too)



@dataclass(frozen=True, kw_only=True)
class Accuracy:
    """Accuracy of one split: ``top1``/``top5`` and ``mean_class`` in percent.

    ``correct`` ``(N,)`` whether each video's top-1 class is right; ``per_class`` ``(C,)``
    top-1 percent per candidate class (NaN for a class with no test video); ``confusion``
    ``(C, C)`` counts, rows true class, columns predicted class.
    """

    top1: float
    top5: float
    mean_class: float
    per_class: np.ndarray
    confusion: np.ndarray
    correct: np.ndarray


def confusion_matrix(predicted: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``(C, C)`` int64 counts of (true ``labels``, ``predicted``) pairs."""
    flat = np.asarray(labels, dtype=np.int64) * n_classes + np.asarray(predicted, dtype=np.int64)
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def accuracy(scores: np.ndarray, labels: np.ndarray) -> Accuracy:
    """Top-1, top-5, mean per-class accuracy and confusion of ``scores`` ``(N, C)`` for ``labels`` ``(N,)``."""
    scores = np.asarray(scores)
    labels = np.asarray(labels, dtype=np.int64)
    n_classes = scores.shape[1]
    if labels.size and not 0 <= labels.min() <= labels.max() < n_classes:
        raise ZsarError(f"test labels range {labels.min()}..{labels.max()} but there are {n_classes} "
                        "candidate classes; the run's test_labels and scores do not match")
    ranked = top_k(scores)
    hits = ranked == labels[:, None]
    confusion = confusion_matrix(ranked[:, 0], labels, n_classes)
    tested = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = 100.0 * np.diag(confusion) / tested
    return Accuracy(
        top1=float(100.0 * hits[:, 0].mean()), top5=float(100.0 * hits.any(axis=1).mean()),
        mean_class=float(np.nanmean(per_class)), per_class=per_class, confusion=confusion, correct=hits[:, 0],
    )


def harmonic_mean(a: float, b: float) -> float:
    """``2ab / (a + b)``; 0 when both are 0 (no video of either group was right)."""
    return 0.0 if a + b == 0 else 2 * a * b / (a + b)


def mean_std(objects: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mean and population std over ``objects`` (one per split) of every number, nested dicts kept.

    The ``split`` id and values that are not numbers are left out; a key missing (or None)
    in some objects is summarised over those that have a value.
    """
    mean: dict[str, Any] = {}
    std: dict[str, Any] = {}
    keys = list(dict.fromkeys(key for obj in objects for key in obj))
    for key in keys:
        values = [obj[key] for obj in objects if obj.get(key) is not None]
        if not values:
            continue
        if isinstance(values[0], dict):
            mean[key], std[key] = mean_std(values)
        elif key != "split" and isinstance(values[0], (int, float)):
            mean[key] = float(np.mean(values))
            std[key] = float(np.std(values))
    return mean, std
