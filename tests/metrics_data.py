"""Random data the metrics tests share: clustered embeddings and small run directories.

Run directories are written with the same ``zsar.runs.results`` writers ``zsar train-head``
uses, so ``zsar metrics`` reads them exactly as it reads a head's run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zsar.runs.results import SplitResult, write_split_result
from zsar.testing import write_dummy_run_files
from zsar.vectors import l2_normalise

ACTIONS = ["jumping jacks", "wave hand", "squat", "clap hands", "kick", "punch", "walk", "run",
           "jump", "bend over", "sit down", "raise both arms"]


def around(rng: np.random.Generator, directions: np.ndarray, labels: np.ndarray, spread: float) -> np.ndarray:
    """Unit vectors ``(N, D)`` near ``directions[labels]``: Gaussian noise of expected norm ``spread``."""
    dim = directions.shape[1]
    noise = spread * rng.standard_normal((labels.size, dim)) / np.sqrt(dim)
    return l2_normalise(directions[labels] + noise).astype(np.float32)


def clustered(rng: np.random.Generator, n_classes: int, per_class: int, dim: int,
              spread: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random unit class directions ``(C, D)``, embeddings ``(C * per_class, D)`` around them, labels."""
    directions = l2_normalise(rng.standard_normal((n_classes, dim)))
    labels = np.repeat(np.arange(n_classes), per_class)
    return directions, around(rng, directions, labels, spread), labels


def make_split(rng: np.random.Generator, split: int, names: list[str], per_class: int = 10,
               dim: int = 32, spread: float = 4.5) -> SplitResult:
    """A half-class split: train embeddings of the seen half, test embeddings and cosine scores of the rest."""
    n = len(names)
    seen = np.zeros(n, dtype=bool)
    seen[rng.permutation(n)[: n // 2]] = True
    directions = l2_normalise(rng.standard_normal((n, dim))).astype(np.float32)
    test_classes = np.flatnonzero(~seen)
    test_labels = np.repeat(test_classes, per_class)
    test = around(rng, directions, test_labels, spread)
    train_labels = np.repeat(np.flatnonzero(seen), per_class)
    prototypes = directions[test_classes]
    return SplitResult(split=split, class_names=list(names), seen=seen, test_classes=test_classes,
                       prototypes=prototypes, test_embeddings=test, test_labels=test_labels,
                       test_video_ids=[f"video_{i:04d}" for i in range(test_labels.size)], scores=test @ prototypes.T,
                       train_embeddings=around(rng, directions, train_labels, 0.6 * spread), train_labels=train_labels)


def make_run(root: Path, n_splits: int = 3, seed: int = 0, names: list[str] = ACTIONS, **kwargs) -> list[SplitResult]:
    """Write a run directory with ``n_splits`` splits; returns the splits written."""
    rng = np.random.default_rng(seed)
    results = [make_split(rng, i, names, **kwargs) for i in range(n_splits)]
    root.mkdir(parents=True, exist_ok=True)
    for result in results:
        write_split_result(root, result)
    write_dummy_run_files(root, results)
    return results
