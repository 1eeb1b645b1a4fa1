"""Array helpers every stage shares: L2 normalisation (heads have a torch twin), the reverse index, top-k ranking."""

from __future__ import annotations

import numpy as np


def l2_normalise(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """``x / ||x||`` along ``axis``; zero vectors stay zero. Keeps float dtypes, casts others to float32."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, eps)


def positions(values: np.ndarray, order: np.ndarray) -> np.ndarray:
    """``(N,)`` the position in ``order`` ``(K,)`` of each of ``values`` ``(N,)``, -1 where it is not in ``order``.

    The one reverse index (class ids -> score columns, training targets, kept classes).
    """
    values, order = np.asarray(values), np.asarray(order)
    if not len(order):
        return np.full(values.shape, -1, dtype=np.int64)
    sorter = np.argsort(order, kind="stable")
    at = np.clip(np.searchsorted(order, values, sorter=sorter), 0, len(order) - 1)
    found = order[sorter[at]] == values
    return np.where(found, sorter[at], -1).astype(np.int64)


TOP_K = 5
RANK_ROWS = 4096  # rows ranked at a time: a full argsort holds an int64 per score


def top_k(scores: np.ndarray, k: int = TOP_K) -> np.ndarray:
    """``(N, min(k, C))`` positions of each row's ``k`` best scores, best first (ties: lower position first)."""
    scores = np.asarray(scores)
    out = np.empty((scores.shape[0], min(k, scores.shape[1])), dtype=np.intp)
    for start in range(0, len(scores), RANK_ROWS):
        ranked = np.argsort(-scores[start:start + RANK_ROWS], axis=1, kind="stable")
        out[start:start + RANK_ROWS] = ranked[:, :out.shape[1]]
    return out

