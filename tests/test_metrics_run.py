"""Measuring run directories and raw feature caches through the library API."""

import json

import numpy as np
import pytest

from metrics_data import ACTIONS, clustered, make_run
from test_metrics_hubness import hub_data
from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.runs.files import RunLayout, write_run_config
from zsar.runs.results import SplitResult, write_split_result
from zsar.testing import dummy_run_config
from zsar.cache.text import TextEmbeddings
from zsar.errors import ZsarError
from zsar.heads.rerank import csls
from zsar.metrics import (MetricsConfig, accuracy, class_geometry, evaluate_features, evaluate_run, hubness_stats,
                          k_occurrence, measure_run, score_occurrence, write_report)
from zsar.vectors import l2_normalise

STATS = ("skewness", "robinhood", "hub_occurrence", "antihub_rate", "max_hub_share")


def test_each_split_is_measured_with_the_array_functions_and_averaged(tmp_path):
    splits = make_run(tmp_path / "run", n_splits=3)
    summary = evaluate_run(tmp_path / "run")
    assert (summary["head"], summary["protocol"], summary["n_splits"]) == ("linear", "within-half", 3)
    for result, got in zip(splits, summary["per_split"]):
        positions = np.searchsorted(result.test_classes, result.test_labels)
        acc = accuracy(result.scores, positions)
        assert (got["split"], got["top1"], got["top5"]) == (result.split, acc.top1, acc.top5)
        assert got["mean_class_accuracy"] == acc.mean_class
        for k, n_k in score_occurrence(result.scores, [1, 5]).items():
            assert got["hubness"][str(k)] == hubness_stats(n_k, k).to_json()
        videos = k_occurrence(result.test_embeddings, result.test_embeddings, [1, 5, 10], exclude_self=True)
        assert got["hubness_videos"] == {str(k): hubness_stats(n_k, k).to_json() for k, n_k in videos.items()}
        test, seen = (class_geometry(result.test_embeddings, result.test_labels),
                      class_geometry(result.train_embeddings, result.train_labels))
        assert (got["closeness"], got["dispersion"], got["dispersion_mean"]) == (
            test.closeness, test.dispersion, test.dispersion_mean)
        assert got["seen"] == {"closeness": seen.closeness, "dispersion": seen.dispersion,
                               "dispersion_mean": seen.dispersion_mean}
    for key in ("top1", "closeness"):
        values = [s[key] for s in summary["per_split"]]
        assert summary[key] == pytest.approx(np.mean(values)) and summary["std"][key] == pytest.approx(np.std(values))
    skew = [s["hubness_videos"]["5"]["skewness"] for s in summary["per_split"]]
    assert summary["hubness_videos"]["5"]["skewness"] == pytest.approx(np.mean(skew))
    seen_dispersion = [s["seen"]["dispersion"] for s in summary["per_split"]]
    assert summary["seen"]["dispersion"] == pytest.approx(np.mean(seen_dispersion))
    # 6 test classes: k = 10 against prototypes is left out, and said so
    assert "10" not in summary["hubness"] and summary["notes"] == [
        "hubness k=10 against class prototypes skipped: there are only 6, N_k would be constant"]
    json.dumps(summary)  # JSON-ready as it is


def test_only_what_was_asked_is_in_the_summary(tmp_path):
    make_run(tmp_path / "run", n_splits=2)
    summary = evaluate_run(tmp_path / "run", MetricsConfig(measures=("dispersion",), k=(1,)))
    split_keys = {"split", "top1", "top5", "mean_class_accuracy", "dispersion", "dispersion_mean", "seen"}
    assert set(summary["per_split"][0]) == split_keys
    assert set(summary["seen"]) == {"dispersion", "dispersion_mean"}
    assert "notes" not in summary and "hubness" not in summary["std"]


def hub_run(root, rerank):
    """One split whose class prototypes include a hub at the mean of the test videos."""
    videos, prototypes = hub_data()
    videos, prototypes = l2_normalise(videos), l2_normalise(prototypes)
    scores = videos @ prototypes.T
    names = [f"class {i}" for i in range(len(prototypes))]
    labels = scores.argmax(axis=1)  # any labels will do for hubness
    write_split_result(root, SplitResult(split=0, class_names=names, seen=np.zeros(len(names), bool),
                                         test_classes=np.arange(len(names)), prototypes=prototypes,
                                         test_embeddings=videos, test_labels=labels, test_video_ids=[str(i) for i in range(len(videos))],
                                         scores=csls(scores) if rerank else scores))
    write_run_config(RunLayout(root), dummy_run_config(rerank="csls" if rerank else "none"))


def test_a_csls_reranked_run_shows_lower_prototype_hubness(tmp_path):
    config = MetricsConfig(measures=("hubness",), k=(1, 5))
    hub_run(tmp_path / "raw", rerank=False)
    hub_run(tmp_path / "csls", rerank=True)
    raw, reranked = evaluate_run(tmp_path / "raw", config), evaluate_run(tmp_path / "csls", config)
    assert raw["hubness"]["1"]["skewness"] > 4
    assert reranked["hubness"]["1"]["skewness"] < 0.5 * raw["hubness"]["1"]["skewness"]
    assert reranked["hubness"]["1"]["max_hub_share"] < 0.5 * raw["hubness"]["1"]["max_hub_share"]
    assert reranked["hubness_videos"] == raw["hubness_videos"]  # same embeddings, re-ranking is not in them


