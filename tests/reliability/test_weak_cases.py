"""Issue 22, the nine weak cases: tracebacks and traps become one line, nothing half-made is left, losses are noted."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from _extract_data import REPO, TINY, cache_dir_of, make_synth
from _faults import copy_cache_root, error_line, extract_args, invoke, small_cache, train_args
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import read_manifest

CLASSES = ["brush_hair", "cartwheel", "catch", "chew", "clap", "climb"]


@pytest.fixture(scope="module")
def features(tmp_path_factory):
    """A small random cache (6 classes x 6 videos) with label text."""
    return small_cache(tmp_path_factory.mktemp("features") / "cache", CLASSES, per_class=6)


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=3, per_class=2)


# --- options are validated before anything is written ---------------------------------------------------

@pytest.mark.parametrize("option, expected", [
    ("hidden=-5", "error: --head-opt hidden=-5: aurl's hidden must be at least 1"),
    ("dropout=1.5", "error: --head-opt dropout=1.5: aurl's dropout is a probability, in [0, 1)"),
    ("hidden=100000000", "error: head aurl with hidden=100000000 has "),
])
def test_head_options_out_of_range_are_one_line_before_the_run_folder_exists(features, tmp_path, option, expected):
    out = tmp_path / "run"
    line = error_line(invoke(*train_args(features, out, "--head-opt", option, "--head", "aurl")))
    assert line.startswith(expected)
    if option.startswith("hidden=1"):
        assert "GB, this machine has" in line and line.endswith("use smaller widths")
    assert not out.exists()


def test_a_typo_in_a_head_option_leaves_no_run_and_a_failed_start_is_reused(features, tmp_path, monkeypatch):
    out = tmp_path / "run"
    typo = invoke(*train_args(features, out, "--head", "aurl", "--head-opt", "generator=bogus"))
    assert not out.exists()
    assert error_line(typo) == ("error: --head-opt generator=bogus: unknown class-generator mode 'bogus'; choose one "
                                "of interpolate, extrapolate")
    # A start that failed mid-split (here: an error inside training) leaves only config.json behind ...
    import zsar.heads.experiment as experiment

    def broken(*args, **kwargs):
        raise RuntimeError("a failure inside training")

    monkeypatch.setattr(experiment, "fit", broken)
    with pytest.raises(RuntimeError):
        invoke(*train_args(features, out, "--head", "aurl"), catch_exceptions=False)
    assert (out / "config.json").is_file() and not list(out.glob("split-*/embeddings.h5"))
    monkeypatch.undo()
    # ... and the corrected command, with other settings, starts that folder again.
    fixed = invoke(*train_args(features, out, "--head", "aurl", "--head-opt", "generator=extrapolate"))
    assert fixed.exit_code == 0, fixed.output
    assert json.loads((out / "config.json").read_text())["head_config"]["generator"] == "extrapolate"


def test_extract_with_zero_threads_leaves_no_cache(synth, tmp_path):
    root = tmp_path / "cache"
    args = extract_args(synth, root)
    args[args.index("--threads") + 1] = "0"
    line = error_line(invoke(*args))
    assert line == "error: --threads 0: must be at least 1"
    assert not (root / "features").exists()
    assert invoke("cache", "ls", "--cache", root).output.strip() == f"no feature caches under {root}"


def test_extract_with_a_huge_frame_count_is_refused_naming_the_limit(synth, tmp_path):
    root = tmp_path / "cache"
    line = error_line(invoke(*extract_args(synth, root, "--frames", "100000")))
    assert line == ("error: --frames 100000: must be at most 512 (the limit keeps a run within the memory of a "
                    "machine)")
    assert not (root / "features").exists()


# --- one line for the rest --------------------------------------------------------------------------------

def test_a_full_disk_while_saving_a_checkpoint_is_one_line_and_leaves_no_tmp(features, tmp_path, monkeypatch):
    """ENOSPC at the write of the checkpoint: by ``torch.save`` into a file, or by a plain write of its bytes."""
    real_save, real_write = torch.save, Path.write_bytes

    def save(obj, f, *args, **kwargs):
        if isinstance(f, (str, os.PathLike)):  # what torch does on a full disk: a half file and a RuntimeError
            real_write(Path(f), b"PK\x03\x04 half")
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598")
        return real_save(obj, f, *args, **kwargs)

    def write_bytes(self, data):
        if ".checkpoint.pt." in self.name:
            real_write(self, bytes(data)[:10])
            raise OSError(errno.ENOSPC, "No space left on device", str(self))
        return real_write(self, data)

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    out = tmp_path / "run"
    line = error_line(invoke(*train_args(features, out)))
    assert line == (f"error: cannot write {out}/split-0/checkpoint.pt (No space left on device); free some space, "
                    "then re-run the same `zsar train-head` command (same --out) to redo it (its finished splits "
                    "are kept)")
    assert [p.name for p in out.rglob("*.tmp")] == []


def test_verify_reports_orphan_shards_of_a_deleted_manifest(synth, tmp_path):
    done = invoke(*extract_args(synth, tmp_path / "cache"))
    cache_dir = cache_dir_of(done.output)
    for path in cache_dir.glob("manifest-000.parquet*"):
        path.unlink()
    result = invoke("cache", "verify", cache_dir)
    assert result.exit_code == 1
    orphans = [line for line in result.output.splitlines() if line.startswith("orphan shard ")]
    assert len(orphans) == 3  # 6 videos, 2 per shard
    assert orphans[0] == ("orphan shard shard-000-000000.h5: no manifest row names it (its manifest file is gone, or "
                          "a run was killed before writing it); the next `zsar extract` of rank 0 extracts its "
                          "videos again over it")


def test_sigint_says_what_is_kept_and_how_to_resume(features, tmp_path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "zsar", "-q", *train_args(features, out, splits=3)]
    command[command.index("--epochs"):command.index("--epochs") + 2] = ["--steps", "100000"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    deadline = time.monotonic() + 120
    while not (out / "config.json").exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # training
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == ("interrupted: the splits finished so far are kept in --out; run the same "
                                            "`zsar train-head` command to resume")


# --- note what was lost -----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def damaged(tmp_path_factory):
    """A synth dataset of 48-frame clips, one cut short (27 of 48 frames decode) and one not a video at all."""
    root = make_synth(tmp_path_factory.mktemp("damaged"), classes=4, per_class=3, frames=48)
    videos = sorted((root / "videos").rglob("*.avi"))
    data = videos[1].read_bytes()
    videos[1].write_bytes(data[:int(len(data) * 0.6)])
    videos[7].write_bytes(b"garbage" * 100)
    return root, videos[1].name, videos[7].name


def test_a_partly_decoded_video_gets_a_note_in_its_manifest_row(damaged, tmp_path):
    root, partial, _ = damaged
    done = invoke(*extract_args(root, tmp_path / "cache"))
    assert done.exit_code == 0, done.output
    rows = {Path(r["path"]).name: r for r in read_manifest(CacheLayout(cache_dir_of(done.output))).to_pylist()}
    row = rows[partial]
    assert row["status"] == "ok" and row["n_frames"] < 48
    assert row["note"] == f"partly decoded: {row['n_frames']} of the 48 frames its container claims"
    assert all(r["note"] == "" for name, r in rows.items() if name != partial)


def test_train_head_notes_the_failed_and_partial_videos_it_left_out(damaged, tmp_path):
    root, partial, failed = damaged
    done = invoke(*extract_args(root, tmp_path / "cache"))
    cache_dir = cache_dir_of(done.output)
    out = tmp_path / "run"
    result = invoke(*train_args(cache_dir, out, splits=1))
    assert result.exit_code == 0, result.output
    notes = json.loads((out / "metrics.json").read_text())["notes"]
    lost = [n for n in notes if "failed to decode" in n]
    assert len(lost) == 1 and lost[0].startswith(f"1 video(s) of {cache_dir} failed to decode and 1 were only "
                                                 "partly decoded (")
    assert "all 2 are left out" in lost[0]
