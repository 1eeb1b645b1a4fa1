"""Two writers on one cache and rank: the second is refused with the holder's pid; data stays intact."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from _extract_data import REPO, TINY, make_synth, read_cache, run_zsar
from zsar.cache.verify import verify_cache

ARGS = ["--videos-per-shard", "2", "--resolution", "160", "--clips", "2", "--threads", "1", "--workers", "0"]

HOLD_LOCK = """
import sys, time
from pathlib import Path
from zsar.cache.layout import CacheLayout
from zsar.cache.lock import RankLock
with RankLock(CacheLayout(Path(sys.argv[1])), 0):
    print("locked", flush=True)
    time.sleep(60)
"""


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=3, per_class=4)


def _extract(synth, cache, *extra):
    return ["extract", "--dataset", "synthetic", "--root", str(synth), *TINY, "--cache", str(cache), *ARGS, *extra]


def test_second_writer_is_refused_naming_cache_rank_and_pid(synth, tmp_path):
    first = run_zsar(*_extract(synth, tmp_path))
    assert first.returncode == 0, first.stderr
    cache_dir = next(tmp_path.glob("features/*/*"))
    before = read_cache(cache_dir)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(cache_dir)], cwd=REPO,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        second = run_zsar(*_extract(synth, tmp_path, "--retry-failed"))
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == 2
    assert second.stderr.strip().splitlines()[-1] == (
        f"error: cache {cache_dir} rank 0 is being written by another `zsar extract` (pid {holder.pid}); "
        "wait for it to finish (or stop it) and run again to resume")
    assert "Traceback" not in second.stderr
    # the killed holder's lock is gone with it; the data is as it was
    again = run_zsar(*_extract(synth, tmp_path))
    assert again.returncode == 0 and "0 ok, 0 failed, 12 already in the cache" in again.stdout
    assert verify_cache(cache_dir).ok and read_cache(cache_dir).keys() == before.keys()


def test_two_concurrent_extracts_one_refused_cache_complete(synth, tmp_path):
    procs = []
    for _ in range(2):
        procs.append(subprocess.Popen([sys.executable, "-m", "zsar", *_extract(synth, tmp_path)], cwd=REPO,
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
        time.sleep(0.3)
    results = [(p.wait(timeout=300), *p.communicate()) for p in procs]
    codes = sorted(code for code, _, _ in results)
    for code, out, err in results:
        assert code == 0 or ("is being written by another `zsar extract`" in err and "Traceback" not in err), err
    assert 0 in codes
    cache_dir = next(tmp_path.glob("features/*/*"))
    report = verify_cache(cache_dir)
    assert report.ok and report.videos == 12
    assert len(read_cache(cache_dir)) == 12
