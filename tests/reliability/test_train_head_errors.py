"""`zsar train-head` on bad input: one `error:` line, exit status 2, no traceback, nothing lost.

NaN/inf features (the videos are named), an unknown head (the valid ones are listed), a
missing or wrong --features path, an --out that holds another run (refused, left intact),
and checkpoints that load with ``torch.load(..., weights_only=True)``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from _extract_data import run_zsar
from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cli import app
from zsar.heads.base import HEADS
from zsar.testing import StructuredConfig, make_structured_features

pytestmark = pytest.mark.usefixtures("single_thread")

runner = CliRunner()
SMALL = StructuredConfig(classes=8, videos=64, clips=1, frames=4, dim=16, text_dim=8)
FAST = ["--epochs", "1", "--batch-size", "16", "--splits", "2"]



@pytest.fixture
def cache(structured_cache) -> Path:
    return structured_cache(SMALL)


def _args(features: Path, out: Path, head: str = "linear", *extra: str) -> list[str]:
    return ["train-head", "--features", str(features), "--head", head, "--protocol", "within-half",
            "--out", str(out), *FAST, *extra]


def _one_line(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _digest(folder: Path) -> dict[str, str]:
    """sha256 of every file under ``folder`` by relative path: any change, deletion or addition shows."""
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _nan_cache(folder: Path, bad: dict[int, float]) -> Path:
    data = make_structured_features(SMALL)
    features = data.features.astype(np.float32).copy()
    for row, value in bad.items():
        features[row, 0, 1, 2] = value
    ids = [f"{data.class_names[label]}/clip_{i:03d}" for i, label in enumerate(data.labels)]
    write_cache_from_arrays(folder, features, data.labels, data.class_names, text=data.text, video_ids=ids)
    return folder


def test_nan_features_name_the_videos_in_a_real_process(tmp_path):
    cache = _nan_cache(tmp_path / "nan", {3: np.nan, 17: np.inf})
    out = tmp_path / "run"
    result = run_zsar(*_args(cache, out))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    data = make_structured_features(SMALL)
    named = [f"{data.class_names[data.labels[i]]}/clip_{i:03d}" for i in (3, 17)]
    assert lines[0].startswith("error: 2 video(s) in ") and f"({named[0]}, {named[1]})" in lines[0]
    assert not out.exists()  # refused before anything was written


def test_many_bad_videos_are_summarised_on_one_line(tmp_path):
    cache = _nan_cache(tmp_path / "nan", {i: np.nan for i in range(0, 40, 5)})
    line = _one_line(_args(cache, tmp_path / "run"))
    assert line.startswith("error: 8 video(s) in ") and " and 3 more)" in line


def test_an_unknown_head_lists_the_valid_heads(cache, tmp_path):
    line = _one_line(_args(cache, tmp_path / "run", "mlp"))
    assert line == f"error: unknown head 'mlp'; valid heads: {', '.join(sorted(HEADS.names()))}"
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("what", ["missing", "empty folder", "a file"])
def test_a_bad_features_path_is_one_line(tmp_path, what):
    path = tmp_path / "features"
    if what == "empty folder":
        path.mkdir()
    elif what == "a file":
        path.write_text("not a cache")
    line = _one_line(_args(path, tmp_path / "run"))
    assert str(path) in line
    assert ("does not exist" if what == "missing" else "is not a zsar feature cache") in line
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("head", ["aurl", "rest"])
def test_checkpoints_load_with_weights_only(cache, tmp_path, head):
    out = tmp_path / "run"
    result = runner.invoke(app, _args(cache, out, head))
    assert result.exit_code == 0, result.output
    checkpoints = sorted(out.glob("split-*/checkpoint.pt"))
    assert [p.parent.name for p in checkpoints] == ["split-0", "split-1"]
    for path in checkpoints:
        ckpt = torch.load(path, weights_only=True)  # raises on anything but tensors and primitives
        assert set(ckpt) == {"state_dict", "meta"} and ckpt["meta"]["head"] == head
        assert ckpt["state_dict"] and all(isinstance(v, torch.Tensor) for v in ckpt["state_dict"].values())


def test_an_out_holding_another_run_is_refused_and_left_intact(cache, tmp_path):
    out = tmp_path / "run"
    assert runner.invoke(app, _args(cache, out, "linear")).exit_code == 0
    before = _digest(out)
    line = _one_line(_args(cache, out, "aurl"))
    assert line.startswith(f"error: --out {out} holds a run with other settings (") and "choose another --out" in line
    assert _digest(out) == before


def test_an_out_holding_other_files_is_refused_and_left_intact(cache, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    line = _one_line(_args(cache, out))
    assert f"--out {out} exists and is not a zsar run" in line
    assert _digest(out) == {"notes.txt": hashlib.sha256(b"keep me").hexdigest()}


def test_an_out_that_is_a_file_is_refused_and_left_intact(cache, tmp_path):
    out = tmp_path / "run.txt"
    out.write_text("keep me")
    line = _one_line(_args(cache, out))
    assert line == f"error: --out {out} is a file, not a folder; choose a new folder for the run"
    assert out.read_text() == "keep me"


def test_the_same_run_again_keeps_its_finished_splits(cache, tmp_path):
    out = tmp_path / "run"
    assert runner.invoke(app, _args(cache, out)).exit_code == 0
    checkpoint = out / "split-0" / "checkpoint.pt"
    mtime = checkpoint.stat().st_mtime_ns
    assert runner.invoke(app, _args(cache, out)).exit_code == 0
    assert checkpoint.stat().st_mtime_ns == mtime  # not retrained, not rewritten


@pytest.mark.parametrize("extra, message", [
    (["--lr", "nan"], "error: --lr nan: must be a finite number above 0"),
    (["--lr", "-1"], "error: --lr -1.0: must be a finite number above 0"),
    (["--batch-size", "1"], "error: --batch-size 1: must be at least 2 (BatchNorm and the contrastive losses"),
    (["--steps", "0"], "error: --steps 0: must be at least 1"),
    (["--steps", "5", "--epochs", "2"], "error: --steps 5 and --epochs 2: give one budget, not both"),
])
def test_bad_training_numbers_are_one_line_before_anything_is_written(cache, tmp_path, extra, message):
    args = ["train-head", "--features", str(cache), "--head", "aurl", "--protocol", "within-half",
            "--out", str(tmp_path / "run"), *extra]
    assert _one_line(args).startswith(message)
    assert not (tmp_path / "run").exists()
