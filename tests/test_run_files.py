"""The typed run files: each round-trips through its type, a damaged or foreign one is one error naming it,
and files of the release before typed run files (no ``schema_version``) still read."""

import json

import pytest
import torch

from zsar.runs.checkpoints import read_checkpoint, write_checkpoint
from zsar.cache.records import record_json
from zsar.runs.files import (CheckpointMeta, FilterTextRecord, LogRecord, OverlapRecord, RunFileError, RunLayout,
                                  RunMetrics, SelectionRecord, SplitRecord, append_log, read_log, read_run_config,
                                  read_run_metrics, read_selection, write_run_config, write_run_metrics,
                                  write_selection)
from zsar.testing import dummy_run_config

CONFIG = dummy_run_config(protocol_options={"base_train": "all", "class_lists": None}, tau=0.05,
                          source_features=dummy_run_config().features, splits=3, train={"lr": 0.003, "seed": 0},
                          filter_text=FilterTextRecord("w2v", "k" * 12, "word2vec"),
                          overlap_with=(OverlapRecord("w2v", "j" * 12, 51),), source_classes=("a", "b"),
                          config_hash="abc")
METRICS = RunMetrics(protocol="base-to-novel", head="ridge", mean={"top1": 50.0, "hm": 40.0},
                     std={"top1": 1.5, "hm": 2.0}, notes=("one note",), measures=("base-novel",),
                     splits=(SplitRecord(split=0, top1=50.0, top5=90.0, n_test=10, n_classes=4,
                                         accuracies={"base_top1": 60.0, "novel_top1": 33.3, "hm": 42.8},
                                         selected={"alpha": 0.1}),
                             SplitRecord(split=1, top1=48.5, top5=88.0, n_test=12, n_classes=4,
                                         accuracies={"base_top1": 50.0, "novel_top1": None, "hm": None})))
SELECTION = SelectionRecord(chosen={"lr": 0.01, "steps": 33}, top1=41.0, validation_classes=("c", "d"), n_train=20,
                            n_validation=8, curves=({"lr": 0.01, "curve": [[16, 40.0, 41.0]], "stopped_at": 33,
                                                     "diverged": False},), config={"fraction": 0.25})
META = CheckpointMeta(head="linear", dims={"video_dim": 8, "text_dim": 4}, config={"loss": "ce"}, split=2,
                      config_hash="abc", train={"lr": 0.01}, selected=None, train_classes=("a", "b"))


def test_every_json_run_file_round_trips_through_its_type(tmp_path):
    layout = RunLayout(tmp_path)
    write_run_config(layout, CONFIG)
    write_run_metrics(layout, METRICS)
    write_selection(layout, 1, SELECTION)
    assert read_run_config(layout) == CONFIG
    assert read_run_metrics(layout) == METRICS and read_run_metrics(layout).measures == ("base-novel",)
    assert read_selection(layout, 1) == SELECTION and read_selection(layout, 0) is None
    assert json.loads(layout.config_path.read_text())["features"]["key"] == CONFIG.features.key


def test_log_lines_round_trip_and_half_a_line_is_skipped(tmp_path):
    layout = RunLayout(tmp_path)
    records = [LogRecord(split=s, epoch=1, step=4, loss=0.5, lr=0.01, seconds=0.25) for s in (0, 1)]
    for record in records:
        append_log(layout, record)
    with open(layout.log_path, "a") as f:
        f.write('{"split": 1, "epo')
    assert [r for _, r in read_log(layout)] == records


def test_checkpoint_meta_round_trips(tmp_path):
    write_checkpoint(tmp_path, 2, {"w": torch.ones(2)}, META)
    back = read_checkpoint(RunLayout(tmp_path).checkpoint_path(2))
    assert back.meta == META and torch.equal(back.state_dict["w"], torch.ones(2))


@pytest.mark.parametrize("content,problem", [
    ("[1, 2]", "a JSON list, not an object"),
    ('{"zsar": "0"}', "field 'head' is missing"),
    ("{garbage", "not valid JSON"),
])
def test_a_damaged_run_config_is_one_error_naming_it(tmp_path, content, problem):
    layout = RunLayout(tmp_path)
    layout.config_path.write_text(content)
    with pytest.raises(RunFileError) as err:
        read_run_config(layout)
    assert str(err.value).startswith(f"run config {layout.config_path} is damaged: {problem}")
    assert "\n" not in str(err.value) and "--out" in str(err.value)


def test_a_foreign_or_mistyped_file_is_refused(tmp_path):
    layout = RunLayout(tmp_path)
    raw = record_json(METRICS)
    for change, problem in (({"surprise": 1}, "unknown field 'surprise'"),
                            ({"splits": [{**raw["splits"][1], "split": "zero"}]}, "field 'split' is 'zero', not of type int"),
                            ({"schema_version": 7}, "has schema version 7, this zsar reads version 2")):
        layout.metrics_path.write_text(json.dumps({**raw, **change}))
        with pytest.raises(RunFileError, match=f"run metrics {layout.metrics_path}") as err:
            read_run_metrics(layout)
        assert problem in str(err.value) and "train-head" in str(err.value)


def test_files_of_the_previous_release_still_read(tmp_path):
    """The release before typed run files wrote the same fields with no schema_version, the optional ones left out."""
    layout = RunLayout(tmp_path)
    old = {k: v for k, v in record_json(dummy_run_config()).items()
           if k not in ("schema_version", "protocol_options", "source_features", "tau", "filter_text",
                        "overlap_with", "source_classes")}
    layout.config_path.write_text(json.dumps(old))
    assert read_run_config(layout) == dummy_run_config()
    old_metrics = {"protocol": "within-half", "head": "linear", "mean": {"top1": 1.0}, "std": {"top1": 0.0},
                   "splits": [{"split": 0, "top1": 1, "top5": 2.0, "n_test": 3, "n_classes": 2, "selected": None}]}
    layout.metrics_path.write_text(json.dumps(old_metrics))
    assert read_run_metrics(layout).splits[0].top1 == 1.0 and read_run_metrics(layout).notes == ()


def test_metrics_of_schema_version_1_read_with_their_accuracies_moved(tmp_path):
    """Version 1 kept GZSL's and base-to-novel's accuracies as fields of the split record; they read into
    ``accuracies`` and name their measure."""
    layout = RunLayout(tmp_path)
    split = {"split": 1, "top1": 50.0, "top5": 90.0, "n_test": 10, "n_classes": 4, "seen_top1": None,
             "unseen_top1": None, "harmonic": None, "base_top1": 60.0, "novel_top1": 40.0, "hm": 48.0,
             "selected": None}
    layout.metrics_path.write_text(json.dumps({"protocol": "base-to-novel", "head": "ridge", "splits": [split],
                                               "mean": {"top1": 50.0}, "std": {"top1": 0.0}, "notes": [],
                                               "schema_version": 1}))
    metrics = read_run_metrics(layout)
    assert metrics.measures == ("base-novel",) and metrics.schema_version == 2
    assert metrics.splits[0].accuracies == {"base_top1": 60.0, "novel_top1": 40.0, "hm": 48.0}
