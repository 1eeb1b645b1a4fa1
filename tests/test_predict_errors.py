"""``zsar predict`` refuses bad input in one line each: labels, label files, videos, damaged runs, missing weights.

A tiny run (tiny-random backbone and text encoder, ridge, one within-half split) is built
once; each damage is done to a copy of it (or of its cache).
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from zsar.cli import app
from zsar.cli.options import NAMES

from _predict_data import tiny_model


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("predict-errors")
    data, cache, run = tiny_model(root)
    return {"root": root, "run": run, "cache": cache, "videos": data / "videos"}


def _error(*args: str) -> str:
    """Run ``zsar -q predict ARGS``; it must fail with exit 2 and exactly one line, ``error: ...``, on stderr."""
    result = CliRunner().invoke(app, ["-q", "predict", *args, "--workers", "0"])
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def _ok(*args: str) -> str:
    result = CliRunner().invoke(app, ["-q", "predict", *args, "--workers", "0"])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_tiny_run_predicts(tiny):
    out = _ok(str(tiny["videos"]), "--labels", "wave hand, squat", "--run", str(tiny["run"]))
    assert "12 video(s): 12 ok, 0 failed" in out


@pytest.mark.parametrize("labels, said", [
    ("wave hand, , squat", "label 2 is empty"),
    ("wave hand, squat, Wave Hand", "label 'Wave Hand' appears twice"),
    ("   ", "0 label(s); give at least two"),
])
def test_an_empty_or_duplicate_label(tiny, labels, said):
    assert said in _error(str(tiny["videos"]), "--labels", labels, "--run", str(tiny["run"]))


@pytest.mark.parametrize("window, said", [
    (["--stride", "5"], "--stride 5 needs --window"),
    (["--window", "0"], "--window 0: must be a positive number of seconds"),
    (["--window", "5", "--stride", "-1"], "--stride -1: must be a positive number of seconds"),
])
def test_a_window_that_is_not_a_positive_length(tiny, window, said):
    assert said in _error(str(tiny["videos"]), "--labels", "wave hand, squat", "--run", str(tiny["run"]), *window)


def test_an_extraction_of_the_videos_set_split_across_processes(tiny, tmp_path):
    result = CliRunner().invoke(app, ["extract", "--dataset", "videos", "--root", str(tiny["videos"]), "--backbone",
                                      "tiny-random", "--shard", "1/2", "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 2 and "no fixed video list to split among 2 processes" in result.stderr


def test_a_label_file_in_another_encoding(tiny, tmp_path):
    path = tmp_path / "labels.txt"
    path.write_bytes("café au lait\nwave hand\n".encode("latin-1"))
    line = _error(str(tiny["videos"]), "--labels-file", str(path), "--run", str(tiny["run"]))
    assert f"--labels-file {path} is not UTF-8 text (byte 0xe9" in line and "save it as UTF-8" in line
    empty_line = tmp_path / "gap.txt"
    empty_line.write_text("wave hand\n\t a description without a label\n", encoding="utf-8")
    assert "label 2 is empty" in _error(str(tiny["videos"]), "--labels-file", str(empty_line), "--run",
                                        str(tiny["run"]))


def test_no_videos_found(tiny, tmp_path):
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt.bak").write_text("x")
    run = ["--labels", "a, b", "--run", str(tiny["run"])]
    assert "no videos found in" in _error(str(tmp_path / "empty"), *run)
    assert "no videos found in" in _error(str(tmp_path / "*.mp4"), *run)
    assert f"no videos found: {tmp_path / 'nope.avi'} does not exist" in _error(str(tmp_path / "nope.avi"), *run)
    listed = tmp_path / "list.txt"
    listed.write_text(f"{tmp_path / 'gone.avi'}\n")
    said = f"no videos found for 1 entries of the list {listed} ('{tmp_path / 'gone.avi'}')"
    assert said in _error(str(listed), *run)


def _write_run_config(run: Path, config: dict) -> None:
    """Rewrite the run's ``config.json`` and its checksum file (an edited file alone is refused as damaged)."""
    text = json.dumps(config)
    (run / "config.json").write_text(text)
    (run / "config.json.sha256").write_text(f"{hashlib.sha256(text.encode()).hexdigest()}  config.json\n")


