import numpy as np
import pytest

from zsar.errors import UnknownNameError
from zsar.heads.rerank import RERANKERS, csls, inverted_softmax, rerank


def test_csls_matches_its_formula_on_a_small_matrix():
    s = np.array([[0.9, 0.5, 0.1], [0.8, 0.7, 0.2], [0.6, 0.1, 0.3]], np.float32)
    k = 2
    r_query = np.array([(0.9 + 0.5) / 2, (0.8 + 0.7) / 2, (0.6 + 0.3) / 2])
    r_class = np.array([(0.9 + 0.8) / 2, (0.7 + 0.5) / 2, (0.3 + 0.2) / 2])
    expected = 2 * s - r_query[:, None] - r_class[None, :]
    np.testing.assert_allclose(csls(s, k=k), expected, atol=1e-6)


def test_csls_takes_predictions_away_from_a_hub_class():
    rng = np.random.default_rng(0)
    scores = rng.uniform(0, 0.5, size=(200, 10)).astype(np.float32)
    scores[:, 0] += 0.4  # class 0 is close to every video: a hub
    before, after = (scores.argmax(1) == 0).mean(), (csls(scores).argmax(1) == 0).mean()
    assert before > 0.85 and after < before - 0.3


def test_inverted_softmax_columns_sum_to_one_and_hub_loses():
    rng = np.random.default_rng(1)
    scores = rng.uniform(0, 0.5, size=(100, 5)).astype(np.float32)
    scores[:, 2] += 0.4
    probs = inverted_softmax(scores)
    np.testing.assert_allclose(probs.sum(0), 1.0, rtol=1e-5)
    assert (probs.argmax(1) == 2).mean() < (scores.argmax(1) == 2).mean()


def test_rerank_by_name_and_unknown_name():
    s = np.eye(3, dtype=np.float32)
    np.testing.assert_array_equal(rerank(s, "none"), s)
    assert RERANKERS.names() == ["csls", "inverted-softmax", "none"]
    with pytest.raises(UnknownNameError, match="valid re-rankers: csls, inverted-softmax, none"):
        rerank(s, "mutual-proximity")
