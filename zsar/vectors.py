"""L2 normalisation of embeddings: the one NumPy helper every stage uses (heads have a torch twin)."""

from __future__ import annotations

import numpy as np


def l2_normalise(x: np.ndarray, axis: int = -1, eps: float = 1e-12) -> np.ndarray:
    """``x / ||x||`` along ``axis``; zero vectors stay zero. Keeps float dtypes, casts others to float32."""
    x = np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    norm = np.linalg.norm(x, axis=axis, keepdims=True)
    return x / np.maximum(norm, eps)
