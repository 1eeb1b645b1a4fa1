"""Protocols: E2E's half splits, the overlap filter, the plans' invariants, GZSL's harmonic mean."""

from pathlib import Path

import numpy as np
import pytest

from _heads_data import protocol_data, structured_set
from zsar.metrics.accuracy import harmonic_mean
from zsar.runs.results import SplitResult
from zsar.errors import ZsarError
from zsar.heads.experiment import TrainHeadConfig, resolve
from zsar.heads.protocols import (PROTOCOLS, ProtocolData, cross_full, cross_half, e2e_half_classes, gzsl, official,
                                  overlap_distances, overlap_filter, within_half)
from zsar.heads.zero_shot import split_metrics, summarise_splits
from zsar.testing import StructuredConfig

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.mark.parametrize("n_classes", [51, 101])
def test_e2e_half_split_indices_match_the_legacy_global_calls(n_classes):
    state = np.random.get_state()
    try:
        for seed in range(10):
            np.random.seed(seed)
            expected = np.random.permutation(n_classes)[: n_classes // 2]
            np.testing.assert_array_equal(e2e_half_classes(n_classes, seed), expected)
    finally:
        np.random.set_state(state)


def test_e2e_half_split_pinned_values():
    assert e2e_half_classes(51, 0)[:8].tolist() == [29, 11, 10, 22, 2, 28, 45, 32]
    assert e2e_half_classes(51, 9)[:8].tolist() == [2, 30, 44, 7, 38, 15, 35, 31]
    assert e2e_half_classes(101, 0)[:8].tolist() == [26, 86, 2, 55, 75, 94, 16, 73]
    assert e2e_half_classes(101, 1)[:8].tolist() == [94, 78, 17, 100, 36, 85, 55, 83]
    assert len(e2e_half_classes(51, 3)) == 25 and len(e2e_half_classes(101, 3)) == 50


def test_overlap_filter_drops_classes_within_tau_of_a_target():
    target = np.eye(3, 8)
    angle = lambda cos: np.r_[cos, np.sqrt(1 - cos ** 2), np.zeros(6)]  # noqa: E731 (cosine `cos` to target 0)
    source = np.stack([target[0], angle(0.97), angle(0.94), np.eye(8)[7] * 3.0])
    # cosine distances to the nearest target: 0, 0.03, 0.06, 1
    np.testing.assert_array_equal(overlap_filter(source, target, 0.05), [False, False, True, True])
    np.testing.assert_array_equal(overlap_filter(source, target, 0.0), [True, True, True, True])
    np.testing.assert_array_equal(overlap_filter(source, target, 0.5), [False, False, False, True])


def test_within_half_plan_invariants():
    data = protocol_data()
    plans = list(within_half(data, 3))
    assert [p.split for p in plans] == [0, 1, 2]
    labels = data.target.labels
    for p in plans:
        np.testing.assert_array_equal(p.test.classes, np.sort(e2e_half_classes(40, p.split)))
        assert not p.seen[p.test.classes].any() and p.seen.sum() == 20
        np.testing.assert_array_equal(p.train.classes[p.train.targets], labels[p.train.rows])
        assert set(p.train.rows) | set(p.test.rows) == set(range(len(labels)))
        assert set(labels[p.test.rows]) == set(p.test.classes)
        assert p.test.text.class_names == [data.target.class_names[c] for c in p.test.classes]
        assert p.train.text.class_names == [data.target.class_names[c] for c in p.train.classes]
    assert len({p.model_key for p in plans}) == 3


def test_gzsl_plan_holds_out_a_fifth_of_each_seen_class():
    data = protocol_data()
    p = next(gzsl(data, 1))
    labels = data.target.labels
    np.testing.assert_array_equal(p.test.classes, np.arange(40))
    assert not set(p.train.rows) & set(p.test.rows)
    for c in np.flatnonzero(p.seen):
        assert (labels[p.test.rows] == c).sum() == 4 and (labels[p.train.rows] == c).sum() == 16
    assert set(np.flatnonzero(~p.seen)) <= set(labels[p.test.rows])


def _cross_data(tau=0.05):
    """Source: classes 0-24 of a structured set; target: classes 20-39 (20-24 appear in both)."""
    features, text = structured_set(StructuredConfig(classes=40, videos=400))
    src = features.subset(features.labels < 25)
    src.class_names = [f"src_{n}" for n in features.class_names[:25]]
    tgt = features.subset(features.labels >= 20)
    tgt.labels, tgt.class_names = tgt.labels - 20, features.class_names[20:]
    src_text = text.subset(features.class_names[:25])
    src_text.class_names = src.class_names
    return ProtocolData(target=tgt, target_text=text.subset(tgt.class_names), source=src, source_text=src_text, tau=tau)


def test_cross_half_trains_on_filtered_source_classes_and_shares_one_model():
    data = _cross_data()
    plans = list(cross_half(data, 2))
    p = plans[0]
    # the 5 source classes that are also target classes are dropped (distance 0 < tau)
    assert p.class_names[:20] == [f"s/src_class_{i:03d}" for i in range(20)]
    assert p.class_names[20:] == data.target.class_names and p.seen.sum() == 20
    np.testing.assert_array_equal(p.test.classes, 20 + np.sort(e2e_half_classes(20, 0)))
    assert data.source.labels[p.train.rows].max() == 19
    assert {q.model_key for q in plans} == {"source"}
    everything = list(cross_half(_cross_data(tau=0.0), 1))[0]
    assert everything.seen.sum() == 25


def test_cross_full_and_official_test_all_target_classes():
    data = _cross_data()
    full = list(cross_full(data, 1))
    assert len(full) == 1 and len(full[0].test.rows) == len(data.target)
    plans = list(official(data, 3))
    assert [p.split for p in plans] == [1, 2, 3]
    for p in plans:
        assert (data.target.splits[f"split{p.split}"][p.test.rows] == "test").all()
        np.testing.assert_array_equal(p.test.classes, 20 + np.arange(20))


def test_protocol_choices_and_errors():
    assert PROTOCOLS.names() == ["base-to-novel", "cross-full", "cross-half", "gzsl", "k600-novel", "official", "within-half"]
    base = dict(features=Path("f"), out=Path("o"), head="linear")
    with pytest.raises(ZsarError, match="--protocol official trains on a source dataset: pass --source-features"):
        resolve(TrainHeadConfig(protocol="official", **base))
    with pytest.raises(ZsarError, match="--splits 2: cross-full takes 1 to 1 splits"):
        resolve(TrainHeadConfig(protocol="cross-full", source_features=Path("s"), splits=2, **base))
    with pytest.raises(ZsarError, match="drop --source-features"):
        resolve(TrainHeadConfig(protocol="within-half", source_features=Path("s"), **base))
    data = _cross_data()
    data.target.splits["split3"][:] = "train"
    with pytest.raises(ZsarError, match=r"official test videos for 2 split\(s\) \(\[1, 2\]\); pass --splits 2"):
        list(official(data, 3))


def test_gzsl_metrics_and_harmonic_mean():
    assert harmonic_mean(60.0, 40.0) == pytest.approx(48.0)
    assert harmonic_mean(0.0, 0.0) == 0.0
    # classes 0, 1 seen; 2, 3 unseen; 4 test videos: seen ones 1/2 right, unseen ones 2/2 right
    scores = np.array([[0.9, 0.1, 0, 0], [0.9, 0.1, 0, 0], [0, 0, 0.9, 0.1], [0, 0, 0.1, 0.9]], np.float32)
    result = SplitResult(split=0, class_names=["a", "b", "c", "d"], seen=np.array([True, True, False, False]),
                         test_classes=np.arange(4),
                         prototypes=np.eye(4, dtype=np.float32), test_embeddings=np.eye(4,
                                                                                        dtype=np.float32), test_labels=np.array([0, 1, 2, 3]),
                         test_video_ids=["v0", "v1", "v2", "v3"], scores=scores)
    m, notes = split_metrics(result, ("seen-unseen",))
    a = m["accuracies"]
    assert (a["seen_top1"], a["unseen_top1"], m["top1"]) == (50.0, 100.0, 75.0) and notes == []
    assert a["harmonic"] == pytest.approx(2 * 50 * 100 / 150)
    mean, std = summarise_splits([m, {**m, "top1": 25.0}], ("seen-unseen",))
    assert mean["top1"] == 50.0 and std["top1"] == 25.0 and mean["harmonic"] == pytest.approx(a["harmonic"])


def test_gzsl_says_when_a_split_held_out_no_seen_video_instead_of_a_zero():
    """A split whose test videos are all of unseen classes has no seen top-1: None and a note, not 0 and HM 0."""
    scores = np.array([[0, 0, 0.9, 0.1], [0, 0, 0.1, 0.9]], np.float32)
    result = SplitResult(split=3, class_names=["a", "b", "c", "d"], seen=np.array([True, True, False, False]),
                         test_classes=np.arange(4), prototypes=np.eye(4, dtype=np.float32),
                         test_embeddings=np.eye(4, dtype=np.float32)[2:], test_labels=np.array([2, 3]),
                         test_video_ids=["v2", "v3"], scores=scores)
    m, notes = split_metrics(result, ("seen-unseen",))
    assert m["accuracies"] == {"seen_top1": None, "unseen_top1": 100.0, "harmonic": None}
    assert notes == ["split 3 holds out no test video of a seen class: its seen top-1 and the harmonic mean are not "
                     "defined there (left out of the means)"]
    other = {**m, "split": 4, "accuracies": {"seen_top1": 50.0, "unseen_top1": 50.0, "harmonic": 50.0}}
    mean, _ = summarise_splits([m, other], ("seen-unseen",))
    assert (mean["seen_top1"], mean["unseen_top1"], mean["harmonic"]) == (50.0, 75.0, 50.0)


def test_overlap_distances_of_a_zero_embedding_are_one_not_nan():
    source = np.array([[3.0, 4.0], [0.0, 0.0]], np.float32)
    target = np.array([[3.0, 4.0], [-4.0, 3.0]], np.float32)
    distances = overlap_distances(source, target)
    assert distances.dtype == np.float64 and np.isfinite(distances).all()
    np.testing.assert_allclose(distances, [[0.0, 1.0], [1.0, 1.0]], atol=1e-12)

