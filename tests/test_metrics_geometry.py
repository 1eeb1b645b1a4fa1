"""Closeness, dispersion and accuracy against hand-worked values and a loop-by-loop reference."""

import itertools
import math

import numpy as np
import pytest

from metrics_data import clustered
from zsar.errors import ZsarError
from zsar.metrics import accuracy, class_geometry, closeness, confusion_matrix, dispersion


def ref_geometry(x, labels):
    """Class centres, closeness and dispersion written out in plain Python."""
    centres = {}
    for c in sorted(set(labels.tolist())):
        members = [v / np.linalg.norm(v) for v, y in zip(x, labels) if y == c]
        mean = sum(members) / len(members)
        centres[c] = (mean / np.linalg.norm(mean), members)
    per_class = [sum(np.linalg.norm(v - centre) for v in members) / len(members)
                 for centre, members in centres.values()]
    pairs = [np.linalg.norm(a[0] - b[0]) for a, b in itertools.combinations(centres.values(), 2)]
    return sum(per_class) / len(per_class), min(pairs), sum(pairs) / len(pairs)


def test_closeness_and_dispersion_of_a_hand_worked_example():
    # Class 0: unit vectors at +-60 degrees around the x axis -> centre (1, 0), distance 1 each.
    # Class 1: both on the y axis -> centre (0, 1), distance 0. Centres are orthogonal: sqrt(2) apart.
    x = np.array([[0.5, math.sqrt(3) / 2], [0.5, -math.sqrt(3) / 2], [0.0, 2.0], [0.0, 5.0]])
    labels = np.array([0, 0, 1, 1])
    assert closeness(x, labels) == pytest.approx((1.0 + 0.0) / 2)
    assert dispersion(x, labels) == pytest.approx((math.sqrt(2), math.sqrt(2)))


@pytest.mark.parametrize("spread", [0.3, 1.5])
def test_closeness_and_dispersion_match_the_reference(spread):
    rng = np.random.default_rng(11)
    _, x, labels = clustered(rng, 7, 9, 16, spread)
    keep = np.flatnonzero(np.arange(len(labels)) % 9 <= labels)  # class c keeps c + 1 of its 9 videos
    x, labels = x[keep], labels[keep]
    if spread > 1:  # unsorted labels too
        order = rng.permutation(len(labels))
        x, labels = x[order], labels[order]
    expected = ref_geometry(x * rng.uniform(0.5, 3.0, (len(x), 1)), labels)  # norms do not matter
    geometry = class_geometry(x, labels)
    assert geometry.n_classes == 7
    assert (geometry.closeness, geometry.dispersion, geometry.dispersion_mean) == pytest.approx(expected, abs=1e-9)


def test_tighter_classes_have_lower_closeness_and_a_single_class_has_no_dispersion():
    rng = np.random.default_rng(2)
    _, tight, labels = clustered(rng, 5, 20, 32, 0.3)
    _, loose, _ = clustered(rng, 5, 20, 32, 1.5)
    assert closeness(tight, labels) < 0.5 * closeness(loose, labels)
    with pytest.raises(ZsarError, match="dispersion needs at least 2 classes, the embeddings have 1"):
        dispersion(tight[:20], labels[:20])


def test_accuracy_of_a_hand_worked_score_matrix():
    scores = np.array([
        [0.9, 0.1, 0.0, 0.0, 0.0, 0.0],   # true 0, predicted 0
        [0.2, 0.8, 0.0, 0.0, 0.0, 0.0],   # true 0, predicted 1, label ranked 2nd
        [0.0, 0.1, 0.2, 0.3, 0.4, 0.5],   # true 0, label ranked 6th: outside the top-5
        [0.5, 0.5, 0.0, 0.0, 0.0, 0.0],   # true 1, tie between 0 and 1: class 0 wins
        [0.0, 0.0, 0.7, 0.0, 0.0, 0.0],   # true 2, predicted 2
        [0.5, 0.4, 0.3, 0.1, 0.2, 0.0],   # true 3, label ranked 5th: inside the top-5
    ])
    labels = np.array([0, 0, 0, 1, 2, 3])
    result = accuracy(scores, labels)
    assert result.top1 == pytest.approx(100 * 2 / 6)
    assert result.top5 == pytest.approx(100 * 5 / 6)
    np.testing.assert_allclose(result.per_class[:4], [100 / 3, 0.0, 100.0, 0.0])
    assert np.isnan(result.per_class[4:]).all()            # classes with no test video
    assert result.mean_class == pytest.approx((100 / 3 + 0 + 100 + 0) / 4)
    expected = np.zeros((6, 6), dtype=np.int64)
    for true, predicted in [(0, 0), (0, 1), (0, 5), (1, 0), (2, 2), (3, 0)]:
        expected[true, predicted] += 1
    np.testing.assert_array_equal(result.confusion, expected)
    np.testing.assert_array_equal(confusion_matrix(np.array([1, 1]), np.array([0, 1]), 2), [[0, 1], [0, 1]])


def test_labels_outside_the_candidates_are_refused():
    with pytest.raises(ZsarError, match="test labels range 0..3 but there are 3 candidate classes"):
        accuracy(np.zeros((2, 3)), np.array([0, 3]))
