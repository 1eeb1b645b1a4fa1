"""Hubness against a plain NumPy/Python reference: brute-force k-NN, k-occurrence, the formulas."""

import numpy as np
import pytest

from metrics_data import around, clustered
from zsar.errors import ZsarError
from zsar.heads.rerank import csls
from zsar.metrics.hubness import hubness_stats, k_occurrence, knn_search, score_occurrence
from zsar.vectors import l2_normalise

KS = (1, 5, 10)
MARGIN = 1e-5  # float32 FAISS vs float64 reference: neighbours closer than this could swap


# --- the reference, written from the definitions -------------------------------------------

def ref_knn(queries, targets, k, exclude_self=False):
    """Brute-force cosine k-NN in float64; self excluded by index (diagonal set to -inf)."""
    q = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    t = targets / np.linalg.norm(targets, axis=1, keepdims=True)
    sim = q.astype(np.float64) @ t.astype(np.float64).T
    if exclude_self:
        np.fill_diagonal(sim, -np.inf)
    return np.argsort(-sim, axis=1, kind="stable")[:, :k], sim


def ref_occurrence(neighbours, n_targets):
    counts = [0] * n_targets
    for row in neighbours:
        for j in row:
            counts[j] += 1
    return np.array(counts)


def ref_stats(n_k, k, n_queries):
    n = len(n_k)
    slots = k * n_queries
    mu = slots / n
    m2 = sum((x - mu) ** 2 for x in n_k) / n
    m3 = sum((x - mu) ** 3 for x in n_k) / n
    return {
        "skewness": m3 / m2**1.5,
        "robinhood": 0.5 * sum(abs(x - mu) for x in n_k) / slots,
        "hub_occurrence": sum(x for x in n_k if x >= 2 * k) / slots,  # N_k >= 2k
        "hub_occurrence_relative": sum(x for x in n_k if x * n >= 2 * slots) / slots,  # N_k >= 2 * mean
        "antihub_rate": sum(1 for x in n_k if x == 0) / n,
        "max_hub_share": max(n_k) / slots,
    }


def tie_free(queries, targets, kmax, exclude_self=False):
    """Drop queries (and, for videos vs videos, the same rows as targets) whose first kmax + 1
    neighbours are closer than MARGIN to one another, so the k-NN sets are unambiguous."""
    keep = np.arange(len(queries))
    for _ in range(20):
        t = targets[keep] if exclude_self else targets
        _, sim = ref_knn(queries[keep], t, kmax, exclude_self)
        top = -np.sort(-sim, axis=1)[:, : kmax + 1]
        ok = (np.diff(-top, axis=1) > MARGIN).all(axis=1)
        if ok.all():
            return queries[keep], t
        keep = keep[ok]
    raise AssertionError("could not make the data tie-free")


def random_data(rng, n_q, n_t, dim):
    return rng.standard_normal((n_q, dim)).astype(np.float32), rng.standard_normal((n_t, dim)).astype(np.float32)


def clustered_data(rng, n_q, n_t, dim):
    """Queries and targets around the same 6 class directions."""
    centres, _, _ = clustered(rng, 6, 1, dim, 0.0)
    return (around(rng, centres, rng.integers(0, 6, n_q), 1.4),
            around(rng, centres, rng.integers(0, 6, n_t), 1.4))


# --- the tests -------------------------------------------------------------------------------

@pytest.mark.parametrize("make", [random_data, clustered_data], ids=["random", "clustered"])
@pytest.mark.parametrize("exclude_self", [False, True], ids=["videos-vs-prototypes", "videos-vs-videos"])
def test_k_occurrence_and_statistics_match_the_reference(make, exclude_self):
    rng = np.random.default_rng(7)
    queries, targets = make(rng, 500, 500 if exclude_self else 60, 24)
    if exclude_self:
        targets = queries
    queries, targets = tie_free(queries, targets, max(KS), exclude_self)
    assert len(queries) > 300  # most rows survive: the test still covers a real data set

    counts = k_occurrence(queries, targets, KS, exclude_self=exclude_self, batch_size=128)
    for k in KS:
        neighbours, _ = ref_knn(queries, targets, k, exclude_self)
        expected = ref_occurrence(neighbours, len(targets))
        np.testing.assert_array_equal(counts[k], expected)
        stats = hubness_stats(counts[k], k)
        assert (stats.k, stats.n_queries, stats.n_targets) == (k, len(queries), len(targets))
        for name, value in ref_stats(expected.tolist(), k, len(queries)).items():
            assert stats.to_json()[name] == pytest.approx(value, abs=1e-6), name


def test_knn_search_returns_the_reference_neighbours_in_order_for_any_batch_size():
    rng = np.random.default_rng(3)
    queries, targets = tie_free(*random_data(rng, 300, 40, 16), 5)
    expected, _ = ref_knn(queries, targets, 5)
    for batch_size in (1, 7, 1000):
        batches = list(knn_search(queries, targets, 5, batch_size=batch_size))
        assert [start for start, _ in batches] == list(range(0, len(queries), batch_size))
        np.testing.assert_array_equal(np.concatenate([found for _, found in batches]), expected)


