"""Semantic transfer (after ResT): unseen-class prototypes composed from seen visual prototypes.

For seen classes s, the visual prototype ``v_s`` is the normalised mean of the head's
embeddings of the training videos of s. For an unseen class u:

- relatedness ``r_us = cos(t_u, t_s)`` of the label-text embeddings (the encoder's
  normalised prompt means, before any head);
- keep the ``k`` most related seen classes; ``a_us = softmax_s(r_us / T)`` over them;
- ``p_u = normalise(sum_s a_us v_s)``, then optionally mixed with u's own text prototype
  in the head's space: ``p_u = normalise(lam p_u + (1 - lam) t'_u)``.

ResT's constants (k, T, whether and how much text is mixed in) are not public; the
defaults below are ours, chosen on features with a known structure (see
``zsar.testing``), and are options (``--transfer-k``, ``--transfer-temperature``,
``--transfer-lambda``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from zsar.errors import ZsarError
from zsar.vectors import l2_normalise

TRANSFER_MODES = ("none", "semantic")


@dataclass(frozen=True)
class TransferConfig:
    """``mode`` (``none``/``semantic``; ``None``: the head's default), top-``k`` seen classes,
    softmax temperature, text mix ``lam``."""

    mode: str | None = None
    k: int = 5
    temperature: float = 0.1
    lam: float = 0.5

    def __post_init__(self) -> None:
        if self.mode is not None and self.mode not in TRANSFER_MODES:
            raise ZsarError(f"--transfer {self.mode!r}: choose one of {', '.join(TRANSFER_MODES)}")
        if self.k < 1:
            raise ZsarError(f"--transfer-k {self.k}: must be at least 1")
        if self.temperature <= 0:
            raise ZsarError(f"--transfer-temperature {self.temperature}: must be positive")
        if not 0 <= self.lam <= 1:
            raise ZsarError(f"--transfer-lambda {self.lam}: must be in [0, 1]")


def class_means(embeddings: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """``(n_classes, E)`` normalised mean of ``embeddings`` ``(N, E)`` per label in ``0..n_classes-1``."""
    sums = np.zeros((n_classes, embeddings.shape[1]), dtype=np.float64)
    np.add.at(sums, labels, embeddings)
    if (np.bincount(labels, minlength=n_classes) == 0).any():
        raise ZsarError("semantic transfer needs training videos of every seen class; "
                        f"class(es) {np.flatnonzero(np.bincount(labels, minlength=n_classes) == 0).tolist()} have none")
    return l2_normalise(sums).astype(np.float32)


def transfer_weights(target_text: np.ndarray, seen_text: np.ndarray, k: int, temperature: float) -> np.ndarray:
    """``(U, S)`` weights: per row, a softmax of ``cos / T`` over the k most related seen classes, 0 elsewhere."""
    related = l2_normalise(target_text).astype(np.float64) @ l2_normalise(seen_text).astype(np.float64).T
    k = min(k, related.shape[1])
    top = np.argsort(-related, axis=1, kind="stable")[:, :k]
    logits = np.take_along_axis(related, top, axis=1) / temperature
    logits -= logits.max(axis=1, keepdims=True)
    alpha = np.exp(logits)
    alpha /= alpha.sum(axis=1, keepdims=True)
    weights = np.zeros_like(related)
    np.put_along_axis(weights, top, alpha, axis=1)
    return weights


def semantic_transfer(seen_prototypes: np.ndarray, seen_text: np.ndarray, target_text: np.ndarray,
                      target_prototypes: np.ndarray, config: TransferConfig) -> np.ndarray:
    """Composed prototypes ``(U, E)`` of U target classes.

    ``seen_prototypes`` ``(S, E)`` visual prototypes; ``seen_text`` ``(S, Dt)`` and
    ``target_text`` ``(U, Dt)`` label-text embeddings; ``target_prototypes`` ``(U, E)`` the
    targets' text prototypes in the head's space (mixed in with weight ``1 - lam``).
    """
    weights = transfer_weights(target_text, seen_text, config.k, config.temperature)
    composed = l2_normalise(weights @ seen_prototypes.astype(np.float64))
    mixed = config.lam * composed + (1 - config.lam) * l2_normalise(target_prototypes.astype(np.float64))
    return l2_normalise(mixed).astype(np.float32)
