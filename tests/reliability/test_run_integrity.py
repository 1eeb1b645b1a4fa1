"""Run directories and degenerate set-ups (issue 11): a lock, no duplicate log lines, damaged splits refused.

Caches are random features written with ``write_cache_from_arrays`` (1 clip, 4 frames,
D=16); heads are ``linear`` for 1 epoch.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from _extract_data import run_zsar
from _faults import error_line, invoke, trained_run, process_error_line, small_cache, train_args
from zsar.runs.lock import RunLock

pytestmark = pytest.mark.usefixtures("single_thread")

CLASSES = ["clap", "jump", "kick", "punch", "run", "squat", "walk", "wave"]


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return small_cache(tmp_path_factory.mktemp("cache") / "c", CLASSES, per_class=6)


@pytest.fixture
def run(cache, tmp_path) -> Path:
    return trained_run(cache, tmp_path / "run")


def _metrics(out: Path) -> dict:
    return json.loads((out / "metrics.json").read_text())


def test_metrics_refuses_a_missing_split_and_the_same_train_head_redoes_it(cache, run):
    (run / "split-0" / "embeddings.h5").unlink()
    assert error_line(invoke("metrics", run, "--json")) == (
        f"error: run {run} has no split 0 (split-0/embeddings.h5 is missing; it has [1]); re-run the same "
        "`zsar train-head` command (same --out) to redo it")
    assert invoke(*train_args(cache, run)).exit_code == 0
    again = invoke("metrics", run, "--json")
    assert again.exit_code == 0 and json.loads(again.stdout)["n_splits"] == 2


def test_a_garbage_split_is_refused_and_redone(cache, run):
    (run / "split-1" / "embeddings.h5").write_bytes(b"garbage")
    assert error_line(invoke("metrics", run)) == (
        f"error: run {run}: split-1/embeddings.h5 does not match its checksum file split-1/embeddings.h5.sha256; "
        "re-run the same `zsar train-head` command (same --out) to redo it")
    redo = invoke(*train_args(cache, run))
    assert redo.exit_code == 0 and "redoing split 1" in redo.output
    assert invoke("metrics", run).exit_code == 0


@pytest.mark.parametrize("name,what", [("metrics.json", "run metrics"), ("config.json", "run config")])
def test_garbage_run_json_is_one_line(cache, run, name, what):
    (run / name).write_text("{garbage")
    (run / f"{name}.sha256").unlink(missing_ok=True)  # metrics.json as written before checksum files
    assert error_line(invoke("metrics", run)).startswith(f"error: {what} {run / name} is damaged: not valid JSON (")
    if name == "config.json":
        assert error_line(invoke(*train_args(cache, run))).startswith(f"error: {what} {run / name} is damaged")


def test_a_second_train_head_on_one_out_is_refused(cache, tmp_path):
    out = tmp_path / "run"
    with RunLock(out):
        assert error_line(invoke(*train_args(cache, out))) == (
            f"error: --out {out} is being written by another `zsar train-head`; wait for it to finish (or stop it) "
            "and run again to reuse its finished splits, or choose another --out")
        other_process = run_zsar(*train_args(cache, out))
        assert process_error_line(other_process).startswith(f"error: --out {out} is being written by another")
    assert not any(out.iterdir())  # refused before writing anything
    assert invoke(*train_args(cache, out)).exit_code == 0


def test_a_killed_and_rerun_train_head_leaves_no_duplicate_log_lines(cache, run):
    def lines():
        return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    before = lines()
    # As a SIGTERM during split 1 leaves it: its epochs logged, no checkpoint, half a line at the end.
    (run / "split-1" / "checkpoint.pt").unlink()
    with open(run / "log.jsonl", "a") as f:
        f.write('{"split": 1, "epo')
    assert invoke(*train_args(cache, run)).exit_code == 0
    after = lines()
    assert sorted((r["split"], r["epoch"]) for r in after) == sorted((r["split"], r["epoch"]) for r in before)
    assert len(after) == len(before) == 2


def test_within_half_on_two_classes_notes_the_single_unseen_class(tmp_path):
    cache = small_cache(tmp_path / "c", ["jump", "walk"], per_class=4)
    out = tmp_path / "run"
    assert invoke(*train_args(cache, out, splits=1)).exit_code == 0
    notes = _metrics(out)["notes"]
    assert any("split 0 has a single candidate class" in n and "100% by construction" in n for n in notes), notes
    measured = json.loads(invoke("metrics", out, "--json").stdout)
    assert set(notes) <= set(measured["notes"]) and measured["top1"] == 100.0
    assert "dispersion of the test embeddings skipped: they hold 1 class" in measured["notes"]


def test_more_splits_than_distinct_halves_is_noted(tmp_path):
    cache = small_cache(tmp_path / "c", ["clap", "jump", "kick", "walk"], per_class=3)
    out = tmp_path / "run"
    assert invoke(*train_args(cache, out, splits=20)).exit_code == 0
    notes = _metrics(out)["notes"]
    assert f"--splits 20: within-half can draw only 6 distinct split(s) from the 4 classes of {cache}; running 6" \
        in notes
    assert "within-half: only 3 distinct split(s) among the 6 asked (4 classes have 6 halves); repeated splits " \
           "understate the std: pass --splits fewer, or use more classes" in notes


def test_classes_with_the_same_label_text_are_noted(tmp_path):
    names = ["Run", "jump", "kick", "run"]
    cache = small_cache(tmp_path / "c", names, per_class=3, class_texts=["run", "jump", "kick", "run"])
    out = tmp_path / "run"
    result = invoke(*train_args(cache, out, splits=1))
    assert result.exit_code == 0 and "share one label text" in result.output
    assert any("share one label text ('Run', 'run' -> 'run')" in n for n in _metrics(out)["notes"])


@pytest.mark.parametrize("names,per_class", [(["walk"], 5), (["walk"], 1)])
def test_a_cache_of_one_class_or_one_video_is_refused(tmp_path, names, per_class):
    cache = small_cache(tmp_path / "c", names, per_class=per_class)
    assert error_line(invoke(*train_args(cache, tmp_path / "run"))) == (
        f"error: --features {cache} has {per_class} video(s) of 1 class(es) (walk); zero-shot needs videos of "
        "at least 2 classes: extract a dataset with more classes")


def test_gzsl_on_two_videos_is_refused(tmp_path):
    cache = small_cache(tmp_path / "c", ["jump", "walk"], per_class=1)
    assert error_line(invoke(*train_args(cache, tmp_path / "run", protocol="gzsl", splits=1))) == (
        f"error: gzsl split 0 trains on 1 video(s) and tests on 1 (2 videos in 2 classes in {cache}); a split "
        "needs at least 2 training videos and one test video: extract more videos per class")
