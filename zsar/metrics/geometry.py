"""Closeness and dispersion (AURL, Pu et al., CVPR 2022): alignment and uniformity of classes.

All distances are **Euclidean distances on the unit sphere**, ``||a - b||`` between
L2-normalised vectors (``sqrt(2 - 2 cos)``, in ``[0, 2]``), the distance AURL's alignment
and uniformity losses are built on. (AURL's exact definition was not readable, see
methods.md; this choice is used for every number zsar reports.)

- A class centre is the L2-normalised mean of the class's L2-normalised embeddings.
- ``closeness``: the mean over classes of the mean distance of a class's embeddings to
  its centre (lower = tighter classes, better alignment).
- ``dispersion``: the smallest distance between two class centres (higher = classes spread
  further apart, better uniformity); ``dispersion_mean``: the mean over all pairs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zsar.errors import ZsarError
from zsar.vectors import l2_normalise


@dataclass(frozen=True)
class ClassGeometry:
    """Closeness and dispersion of one set of labelled embeddings."""

    n_classes: int
    closeness: float
    dispersion: float | None       # None with fewer than 2 classes
    dispersion_mean: float | None


def _centres(embeddings: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Normalised embeddings ``(N, D)``, each one's class position ``(N,)`` and class centres ``(C, D)``."""
    _, inverse = np.unique(np.asarray(labels), return_inverse=True)
    x = l2_normalise(np.asarray(embeddings, dtype=np.float64))
    sums = np.zeros((inverse.max() + 1, x.shape[1]))
    np.add.at(sums, inverse, x)
    return x, inverse, l2_normalise(sums)


def closeness(embeddings: np.ndarray, labels: np.ndarray) -> float:
    """Mean over classes of the mean distance of the embeddings ``(N, D)`` to their class centre."""
    x, inverse, centres = _centres(embeddings, labels)
    distance = np.linalg.norm(x - centres[inverse], axis=1)
    per_class = np.bincount(inverse, weights=distance) / np.bincount(inverse)
    return float(per_class.mean())


def dispersion(embeddings: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """``(smallest, mean)`` distance between two different class centres."""
    _, _, centres = _centres(embeddings, labels)
    n_classes = centres.shape[0]
    if n_classes < 2:
        raise ZsarError(f"dispersion needs at least 2 classes, the embeddings have {n_classes}; "
                        "evaluate on more than one class")
    pairs = np.triu_indices(n_classes, k=1)
    cosine = np.clip((centres @ centres.T)[pairs], -1.0, 1.0)
    distance = np.sqrt(2.0 - 2.0 * cosine)
    return float(distance.min()), float(distance.mean())


def class_geometry(embeddings: np.ndarray, labels: np.ndarray) -> ClassGeometry:
    """Closeness and dispersion of ``embeddings`` ``(N, D)`` with class ``labels`` ``(N,)``.

    One class has no dispersion: ``dispersion`` and ``dispersion_mean`` are then ``None``.
    """
    n_classes = int(np.unique(labels).size)
    smallest, mean = dispersion(embeddings, labels) if n_classes > 1 else (None, None)
    return ClassGeometry(n_classes, closeness(embeddings, labels), smallest, mean)
