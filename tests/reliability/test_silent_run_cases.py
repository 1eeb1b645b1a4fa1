"""Issue 31, the run side: every run file checked (case 6) and --splits capped to the distinct splits (case 7).

Caches are random features (``small_cache``: 1 clip, 4 frames, D=16); heads are ``linear``
for 1 epoch.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import pytest

from _faults import error_line, invoke, trained_run, small_cache, train_args

pytestmark = pytest.mark.usefixtures("single_thread")

CLASSES = ["clap", "jump", "kick", "punch", "run", "squat"]
REDO = "re-run the same `zsar train-head` command (same --out) to redo it"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return small_cache(tmp_path_factory.mktemp("cache") / "c", CLASSES, per_class=4)


@pytest.fixture
def run(cache, tmp_path) -> Path:
    return trained_run(cache, tmp_path / "run")


def _reseal(path: Path) -> None:
    """Write ``path``'s checksum file again for its bytes now (as someone covering an edit would)."""
    (path.parent / f"{path.name}.sha256").write_text(f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}\n")


def _damage(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


# --- case 6: predictions.parquet and metrics.json have checksum files --------------------------------------

def test_predictions_and_metrics_get_checksum_files(run):
    for name in ("predictions.parquet", "metrics.json"):
        line = (run / f"{name}.sha256").read_text()
        assert line == f"{hashlib.sha256((run / name).read_bytes()).hexdigest()}  {name}\n"


@pytest.mark.parametrize("name", ["predictions.parquet", "metrics.json"])
def test_a_damaged_run_file_is_refused_in_one_line_and_the_same_train_head_redoes_it(cache, run, name):
    _damage(run / name)
    assert error_line(invoke("metrics", run)) == (
        f"error: run {run}: {name} does not match its checksum file {name}.sha256; {REDO}")
    redo = invoke(*train_args(cache, run))
    assert redo.exit_code == 0, redo.output
    assert f"{name} does not match its checksum file {name}.sha256; writing it again from the finished splits" \
        in redo.output
    assert invoke("metrics", run).exit_code == 0


def test_unreadable_predictions_without_a_checksum_file_are_refused(run):
    (run / "predictions.parquet.sha256").unlink()  # as a run written before checksum files
    (run / "predictions.parquet").write_bytes(b"PAR1 not a table")
    line = error_line(invoke("metrics", run))
    assert line.startswith(f"error: run {run}: predictions.parquet cannot be read (") and line.endswith(REDO)


def test_missing_predictions_of_a_finished_run_are_refused(run):
    (run / "predictions.parquet").unlink()
    assert error_line(invoke("metrics", run)) == (
        f"error: run {run}: predictions.parquet is missing (predictions.parquet.sha256 is there); {REDO}")


def test_a_stored_metric_that_disagrees_with_its_recomputation_is_reported(run):
    path = run / "metrics.json"
    stored = json.loads(path.read_text())
    top1 = stored["splits"][0]["top1"]
    edited = top1 + 50.0 if top1 < 50 else top1 - 50.0  # one digit changed, as 41.67 -> 91.67
    path.write_text(path.read_text().replace(json.dumps(top1), json.dumps(edited), 1))
    _reseal(path)  # the checksum file covers the edit: only the recomputation can see it
    result = invoke("metrics", run, "--json")
    assert result.exit_code == 0, result.output
    expected = (f"{path} disagrees with the numbers measured again from the run's splits (split 0 top1: {edited:g} "
                f"stored, {top1:g} measured")
    assert expected in result.output
    summary = json.loads(result.stdout)
    assert summary["per_split"][0]["top1"] == top1  # what is shown is measured now
    assert any(note.startswith(expected) for note in summary["notes"])


def test_an_untouched_run_reports_no_disagreement(run):
    result = invoke("metrics", run, "--json")
    assert result.exit_code == 0 and "disagrees" not in result.output


# --- case 7: --splits is capped to the distinct splits ------------------------------------------------------

def test_splits_above_the_distinct_halves_are_capped_with_a_note(cache, tmp_path):
    out = tmp_path / "run"
    started = time.monotonic()
    result = invoke(*train_args(cache, out, splits=100000))
    assert result.exit_code == 0, result.output
    assert time.monotonic() - started < 60
    metrics = json.loads((out / "metrics.json").read_text())
    assert len(metrics["splits"]) == 20 and json.loads((out / "config.json").read_text())["splits"] == 20
    note = (f"--splits 100000: within-half can draw only 20 distinct split(s) from the 6 classes of {cache}; "
            "running 20")
    assert note in metrics["notes"] and note in result.output


# --- every run file has a checksum file: config.json and selection.json too ----------------------------------

def test_a_damaged_run_config_is_refused_by_metrics_and_train_head(cache, run):
    _damage(run / "config.json")
    assert error_line(invoke("metrics", run)) == (
        f"error: run {run}: config.json does not match its checksum file config.json.sha256; train the run again "
        "with a new --out")
    assert error_line(invoke(*train_args(cache, run))) == (
        f"error: run {run}: config.json does not match its checksum file config.json.sha256; choose another --out "
        "(or delete that run to redo it)")


def test_a_damaged_selection_record_makes_its_split_be_redone(tmp_path):
    cache = small_cache(tmp_path / "c", [f"class{i:02d}" for i in range(12)], per_class=5)
    out = tmp_path / "run"
    assert invoke(*train_args(cache, out)).exit_code == 0
    before = json.loads((out / "metrics.json").read_text())["splits"][0]["selected"]
    selection = out / "split-0" / "selection.json"
    assert selection.is_file() and (out / "split-0" / "selection.json.sha256").is_file()
    selection.write_text(selection.read_text().replace('"top1": ', '"top1": 1', 1))
    redo = invoke(*train_args(cache, out))
    assert redo.exit_code == 0, redo.output
    assert ("split-0/selection.json does not match its checksum file split-0/selection.json.sha256; redoing split 0"
            in redo.output)
    assert json.loads((out / "metrics.json").read_text())["splits"][0]["selected"] == before
    assert invoke("metrics", out).exit_code == 0
