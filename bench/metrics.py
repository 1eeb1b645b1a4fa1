"""Benchmark: hubness k-NN + statistics with zsar's batched FAISS search vs scikit-learn.

    PYTHONPATH=$PWD python bench/metrics.py            # 200k x 1k vs sklearn, then 1M x 10k (minutes)
    PYTHONPATH=$PWD python bench/metrics.py --quick    # small sizes, seconds

1. The same seeded 200k x 512 queries and 1k targets, k = 10: ``zsar.metrics.k_occurrence``
   (exact FAISS ``IndexFlatIP`` on normalised vectors, batched) + ``hubness_stats``, against
   scikit-learn's brute-force ``NearestNeighbors(metric="cosine")`` + the same statistics;
   seconds for each, the ratio, and whether the two ``N_k`` agree.
2. 1M x 512 queries against 10k targets, k = 10, with FAISS only, in a child process so its
   peak resident memory (``VmHWM``) is its own: seconds, peak memory, and the part of it
   beyond the input arrays.

Prints Markdown tables on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

from zsar.metrics.hubness import BATCH_SIZE, hubness_stats, k_occurrence, knn_search
from zsar.vectors import l2_normalise

GIB = 1024**3


def data(n_queries: int, n_targets: int, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Seeded float32 Gaussian queries ``(n_q, D)`` and targets ``(n_t, D)`` with a shared offset (some hubness)."""
    rng = np.random.default_rng(seed)
    offset = (0.2 * rng.standard_normal(dim)).astype(np.float32)
    queries = rng.standard_normal((n_queries, dim), dtype=np.float32)
    queries += offset
    targets = rng.standard_normal((n_targets, dim), dtype=np.float32) + offset
    return queries, targets


def faiss_run(queries: np.ndarray, targets: np.ndarray, k: int) -> tuple[float, np.ndarray, float]:
    start = time.perf_counter()
    n_k = k_occurrence(queries, targets, [k])[k]
    skewness = hubness_stats(n_k, k).skewness
    return time.perf_counter() - start, n_k, skewness


def sklearn_run(queries: np.ndarray, targets: np.ndarray, k: int) -> tuple[float, np.ndarray, float, np.ndarray]:
    from sklearn.neighbors import NearestNeighbors

    start = time.perf_counter()
    index = NearestNeighbors(n_neighbors=k, algorithm="brute", metric="cosine").fit(targets)
    neighbours = index.kneighbors(queries, return_distance=False)
    n_k = np.bincount(neighbours.ravel(), minlength=len(targets))
    skewness = hubness_stats(n_k, k).skewness
    return time.perf_counter() - start, n_k, skewness, neighbours


def disagreement(queries: np.ndarray, targets: np.ndarray, k: int, other: np.ndarray) -> str:
    """Which queries' k-NN sets differ from ``other`` ``(n_q, k)``, and how close to a tie they are (float64)."""
    ours = np.concatenate([found for _, found in knn_search(queries, targets, k)])
    differ = np.flatnonzero((np.sort(ours, axis=1) != np.sort(other, axis=1)).any(axis=1))
    if differ.size == 0:
        return "the k-NN sets of every query agree"
    sim = l2_normalise(queries[differ].astype(np.float64)) @ l2_normalise(targets.astype(np.float64)).T
    top = -np.sort(-sim, axis=1)[:, k - 1:k + 1]
    return (f"the k-NN sets of {differ.size} of {len(queries):,} queries differ; in float64 their k-th and "
            f"(k+1)-th similarities are at most {np.abs(top[:, 0] - top[:, 1]).max():.1e} apart (near-ties)")


def compare(n_queries: int, n_targets: int, dim: int, k: int) -> str:
    queries, targets = data(n_queries, n_targets, dim)
    faiss_s, faiss_nk, faiss_skew = faiss_run(queries, targets, k)
    sk_s, sk_nk, sk_skew, sk_neighbours = sklearn_run(queries, targets, k)
    differ = int((faiss_nk != sk_nk).sum())
    rows = [
        f"| zsar (FAISS IndexFlatIP, batches of {BATCH_SIZE}) | {faiss_s:.2f} | 1.00 | {faiss_skew:.6f} |",
        f"| scikit-learn NearestNeighbors(brute, cosine) | {sk_s:.2f} | {sk_s / faiss_s:.2f} | {sk_skew:.6f} |",
    ]
    return (f"### {n_queries:,} queries x {n_targets:,} targets, {dim}-d, k = {k} "
            f"(k-NN + N_k + statistics)\n\n"
            "| method | seconds | x FAISS time | N_k skewness |\n|---|---|---|---|\n" + "\n".join(rows) +
            f"\n\nN_k of the two differ for {differ} of {n_targets} targets "
            f"(max |diff| {int(np.abs(faiss_nk - sk_nk).max())}): "
            f"{disagreement(queries, targets, k, sk_neighbours)}.")


def memory_kib(field: str) -> int:
    """``VmHWM`` (peak) or ``VmRSS`` (now) of this process, in KiB, from /proc/self/status."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


def large_child(n_queries: int, n_targets: int, dim: int, k: int) -> None:
    """Run the large FAISS case in this (child) process; print one JSON line of measurements."""
    queries, targets = data(n_queries, n_targets, dim)
    ready = memory_kib("VmRSS")
    seconds, n_k, skewness = faiss_run(queries, targets, k)
    print(json.dumps({"seconds": seconds, "peak_kib": memory_kib("VmHWM"), "ready_kib": ready,
                      "input_bytes": queries.nbytes + targets.nbytes, "skewness": skewness,
                      "sum_nk": int(n_k.sum())}))


def large(n_queries: int, n_targets: int, dim: int, k: int) -> str:
    command = [sys.executable, __file__, "--child", str(n_queries), str(n_targets), str(dim), str(k)]
    out = subprocess.run(command, check=True, capture_output=True, text=True, env=os.environ).stdout
    m = json.loads(out.strip().splitlines()[-1])
    assert m["sum_nk"] == k * n_queries
    peak, ready = m["peak_kib"] * 1024 / GIB, m["ready_kib"] * 1024 / GIB
    return (f"### {n_queries:,} queries x {n_targets:,} targets, {dim}-d, k = {k}, FAISS only\n\n"
            "| seconds | queries/s | peak RSS (GiB) | RSS with the data loaded (GiB) | input arrays (GiB) "
            "| peak beyond loaded data (MiB) | N_k skewness |\n|---|---|---|---|---|---|---|\n"
            f"| {m['seconds']:.1f} | {n_queries / m['seconds']:,.0f} | {peak:.2f} | {ready:.2f} "
            f"| {m['input_bytes'] / GIB:.2f} | {(peak - ready) * 1024:.0f} | {m['skewness']:.4f} |")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        large_child(*(int(a) for a in sys.argv[2:6]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (20k x 500, 100k x 2k)")
    parser.add_argument("--skip-large", action="store_true", help="only the comparison with scikit-learn")
    args = parser.parse_args()
    dim, k = 512, 10
    small, big = ((20_000, 500), (100_000, 2_000)) if args.quick else ((200_000, 1_000), (1_000_000, 10_000))
    import faiss

    print(f"machine: {os.cpu_count()} CPU cores, FAISS {faiss.__version__} with {faiss.omp_get_max_threads()} "
          f"threads, NumPy {np.__version__}\n")
    print(compare(*small, dim, k), flush=True)
    if not args.skip_large:
        print("\n" + large(*big, dim, k))


if __name__ == "__main__":
    main()
