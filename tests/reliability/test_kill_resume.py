"""A `zsar extract` killed with SIGKILL at several points and resumed ends bit-identical to one run."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from _extract_data import REPO, TINY, assert_same_cache, make_synth, read_cache, reference_extraction
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import read_manifest
from zsar.cache.verify import verify_cache

N_VIDEOS = 24
# Slow enough (~0.1 s per shard) that a kill can land between, during and after shard commits.
SETTINGS = ["--videos-per-shard", "2", "--batch-size", "3", "--resolution", "224", "--clips", "2", "--threads", "1"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=4, per_class=N_VIDEOS // 4)


@pytest.fixture(scope="module")
def reference(synth, tmp_path_factory):
    """The same extraction, uninterrupted, in this process."""
    return reference_extraction(synth, tmp_path_factory.mktemp("ref"), batch_size=3, resolution=224)


def _start(synth: Path, cache: Path) -> subprocess.Popen:
    args = ["extract", "--dataset", "synthetic", "--root", str(synth), *TINY, "--cache", str(cache),
            "--workers", "1", *SETTINGS]
    return subprocess.Popen([sys.executable, "-m", "zsar", "-q", *args], cwd=REPO,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _shards_since(cache: Path, since: float) -> int:
    """Shards committed (renamed into place) at or after wall time ``since``."""
    return sum(p.stat().st_mtime >= since for p in cache.glob("features/*/*/shards/*.h5"))


def _kill_when(proc: subprocess.Popen, ready) -> bool:
    """SIGKILL ``proc`` as soon as ``ready()``; False if it finished first."""
    while proc.poll() is None:
        if ready():
            proc.send_signal(signal.SIGKILL)
            proc.communicate()
            return True
        time.sleep(0.003)
    proc.communicate()
    return False


def _check_consistent(cache: Path) -> int:
    """After a kill: no video listed twice, every listed shard present and intact. Returns rows."""
    folders = list(cache.glob("features/*/*"))
    if not folders or not (folders[0] / "config.json").exists():
        return 0
    report = verify_cache(folders[0])
    # A kill between a shard's rename and its manifest part leaves it an orphan (reported, redone on resume).
    assert [p for p in report.problems if "leftover temporary file" not in p and not p.startswith("orphan shard")] == []
    table = read_manifest(CacheLayout(folders[0]))
    rows = table.column("video_row").to_pylist()
    assert len(rows) == len(set(rows)) and report.videos == len(rows)
    return len(rows)


def _after_shards(cache: Path, n: int, jitter: float):
    """A ``ready()`` that turns true ``jitter`` seconds after the run's ``n``-th new shard."""
    since, seen = time.time() - 0.01, []

    def ready() -> bool:
        if not seen and _shards_since(cache, since) >= n:
            seen.append(time.monotonic())
        return bool(seen) and time.monotonic() - seen[0] >= jitter

    return ready


def _after(delay: float):
    started = time.monotonic()
    return lambda: time.monotonic() - started >= delay


def test_killed_runs_resume_to_identical_features(synth, reference, tmp_path):
    rng = random.Random(6)
    cache = tmp_path / "cache"
    # Kill points: right after a shard's rename (before its manifest part, usually); a random
    # moment of start-up (imports, dataset scan, label text); random moments between, during
    # and after later commits (decoding, backbone, shard write, manifest part).
    plan = [lambda: _after_shards(cache, 1, 0.0), lambda: _after(rng.uniform(0.2, 1.2)),
            lambda: _after_shards(cache, 2, rng.uniform(0.0, 0.15)),
            lambda: _after_shards(cache, 1, rng.uniform(0.0, 0.15))]
    killed, rows_after = 0, []
    for make_ready in plan:
        proc = _start(synth, cache)
        killed += _kill_when(proc, make_ready())
        rows_after.append(_check_consistent(cache))
    assert killed == len(plan) and rows_after[-1] < N_VIDEOS, f"rows after each kill: {rows_after}"
    final = _start(synth, cache)
    out, err = final.communicate(timeout=300)
    assert final.returncode == 0, err
    assert f"{N_VIDEOS - rows_after[-1]} ok, 0 failed, {rows_after[-1]} already in the cache" in out
    cache_dir = next(cache.glob("features/*/*"))
    assert verify_cache(cache_dir).ok
    assert not list(cache_dir.glob("manifest/part-*"))  # compacted at the end
    assert_same_cache(read_cache(cache_dir), reference)
    assert len(reference) == N_VIDEOS
