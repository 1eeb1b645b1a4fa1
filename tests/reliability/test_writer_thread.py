"""The writer thread of `zsar extract` (issue 21): kills while it writes, and a write that fails midway."""

from __future__ import annotations

import errno
import os
import random
import subprocess
import sys
from pathlib import Path

import h5py
import pytest

from _extract_data import REPO, TINY, assert_same_cache, make_synth, read_cache, reference_extraction
from _faults import error_line, invoke, make_read_only
from test_kill_resume import _after_shards, _check_consistent, _kill_when
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import read_manifest
from zsar.cache.verify import verify_cache

N_VIDEOS = 16
# Chunks of 2 videos x 2 clips, batches of 3 clips: every other batch spans two chunks.
SETTINGS = ["--videos-per-shard", "2", "--batch-size", "3", "--resolution", "64", "--clips", "2", "--threads", "1"]
SLOW_WRITES = '''"""Test plugin: every shard takes 0.15 s longer to write (kills land while the writer writes)."""
import time

from zsar.cache import shards

_write = shards.ShardWriter._write


def _slow_write(self, *args, **kwargs):
    time.sleep(0.15)
    _write(self, *args, **kwargs)


shards.ShardWriter._write = _slow_write
'''


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=4, per_class=N_VIDEOS // 4)


@pytest.fixture(scope="module")
def reference(synth, tmp_path_factory):
    """The same extraction, uninterrupted, in this process, decoding in it, one batch per chunk."""
    return reference_extraction(synth, tmp_path_factory.mktemp("ref"), batch_size=4, resolution=64)


def _start(synth: Path, cache: Path, plugins: Path) -> subprocess.Popen:
    args = ["extract", "--dataset", "synthetic", "--root", str(synth), *TINY, "--cache", str(cache),
            "--workers", "2", *SETTINGS]
    env = {**os.environ, "ZSAR_PLUGINS": "slow_shard_writes",
           "PYTHONPATH": os.pathsep.join([str(plugins), str(REPO), os.environ.get("PYTHONPATH", "")])}
    return subprocess.Popen([sys.executable, "-m", "zsar", "-q", *args], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_kills_while_the_writer_thread_writes_resume_to_identical_features(synth, reference, tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow_shard_writes.py").write_text(SLOW_WRITES)
    cache = tmp_path / "cache"
    rng = random.Random(21)
    killed, rows_after = 0, []
    # After a shard's rename the writer thread goes on to the manifest part and the next
    # shard (0.15 s of sleep inside the write), while the main process decodes and encodes.
    for n, jitter in ((1, 0.0), (1, rng.uniform(0.05, 0.3)), (2, rng.uniform(0.0, 0.2))):
        proc = _start(synth, cache, plugins)
        killed += _kill_when(proc, _after_shards(cache, n, jitter))
        rows_after.append(_check_consistent(cache))
    assert killed == 3 and rows_after[-1] < N_VIDEOS, f"rows after each kill: {rows_after}"
    final = _start(synth, cache, plugins)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert f"{N_VIDEOS - rows_after[-1]} ok, 0 failed, {rows_after[-1]} already in the cache" in out
    cache_dir = next(cache.glob("features/*/*"))
    assert verify_cache(cache_dir).ok
    assert_same_cache(read_cache(cache_dir), reference)


def _read_only_shards(monkeypatch, shards: Path) -> None:
    """Make ``shards/`` read-only as the tests can (they run as root): no new file there, HDF5's included."""
    make_read_only(monkeypatch, shards)
    real_file = h5py.File

    def file(name, mode="r", *args, **kwargs):
        if mode != "r" and Path(os.path.abspath(name)).parent == shards:
            raise PermissionError(errno.EACCES, "Permission denied", str(name))
        return real_file(name, mode, *args, **kwargs)

    monkeypatch.setattr(h5py, "File", file)


def test_a_shard_folder_turning_read_only_midway_is_one_line_and_the_cache_verifies(synth, reference, tmp_path,
                                                                                     monkeypatch):
    import zsar.extract.chunk_writer as chunk_writer

    real_part = chunk_writer.write_manifest_part

    def part_then_read_only(layout, rank, seq, rows):
        path = real_part(layout, rank, seq, rows)
        if seq == 0:
            _read_only_shards(monkeypatch, Path(os.path.abspath(layout.root / "shards")))
        return path

    monkeypatch.setattr(chunk_writer, "write_manifest_part", part_then_read_only)
    args = ["extract", "--dataset", "synthetic", "--root", str(synth), *TINY, "--cache", str(tmp_path),
            "--workers", "1", *SETTINGS[:-2], "--threads", "1"]
    line = error_line(invoke(*args))
    cache_dir = next(tmp_path.glob("features/*/*"))
    assert line == (f"error: cannot write {cache_dir}/shards/shard-000-000001.h5 (Permission denied); free some "
                    "space or make the cache writable, then run `zsar extract` again to resume")
    monkeypatch.undo()
    verify = invoke("cache", "verify", cache_dir)
    assert verify.exit_code == 0, verify.output
    assert verify.output.strip() == (f"ok: 1 shards, 2 videos verified; incomplete: {N_VIDEOS - 2} of {N_VIDEOS} "
                                     "videos not extracted yet")
    assert sorted(read_manifest(CacheLayout(cache_dir)).column("video_row").to_pylist()) == [0, 1]
    assert [p.name for p in (cache_dir / "shards").iterdir()] == ["shard-000-000000.h5"]  # nothing half-written
    resumed = invoke(*args)
    assert resumed.exit_code == 0 and f"{N_VIDEOS - 2} ok, 0 failed, 2 already in the cache" in resumed.output
    assert verify_cache(cache_dir).ok
    assert_same_cache(read_cache(cache_dir), reference)