@pytest.mark.parametrize("damage, message", [
    (lambda r: setattr(r, "scores", r.scores[:, :-1]), r"scores has shape \(60, 5\), expected \(60, 6\)"),
    (lambda r: r.test_embeddings.__setitem__((3, 0), np.nan), "test_embeddings holds NaN or inf"),
    (lambda r: r.train_embeddings.__setitem__((0, 1), np.inf), "train_embeddings holds NaN or inf"),
    (lambda r: r.test_labels.__setitem__(0, int(np.flatnonzero(r.seen)[0])), "are not among its test_classes"),
])
def test_a_broken_split_is_refused_with_the_reason(tmp_path, damage, message):
    result = make_run(tmp_path / "run", n_splits=1)[0]
    damage(result)
    write_split_result(tmp_path / "run", result)
    with pytest.raises(ZsarError, match=message):
        evaluate_run(tmp_path / "run")


def test_the_order_of_the_candidate_classes_does_not_change_the_numbers(tmp_path):
    result = make_run(tmp_path / "run", n_splits=1)[0]
    before = evaluate_run(tmp_path / "run")
    order = np.array([3, 0, 5, 1, 4, 2])
    result.test_classes, result.prototypes, result.scores = (
        result.test_classes[order], result.prototypes[order], result.scores[:, order])
    write_split_result(tmp_path / "run", result)
    after = evaluate_run(tmp_path / "run")
    for key in ("top1", "top5", "mean_class_accuracy", "hubness", "hubness_videos", "closeness", "seen"):
        assert after[key] == before[key], key


def test_write_report_writes_the_plots_and_a_report_that_shows_them(tmp_path):
    make_run(tmp_path / "run", n_splits=2)
    metrics = measure_run(tmp_path / "run", MetricsConfig(k=(1, 5)))
    report = write_report(metrics)
    plots = sorted(p.name for p in (tmp_path / "run" / "plots").iterdir())
    assert plots == ["accuracy_per_split.png", "confusion_matrix.png", "hubness_k1.png", "hubness_k5.png",
                     "per_class_accuracy.png"]
    text = report.read_text()
    for name in plots:
        assert f"](plots/{name})" in text
        assert (tmp_path / "run" / "plots" / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    summary = metrics.summary()
    assert f"| mean ± std | {summary['top1']:.4g} ± {summary['std']['top1']:.2g} |" in text
    # the largest off-diagonal count, over both splits, heads the confusions table
    mistakes = {}
    for s in metrics.splits:
        for (t, p), n in np.ndenumerate(s.accuracy.confusion):
            if t != p:
                key = (s.class_names[t], s.class_names[p])
                mistakes[key] = mistakes.get(key, 0) + n
    most = max(mistakes.values())
    table = text.split("## Most frequent confusions (all splits pooled)")[1].split("##")[0]
    first = table.strip().splitlines()[2].split(" | ")
    assert int(first[2]) == most and mistakes[(first[0].lstrip("| "), first[1])] == most
    assert json.loads((tmp_path / "run" / "report.json").read_text()) == summary


def raw_cache(folder, space, text_space, seed=0):
    """A feature cache (N, clips=2, T'=3, D=16) of 4 classes, with text embeddings in ``text_space``."""
    rng = np.random.default_rng(seed)
    directions, videos, labels = clustered(rng, 4, 15, 16, 2.0)
    features = videos[:, None, None, :] + 0.1 * rng.standard_normal((len(videos), 2, 3, 16))
    names = ACTIONS[:4]
    text = TextEmbeddings(encoder="clip", model_id="openai/clip-vit-b-32", prompt_set="plain", class_names=names,
                          class_texts=names, prompts=["{}"],
                          embeddings=directions[:, None, :].astype(np.float32), space=text_space)
    write_cache_from_arrays(folder, features.astype(np.float16), labels, names, text=text,
                            extra_config={"space": space})
    return features, labels, directions


def test_raw_features_in_a_joint_space_get_both_settings(tmp_path):
    features, labels, directions = raw_cache(tmp_path / "cache", "clip-b32", "clip-b32")
    summary = evaluate_features(tmp_path / "cache", config=MetricsConfig(k=(1, 3)))
    pooled = features.astype(np.float16).astype(np.float32).mean(axis=(1, 2))
    for setting, targets, exclude in (("hubness", directions, False), ("hubness_videos", pooled, True)):
        counts = k_occurrence(pooled, targets, [1, 3], exclude_self=exclude)
        assert summary[setting] == {str(k): hubness_stats(n_k, k).to_json() for k, n_k in counts.items()}
    geometry = class_geometry(pooled, labels)
    assert summary["closeness"] == pytest.approx(geometry.closeness)
    assert summary["dispersion"] == pytest.approx(geometry.dispersion)
    assert (summary["n_videos"], summary["n_classes"], summary["space"]) == (60, 4, "clip-b32")
    assert "notes" not in summary and "top1" not in summary


@pytest.mark.parametrize("space, text_space, why", [
    ("", "", "the cache's backbone has no joint text space"),
    ("efficientnet-lite0", "", "no text embeddings in the backbone's space 'efficientnet-lite0'"),
])
def test_raw_features_without_a_joint_space_skip_text_hubness_and_say_why(tmp_path, space, text_space, why):
    raw_cache(tmp_path / "cache", space, text_space)
    summary = evaluate_features(tmp_path / "cache", config=MetricsConfig(measures=("hubness",), k=(10,)))
    assert "hubness" not in summary and set(summary["hubness_videos"]) == {"10"}
    assert len(summary["notes"]) == 1 and why in summary["notes"][0]
    assert "(text: clip-plain-" in summary["notes"][0]


def test_a_named_text_file_that_is_missing_is_an_error(tmp_path):
    raw_cache(tmp_path / "cache", "clip-b32", "clip-b32")
    with pytest.raises(ZsarError, match="no text embeddings minilm"):
        evaluate_features(tmp_path / "cache", text="minilm")
