"""Hubness: k-occurrence ``N_k`` by exact k-NN search, and the statistics of its distribution.

Definitions (Radovanović et al., JMLR 2010; the estimators of scikit-hubness,
``skhubness/analysis/estimation.py``), for ``n_q`` queries and ``n_t`` targets:

- ``N_k(y)``: how many queries have target ``y`` among their k nearest neighbours;
  ``sum_y N_k(y) = k * n_q``.
- ``skewness``: the population third standardised moment of ``N_k``,
  ``E[(N_k - mu)^3] / sigma^3`` (0 when every target has the same ``N_k``).
- ``robinhood``: the Robin Hood (Hoover) index ``0.5 * sum |N_k - mu| / sum N_k``.
- ``hub_occurrence``: the share of all ``k * n_q`` neighbour slots taken by hubs, targets
  with ``N_k >= 2k`` (scikit-hubness's definition, ``hub_size = 2``). It is meant for
  queries and targets of one set (videos against videos, where the mean ``N_k`` is k);
  against a few class prototypes (``n_q >> n_t``, mean ``N_k = k n_q / n_t``) nearly every
  class passes ``2k``, so it is then close to 1 and says little.
- ``hub_occurrence_relative``: the same share with hubs at ``N_k >= 2 * mean(N_k) =
  2 k n_q / n_t``: equal to ``hub_occurrence`` for videos against videos, and the useful
  reading against class prototypes.
- ``antihub_rate``: the share of targets with ``N_k = 0``.
- ``max_hub_share``: ``max N_k / (k * n_q)`` (scikit-hubness's "groupie ratio").

Neighbours are found by exact inner-product search (FAISS ``IndexFlatIP``, never an
approximate index) on L2-normalised float32 vectors, i.e. by cosine similarity. Queries are
normalised and searched ``batch_size`` at a time and only the ``(n_t,)`` counts are kept,
so memory beyond the caller's arrays does not grow with ``n_q``: the index's normalised copy
of the targets (``4 n_t D`` bytes), one normalised batch and its temporary
(``2 * 4 batch_size D``), the batch's results (``12 batch_size (k + 1)``) and FAISS's
4096 x 1024 float32 block (16 MiB). bench/metrics.py measured 73 MiB above the loaded
arrays for 1M queries x 10k targets x 512-d.

With ``exclude_self`` (videos against videos) each query's own row is removed *by index*
from k + 1 neighbours (or the last one dropped when the query is not among them, as can
happen with exact duplicates), so duplicates and ties never exclude another video.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from typing import Iterable, Iterator

import numpy as np

# FAISS's loader logs at INFO that it "could not load" an AVX2 module its wheel does not ship
# (it dispatches SIMD at run time instead): alarming noise on every `zsar metrics` run.
logging.getLogger("faiss.loader").setLevel(logging.WARNING)
import faiss  # noqa: E402

from zsar.errors import ZsarError  # noqa: E402
from zsar.metrics.measures import BATCH_SIZE  # noqa: E402
from zsar.progress import progress  # noqa: E402
from zsar.vectors import l2_normalise  # noqa: E402

HUB_SIZE = 2
STATISTICS = ("skewness", "robinhood", "hub_occurrence", "hub_occurrence_relative", "antihub_rate",
              "max_hub_share")


@dataclass(frozen=True, kw_only=True)
class HubnessStats:
    """The statistics of one ``N_k`` distribution (see the module docstring)."""

    k: int
    n_queries: int
    n_targets: int
    skewness: float
    robinhood: float
    hub_occurrence: float
    hub_occurrence_relative: float
    antihub_rate: float
    max_hub_share: float

    def to_json(self) -> dict[str, float]:
        values = asdict(self)
        return {name: values[name] for name in STATISTICS}


def hubness_stats(n_k: np.ndarray, k: int) -> HubnessStats:
    """Statistics of the k-occurrence counts ``n_k`` ``(n_t,)`` of a k-NN graph."""
    counts = np.asarray(n_k, dtype=np.float64)
    total = counts.sum()
    n_queries = int(round(total / k))
    assert n_queries * k == total and n_queries > 0, "N_k must sum to k * n_queries"
    centred = counts - counts.mean()
    variance = np.mean(centred**2)
    skewness = float(np.mean(centred**3) / variance**1.5) if variance > 0 else 0.0
    hubs = counts >= HUB_SIZE * k
    relative_hubs = counts >= HUB_SIZE * total / counts.size
    return HubnessStats(
        k=k, n_queries=n_queries, n_targets=counts.size, skewness=skewness,
        robinhood=float(0.5 * np.abs(centred).sum() / total),
        hub_occurrence=float(counts[hubs].sum() / total),
        hub_occurrence_relative=float(counts[relative_hubs].sum() / total),
        antihub_rate=float(np.mean(counts == 0)),
        max_hub_share=float(counts.max() / total),
    )


def knn_search(queries: np.ndarray, targets: np.ndarray, k: int, *, exclude_self: bool = False,
               batch_size: int = BATCH_SIZE) -> Iterator[tuple[int, np.ndarray]]:
    """Exact cosine k-NN of ``queries`` ``(n_q, D)`` among ``targets`` ``(n_t, D)``, a batch at a time.

    Yields ``(start, indices)`` with ``indices`` ``(b, k)`` int64 target rows of queries
    ``start .. start + b``, nearest first. ``exclude_self`` requires ``queries`` and
    ``targets`` to be the same rows and drops each query's own row by index.
    """
    n_t, dim = targets.shape
    if exclude_self and queries.shape[0] != n_t:
        raise ValueError(f"exclude_self needs queries and targets to be the same rows, "
                         f"got {queries.shape[0]} and {n_t}")
    if queries.shape[1] != dim:
        raise ZsarError(f"queries are {queries.shape[1]}-d but targets are {dim}-d; "
                        "compare embeddings from the same space")
    check_k(k, n_t - 1 if exclude_self else n_t)
    index = faiss.IndexFlatIP(dim)
    index.add(_normalised(targets))
    width = k + 1 if exclude_self else k
    for start in range(0, queries.shape[0], batch_size):
        batch = _normalised(queries[start:start + batch_size])
        _, found = index.search(batch, width)
        yield start, _drop_self(found, start, k) if exclude_self else found


def k_occurrence(queries: np.ndarray, targets: np.ndarray, ks: Iterable[int], *,
                 exclude_self: bool = False, batch_size: int = BATCH_SIZE) -> dict[int, np.ndarray]:
    """``N_k`` ``(n_t,)`` int64 for each k in ``ks``, from one exact search with the largest k."""
    ks = sorted(set(ks))
    counts = {k: np.zeros(targets.shape[0], dtype=np.int64) for k in ks}
    batches = knn_search(queries, targets, ks[-1], exclude_self=exclude_self, batch_size=batch_size)
    for _, found in progress(batches, desc=f"{ks[-1]}-NN search", total=-(-len(queries) // batch_size), unit="batch"):
        for k in ks:
            counts[k] += np.bincount(found[:, :k].ravel(), minlength=targets.shape[0])
    return counts


def score_occurrence(scores: np.ndarray, ks: Iterable[int], batch_size: int = BATCH_SIZE) -> dict[int, np.ndarray]:
    """``N_k`` ``(C,)`` for each k from a score matrix ``(N, C)``: the k best-scored classes per row.

    Ties go to the lower class index, as in ``SplitResult.predictions``, so ``N_1(c)`` is
    exactly how many videos were predicted as class ``c``.
    """
    ks = sorted(set(ks))
    n_classes = scores.shape[1]
    for k in ks:
        check_k(k, n_classes)
    counts = {k: np.zeros(n_classes, dtype=np.int64) for k in ks}
    for start in range(0, scores.shape[0], batch_size):
        order = np.argsort(-scores[start:start + batch_size], axis=1, kind="stable")[:, :ks[-1]]
        for k in ks:
            counts[k] += np.bincount(order[:, :k].ravel(), minlength=n_classes)
    return counts


def check_k(k: int, candidates: int) -> None:
    """Refuse a k that leaves no choice: ``N_k`` varies only for ``1 <= k < candidates``."""
    if not 1 <= k < candidates:
        raise ZsarError(f"k = {k} needs more than {k} candidate targets, there are {candidates}; "
                        f"choose a k from 1 to {candidates - 1}")


def _normalised(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(l2_normalise(np.asarray(x, dtype=np.float32)))


def _drop_self(found: np.ndarray, start: int, k: int) -> np.ndarray:
    """Remove each row's own index from ``(b, k + 1)`` neighbours (else the last column)."""
    is_self = found == (start + np.arange(found.shape[0]))[:, None]
    is_self[~is_self.any(axis=1), -1] = True
    assert (is_self.sum(axis=1) == 1).all(), "FAISS returned a query's own row twice"
    return found[~is_self].reshape(found.shape[0], k)
