"""Filesystem faults and out-of-range values (issue 11): one `error:` line naming the path or value and the fix.

Read-only folders are simulated (``_faults.make_read_only``): the tests run as root, which
ignores permission bits. A full disk is an ``ENOSPC`` raised at the write call.
"""

from __future__ import annotations

import errno

import pytest

from _extract_data import cache_dir_of, make_synth
from _faults import error_line, extract_args, invoke, make_read_only, small_cache, train_args
from zsar.cache.shards import ShardWriter
from zsar.cache.verify import verify_cache


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=2, per_class=2)


@pytest.mark.parametrize("value", ["7", "20000", "0"])
def test_a_resolution_out_of_range_is_refused_before_anything_is_written(synth, tmp_path, value):
    line = error_line(invoke(*extract_args(synth, tmp_path, "--resolution", value)))
    assert line == (f"error: --resolution {value}: must be 32 to 1024 pixels (backbones downsample by up to 32; "
                    "a batch of larger frames does not fit in memory); leave it out for tiny-random's 32")
    assert not (tmp_path / "features").exists()


def test_a_cache_root_that_is_a_file_is_one_line(synth, tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    expected = f"error: cache root {path} (--cache or $ZSAR_CACHE) is a file, not a folder; pass a folder for the cache"
    assert error_line(invoke(*extract_args(synth, path))) == expected
    no_flag = [a for a in extract_args(synth, path) if a not in ("--cache", str(path))]
    assert error_line(invoke(*no_flag, env={"ZSAR_CACHE": str(path)})) == expected


def test_a_read_only_cache_root_is_one_line(synth, tmp_path, monkeypatch):
    root = tmp_path / "read-only"
    root.mkdir()
    make_read_only(monkeypatch, root)
    line = error_line(invoke(*extract_args(synth, root)))
    assert line.startswith(f"error: cannot write {root}/features/hmdb51/tiny-random-uniform8x1-")
    assert line.endswith(" (Permission denied); choose a writable cache root (--cache or $ZSAR_CACHE)")


def test_a_complete_read_only_cache_is_read_but_not_extended(synth, tmp_path, monkeypatch):
    done = invoke(*extract_args(synth, tmp_path / "cache"))
    cache_dir = cache_dir_of(done.output)
    make_read_only(monkeypatch, tmp_path / "cache")
    assert error_line(invoke(*extract_args(synth, tmp_path / "cache"))) == (
        f"error: cannot open the lock file {cache_dir}/locks/rank-000.lock (Permission denied): the cache is "
        "read-only here; it can be read as it is (`zsar train-head`, `zsar metrics`), or make it writable to extend it")
    assert invoke(*train_args(cache_dir, tmp_path / "run", splits=1)).exit_code == 0


@pytest.mark.parametrize("target", ["shard", "manifest"])
def test_a_full_disk_during_extract_is_one_line_and_the_run_resumes(synth, tmp_path, monkeypatch, target):
    def no_space(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    if target == "shard":
        monkeypatch.setattr(ShardWriter, "_write", no_space)
    else:
        monkeypatch.setattr("zsar.cache.manifest.pq.write_table", no_space)
    line = error_line(invoke(*extract_args(synth, tmp_path)))
    name = "shards/shard-000-000000.h5" if target == "shard" else "manifest/part-000-000000.parquet"
    assert line.startswith("error: cannot write ") and line.endswith(
        f"/{name} (No space left on device); free some space or make the cache writable, then run `zsar extract` "
        "again to resume")
    monkeypatch.undo()
    assert invoke(*extract_args(synth, tmp_path)).exit_code == 0
    assert verify_cache(next(tmp_path.glob("features/*/*"))).ok


def test_an_out_in_a_read_only_folder_or_under_a_file_is_one_line(tmp_path, monkeypatch):
    cache = small_cache(tmp_path / "c", ["jump", "kick", "walk", "wave"], per_class=3)
    (tmp_path / "a-file").write_text("not a folder")
    assert error_line(invoke(*train_args(cache, tmp_path / "a-file" / "run"))) == (
        f"error: cannot write {tmp_path / 'a-file' / 'run'} (Not a directory); choose a writable --out")
    (tmp_path / "read-only").mkdir()
    make_read_only(monkeypatch, tmp_path / "read-only")
    assert error_line(invoke(*train_args(cache, tmp_path / "read-only" / "run"))) == (
        f"error: cannot write {tmp_path / 'read-only' / 'run'} (Permission denied); choose a writable --out")


def test_metrics_plots_on_a_read_only_run_is_one_line(tmp_path, monkeypatch):
    cache = small_cache(tmp_path / "c", ["jump", "kick", "walk", "wave"], per_class=3)
    run = tmp_path / "run"
    assert invoke(*train_args(cache, run, splits=1)).exit_code == 0
    make_read_only(monkeypatch, run)
    assert error_line(invoke("metrics", run, "--plots")) == (
        f"error: cannot write {run / 'plots'} (Permission denied); make the run folder writable (or copy the run "
        "elsewhere), or drop --plots")
    assert invoke("metrics", run).exit_code == 0  # measuring only reads


def test_synth_into_a_file_is_one_line(tmp_path):
    path = tmp_path / "a-file"
    path.write_text("not a folder")
    assert error_line(invoke("synth", path, "--classes", "2", "--per-class", "1")) == (
        f"error: {path} is a file, not a folder; choose a new OUT folder for the synthetic set")
