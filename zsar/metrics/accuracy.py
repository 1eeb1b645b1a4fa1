"""Accuracy of a score matrix: top-1 / top-5, mean per-class accuracy and the confusion matrix.

Scores are ``(N, C)`` over candidate classes; labels ``(N,)`` are positions in those same
candidates. Ties go to the lower class position (a stable sort), as in
``SplitResult.predictions``; with fewer than 5 classes top-5 is over all of them.
Accuracies are in percent, as ``metrics.json`` stores them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zsar.errors import ZsarError

TOP_K = 5


@dataclass(frozen=True)
class Accuracy:
    """Accuracy of one split: ``top1``/``top5`` and ``mean_class`` in percent.

    ``per_class`` ``(C,)`` top-1 percent per candidate class (NaN for a class with no test
    video); ``confusion`` ``(C, C)`` counts, rows true class, columns predicted class.
    """

    top1: float
    top5: float
    mean_class: float
    per_class: np.ndarray
    confusion: np.ndarray


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
    ranked = np.argsort(-scores, axis=1, kind="stable")[:, :TOP_K]
    hits = ranked == labels[:, None]
    confusion = confusion_matrix(ranked[:, 0], labels, n_classes)
    tested = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = 100.0 * np.diag(confusion) / tested
    return Accuracy(
        top1=float(100.0 * hits[:, 0].mean()), top5=float(100.0 * hits.any(axis=1).mean()),
        mean_class=float(np.nanmean(per_class)), per_class=per_class, confusion=confusion,
    )
