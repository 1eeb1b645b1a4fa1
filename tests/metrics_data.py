"""Random data the metrics tests share: clustered embeddings and small run directories.

Run directories are written with the same ``zsar.cache.runs`` writers ``zsar train-head``
uses, so ``zsar metrics`` reads them exactly as it reads a head's run.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from zsar.cache.runs import SplitResult, write_json, write_split_result
from zsar.vectors import l2_normalise

ACTIONS = ["jumping jacks", "wave hand", "squat", "clap hands", "kick", "punch", "walk", "run",
           "jump", "bend over", "sit down", "raise both arms"]


def clustered(rng: np.random.Generator, n_classes: int, per_class: int, dim: int,
              noise: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit class directions ``(C, D)``, embeddings ``(C * per_class, D)`` around them, labels."""
    directions = l2_normalise(rng.standard_normal((n_classes, dim)))
    labels = np.repeat(np.arange(n_classes), per_class)
    x = l2_normalise(directions[labels] + noise * rng.standard_normal((labels.size, dim)))
    return directions, x.astype(np.float32), labels


def make_split(rng: np.random.Generator, split: int, names: list[str], per_class: int = 10,
               dim: int = 32, noise: float = 0.8) -> SplitResult:
    """A half-class split: train embeddings of the seen half, test embeddings and cosine scores of the rest."""
    n = len(names)
    order = rng.permutation(n)
    seen = np.zeros(n, dtype=bool)
    seen[order[: n // 2]] = True
    directions, _, _ = clustered(rng, n, 1, dim, 0.0)
    test_classes = np.flatnonzero(~seen)
    test_labels = np.repeat(test_classes, per_class)
    test = l2_normalise(directions[test_labels] + noise * rng.standard_normal((test_labels.size, dim)))
    train_labels = np.repeat(np.flatnonzero(seen), per_class)
    train = l2_normalise(directions[train_labels] + 0.6 * noise * rng.standard_normal((train_labels.size, dim)))
    prototypes = directions[test_classes]
    return SplitResult(split, list(names), seen, test_classes, prototypes.astype(np.float32),
                       test.astype(np.float32), test_labels, [f"video_{i:04d}" for i in range(test_labels.size)],
                       (test @ prototypes.T).astype(np.float32), train.astype(np.float32), train_labels)


def make_run(root: Path, n_splits: int = 3, seed: int = 0, names: list[str] = ACTIONS, **kwargs) -> list[SplitResult]:
    """Write a run directory with ``n_splits`` splits; returns the splits written."""
    rng = np.random.default_rng(seed)
    results = [make_split(rng, i, names, **kwargs) for i in range(n_splits)]
    root.mkdir(parents=True, exist_ok=True)
    for result in results:
        write_split_result(root, result)
    write_json(root / "config.json", {"head": "linear", "protocol": "within-half"})
    write_json(root / "metrics.json", {"protocol": "within-half", "head": "linear", "splits": []})
    return results