def test_self_is_excluded_by_index_even_among_exact_duplicates():
    # Pairs of identical vectors, pairs far apart: each point's nearest *other* point is its
    # twin, at the same similarity as itself. Excluding by distance would drop the twin too;
    # dropping the first column would keep the query itself when FAISS lists the twin first.
    rng = np.random.default_rng(0)
    base = rng.standard_normal((100, 16)).astype(np.float32)
    points = np.repeat(base, 2, axis=0)
    counts = k_occurrence(points, points, [1, 3], exclude_self=True, batch_size=33)
    np.testing.assert_array_equal(counts[1], np.ones(200, dtype=np.int64))
    assert counts[3].sum() == 3 * 200
    for start, found in knn_search(points, points, 3, exclude_self=True, batch_size=33):
        rows = start + np.arange(len(found))
        assert not (found == rows[:, None]).any()
        np.testing.assert_array_equal(found[:, 0], rows ^ 1)  # the twin comes first


def test_score_occurrence_counts_predictions_with_ties_to_the_lower_class():
    scores = np.array([[0.5, 0.5, 0.1], [0.2, 0.9, 0.9], [0.3, 0.1, 0.2], [0.0, 0.0, 0.0]], np.float32)
    counts = score_occurrence(scores, [1, 2])
    np.testing.assert_array_equal(counts[1], [3, 1, 0])   # rows 0 and 3 tie: class 0 wins
    np.testing.assert_array_equal(counts[2], [3, 3, 2])   # row 3: classes 0 and 1


def test_score_occurrence_breaks_many_ties_like_the_predictions():
    rng = np.random.default_rng(4)
    scores = rng.integers(0, 3, size=(300, 40)).astype(np.float32)  # ties everywhere
    counts = score_occurrence(scores, [1, 4], batch_size=50)
    for k in (1, 4):
        expected = [0] * 40
        for row in scores.tolist():
            for c in sorted(range(40), key=lambda c: (-row[c], c))[:k]:
                expected[c] += 1
        np.testing.assert_array_equal(counts[k], expected)


def test_score_occurrence_equals_faiss_knn_on_cosine_scores():
    rng = np.random.default_rng(5)
    queries, targets = tie_free(*random_data(rng, 400, 30, 20), 5)
    scores = l2_normalise(queries) @ l2_normalise(targets).T
    by_scores = score_occurrence(scores, [1, 5], batch_size=64)
    by_faiss = k_occurrence(queries, targets, [1, 5])
    for k in (1, 5):
        np.testing.assert_array_equal(by_scores[k], by_faiss[k])


def test_uniform_occurrence_has_zero_hubness():
    stats = hubness_stats(np.full(10, 4), k=2)
    assert (stats.skewness, stats.robinhood, stats.hub_occurrence_relative, stats.antihub_rate) == (0, 0, 0, 0)
    assert stats.hub_occurrence == 1.0  # every N_k = 4 = 2k: all hubs by the absolute rule
    assert stats.n_queries == 20 and stats.max_hub_share == pytest.approx(0.1)


def hub_data(seed=0, dim=32, n_queries=2000, n_targets=50):
    """Queries with a common offset; targets from the same law plus one at the queries' mean."""
    rng = np.random.default_rng(seed)
    offset = 0.3 * np.sqrt(dim) * l2_normalise(rng.standard_normal(dim))
    queries = rng.standard_normal((n_queries, dim)) + offset
    targets = np.vstack([rng.standard_normal((n_targets, dim)) + offset, queries.mean(axis=0)])
    return queries.astype(np.float32), targets.astype(np.float32)


def test_a_target_at_the_mean_is_a_hub_and_csls_lowers_the_skewness():
    queries, targets = hub_data()
    hub = len(targets) - 1
    raw = k_occurrence(queries, targets, [1, 5])
    without_hub = k_occurrence(queries, targets[:hub], [1, 5])
    reranked = score_occurrence(csls(l2_normalise(queries) @ l2_normalise(targets).T), [1, 5])
    skew = {name: {k: hubness_stats(c[k], k).skewness for k in (1, 5)}
            for name, c in (("raw", raw), ("without hub", without_hub), ("csls", reranked))}
    mean_n1 = len(queries) / len(targets)
    assert raw[1][hub] > 5 * mean_n1 and raw[1].argmax() == hub
    assert skew["raw"][1] > 4 and skew["raw"][1] > 3 * skew["without hub"][1]
    assert skew["raw"][5] > 3
    assert skew["csls"][1] < 0.5 * skew["raw"][1] and skew["csls"][5] < 0.7 * skew["raw"][5]
    assert reranked[1][hub] < 0.5 * raw[1][hub]


@pytest.mark.parametrize("k, exclude_self", [(10, False), (9, True), (0, False)])
def test_a_k_that_leaves_no_choice_is_refused(k, exclude_self):
    x = np.eye(10, dtype=np.float32)
    with pytest.raises(ZsarError, match=f"k = {k} needs more than {k} candidate targets"):
        next(knn_search(x, x, k, exclude_self=exclude_self))


def test_queries_and_targets_of_different_width_are_refused():
    with pytest.raises(ZsarError, match="queries are 4-d but targets are 3-d"):
        next(knn_search(np.ones((5, 4), np.float32), np.ones((5, 3), np.float32), 1))
