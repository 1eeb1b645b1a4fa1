"""Hubness reduction at inference: re-rank a video x class score matrix.

Both methods take cosine scores ``(N, C)`` (N query videos, C class prototypes) and
return new scores of the same shape; predictions are the row-wise argmax.

- ``csls`` (Conneau et al., ICLR 2018): ``2 cos(x, y) - r_T(x) - r_S(y)``, where ``r_T(x)``
  is the mean cosine of video x to its K nearest prototypes and ``r_S(y)`` the mean cosine
  of prototype y to its K nearest videos (estimated on the test videos: transductive).
- ``inverted_softmax`` (Smith et al., ICLR 2017): ``exp(beta s(x, y)) / sum_x' exp(beta s(x', y))``,
  a softmax over the *queries* for each class, so a class that is close to every video
  (a hub) is scored down.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from zsar.registry import Registry

RERANKERS: Registry[Callable[..., np.ndarray]] = Registry("re-ranker")
CSLS_K = 10
INVERTED_SOFTMAX_BETA = 10.0


def _mean_top_k(scores: np.ndarray, k: int, axis: int) -> np.ndarray:
    """Mean of the k largest values along ``axis`` (k clipped to the axis length)."""
    k = max(1, min(k, scores.shape[axis]))
    top = -np.partition(-scores, k - 1, axis=axis)
    top = top[:k] if axis == 0 else top[:, :k]
    return top.mean(axis=axis)


@RERANKERS.register("none", help="plain cosine scores")
def no_rerank(scores: np.ndarray) -> np.ndarray:
    return np.asarray(scores, dtype=np.float32)


@RERANKERS.register("csls", help="cross-domain similarity local scaling, K = 10")
def csls(scores: np.ndarray, k: int = CSLS_K) -> np.ndarray:
    """CSLS scores ``(N, C)`` from cosine scores ``(N, C)``."""
    scores = np.asarray(scores, dtype=np.float32)
    r_query = _mean_top_k(scores, k, axis=1)[:, None]  # r_T(x): video to its K nearest classes
    r_class = _mean_top_k(scores, k, axis=0)[None, :]  # r_S(y): class to its K nearest videos
    return 2 * scores - r_query - r_class


@RERANKERS.register("inverted-softmax", help="softmax over the test videos per class, beta = 10")
def inverted_softmax(scores: np.ndarray, beta: float = INVERTED_SOFTMAX_BETA) -> np.ndarray:
    """Inverted-softmax probabilities ``(N, C)``: each column sums to 1 over the videos."""
    logits = beta * np.asarray(scores, dtype=np.float64)
    logits -= logits.max(axis=0, keepdims=True)
    weights = np.exp(logits)
    return (weights / weights.sum(axis=0, keepdims=True)).astype(np.float32)


def rerank(scores: np.ndarray, method: str = "none") -> np.ndarray:
    """Apply the re-ranker registered as ``method`` (``none``, ``csls``, ``inverted-softmax``)."""
    return RERANKERS.get(method)(scores)
