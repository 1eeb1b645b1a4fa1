"""Two ranks as separate processes into one cache: the union is complete and equals one process's run."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from _extract_data import REPO, TINY, assert_same_cache, make_synth, read_cache
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import manifest_ranks, read_manifest
from zsar.cache.verify import verify_cache
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.plan import rank_chunks, resolve_rank

N_VIDEOS = 10


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=2, per_class=N_VIDEOS // 2)


def test_rank_chunks_split_the_list_deterministically(monkeypatch):
    assert [(c.seq, c.start, c.stop) for c in rank_chunks(10, 3, 0, 2)] == [(0, 0, 3), (2, 6, 9)]
    assert [(c.seq, c.start, c.stop) for c in rank_chunks(10, 3, 1, 2)] == [(1, 3, 6), (3, 9, 10)]
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "3")
    assert resolve_rank(None) == (1, 3) and resolve_rank((0, 2)) == (0, 2)
    monkeypatch.delenv("RANK")
    monkeypatch.delenv("WORLD_SIZE")
    assert resolve_rank(None) == (0, 1)


def test_two_rank_processes_equal_one_process(synth, tmp_path):
    single = extract(ExtractConfig(dataset="synthetic", root=synth, backbone="tiny-random", text_encoder="tiny-random",
                                   prompts="plain", cache=tmp_path / "one", videos_per_shard=2, workers=0,
                                   threads=1))
    args = ["extract", "--dataset", "synthetic", "--root", str(synth), *TINY, "--cache", str(tmp_path / "two"),
            "--videos-per-shard", "2", "--workers", "0", "--threads", "1"]
    env = dict(os.environ)
    procs = [
        # rank 0 as torchrun starts it (RANK/WORLD_SIZE), rank 1 with --shard as a SLURM array would
        subprocess.Popen([sys.executable, "-m", "zsar", *args], cwd=REPO, text=True, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, env={**env, "RANK": "0", "WORLD_SIZE": "2", "LOCAL_RANK": "0"}),
        subprocess.Popen([sys.executable, "-m", "zsar", *args, "--shard", "1/2"], cwd=REPO, text=True,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env),
    ]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    assert "videos (rank 0/2): 6 ok" in outs[0][0] and "videos (rank 1/2): 4 ok" in outs[1][0]
    cache_dir = next((tmp_path / "two").glob("features/*/*"))
    assert cache_dir.name == single.cache_dir.name  # same key: world size does not change the numbers
    layout = CacheLayout(cache_dir)
    assert manifest_ranks(layout) == [0, 1]
    assert sorted(read_manifest(layout).column("video_row").to_pylist()) == list(range(N_VIDEOS))
    assert verify_cache(cache_dir).ok
    assert_same_cache(read_cache(cache_dir), read_cache(single.cache_dir))