def _copy_run(tiny, tmp_path, cache_too: bool = False) -> Path:
    run = Path(shutil.copytree(tiny["run"], tmp_path / "run"))
    if cache_too:
        cache = Path(shutil.copytree(tiny["cache"], tmp_path / "cache" / "features" / "synthetic" / tiny["cache"].name))
        config = json.loads((run / "config.json").read_text())
        config["features"]["path"] = str(cache)
        _write_run_config(run, config)
    return run


def _predict_with(tiny, run: Path) -> str:
    return _error(str(tiny["videos"]), "--labels", "wave hand, squat", "--run", str(run))


def test_a_run_whose_cache_is_missing(tiny, tmp_path):
    run = _copy_run(tiny, tmp_path)
    config = json.loads((run / "config.json").read_text())
    config["features"].update(path=str(tmp_path / "moved"), key="0123456789ab")
    _write_run_config(run, config)
    assert f"its feature cache {tmp_path / 'moved'} (key 0123456789ab) is missing" in _predict_with(tiny, run)


def test_a_run_whose_cache_is_damaged(tiny, tmp_path):
    run = _copy_run(tiny, tmp_path, cache_too=True)
    cache = Path(json.loads((run / "config.json").read_text())["features"]["path"])
    text = next((cache / "text").glob("*.h5"))
    text.write_bytes(text.read_bytes()[:-7] + b"damaged")
    assert "text embeddings" in _predict_with(tiny, run) and "checksum" in _predict_with(tiny, run)
    (cache / "config.json").write_text("{ not json")
    assert "config.json" in _predict_with(tiny, run)


def test_a_run_whose_checkpoint_is_missing_or_damaged(tiny, tmp_path):
    run = _copy_run(tiny, tmp_path)
    checkpoint = run / "split-0" / "checkpoint.pt"
    checkpoint.write_bytes(checkpoint.read_bytes()[:100])
    assert "split-0/checkpoint.pt does not match its checksum file" in _predict_with(tiny, run)
    checkpoint.unlink()
    assert "split-0/checkpoint.pt is missing" in _predict_with(tiny, run)
    run = _copy_run(tiny, tmp_path / "second")
    embeddings = run / "split-0" / "embeddings.h5"
    embeddings.write_bytes(b"x" * 10)
    assert "embeddings.h5" in _predict_with(tiny, run)
    assert "is not a zsar run directory" in _predict_with(tiny, tmp_path)


def test_a_backbone_whose_weights_are_not_on_this_machine(tiny, tmp_path, monkeypatch):
    for name in ("HF_HOME", "HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE", "TRANSFORMERS_CACHE"):
        monkeypatch.setenv(name, str(tmp_path / "hf"))
    line = _error(str(tiny["videos"]), "--labels", "wave hand, squat", "--backbone", "clip-vit-b16",
                  "--cache", str(tmp_path / "cache"))
    assert "no weights for clip-vit-b16" in line and "--weights" in line


def test_a_model_is_needed_and_one_label_option(tiny):
    assert "give either --run RUN" in _error(str(tiny["videos"]), "--labels", "a, b", "--run", str(tiny["run"]),
                                             "--backbone", "tiny-random")
    assert "--head objects: --backbone gives tiny-random features" in _error(
        str(tiny["videos"]), "--labels", "a, b", "--head", "objects", "--backbone", "tiny-random")
    assert "--head ridge: without --run the head is training-free: frozen or objects" in _error(
        str(tiny["videos"]), "--labels", "a, b", "--head", "ridge")
    assert "--prompts: a run fixes its backbone" in _error(str(tiny["videos"]), "--labels", "a, b", "--run",
                                                           str(tiny["run"]), "--prompts", "plain")
    assert "--labels 'a, b, c' or --labels-file" in _error(str(tiny["videos"]), "--run", str(tiny["run"]))
    assert "--split 3: run" in _error(str(tiny["videos"]), "--labels", "a, b", "--run", str(tiny["run"]),
                                       "--split", "3")
    assert "needs a batch of videos" in _error(str(next(tiny["videos"].rglob("*.avi"))), "--labels", "a, b",
                                               "--run", str(tiny["run"]), "--rerank", "csls")


def test_the_help_lists_the_choices():
    result = CliRunner().invoke(app, ["predict", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0 and "csls" in result.output and "efficientnet-lite0" in result.output
    assert not [key for key in NAMES if f"{{{key}}}" in result.output]
