"""``zsar predict``'s per-file cache: one cache per model setting, rows per file, any set of videos.

A tiny run (``_predict_data.build_tiny``) predicts a folder of 6 clips, then a glob of 3 of
them plus a new file: the second call decodes exactly the new one, into the same cache
(``zsar cache ls`` lists one). Two predicts at once on overlapping sets both finish and lose
nothing; a call that finds another extending the cache waits for it. ``zsar extract
--dataset videos`` with its defaults reaches the cache predict uses with its own.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import zsar
from zsar.cache.layout import CacheLayout
from zsar.cache.lock import RankLock
from zsar.cache.manifest import read_manifest
from zsar.cache.verify import verify_cache
from zsar.cli import app

from _predict_data import build_tiny, decode_counter

LABELS = "wave hand, squat, jumping jacks"
REPO = Path(__file__).resolve().parent.parent
HOLD_LOCK = """
import sys, time
from pathlib import Path
from zsar.cache.layout import CacheLayout
from zsar.cache.lock import RankLock
lock = RankLock(CacheLayout(Path(sys.argv[1])), 0).acquire()
print("held", flush=True)
time.sleep(3)
"""  # another process extending the cache: it holds the writer lock for 3 s


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny(tmp_path_factory.mktemp("predict-cache"))


@pytest.fixture
def videos(tiny, tmp_path):
    """A fresh copy of the 6 clips (each test adds, edits or touches files of its own) and a cache root."""
    folder = tmp_path / "videos"
    shutil.copytree(tiny.videos, folder)
    return folder


def _predict(tiny, videos, cache, **options):
    items = [str(v) for v in videos] if isinstance(videos, list) else str(videos)
    return zsar.predict(items, LABELS, run=tiny.run, cache=cache, workers=0, **options)


def test_a_glob_of_three_cached_videos_and_a_new_file_decodes_only_the_new_one(tiny, videos, tmp_path, monkeypatch):
    decodes = decode_counter(monkeypatch)
    cache = tmp_path / "cache"
    first = _predict(tiny, videos, cache)
    assert decodes["n"] == 6 and first.decoded == 6 and [r.status for r in first] == ["ok"] * 6
    new = tmp_path / "elsewhere" / "new.avi"
    new.parent.mkdir()
    shutil.copy(tiny.videos / "clip-000.avi", new)  # a copy elsewhere: another path, so another row
    second = _predict(tiny, [f"{videos}/clip-00[0-2].avi", new], cache)
    assert decodes["n"] == 7 and second.decoded == 1 and second.reused == 3 and len(second) == 4
    assert second.cache_dir == first.cache_dir
    by_name = {Path(r.path).name: r for r in first}
    assert [r.labels for r in second.rows[:3]] == [by_name[f"clip-00{i}.avi"].labels for i in range(3)]
    listing = CliRunner().invoke(app, ["cache", "ls", "--cache", str(cache)])
    assert listing.exit_code == 0, listing.output
    rows = [line for line in listing.output.splitlines() if line.startswith("videos ")]
    assert len(rows) == 1 and str(first.cache_dir) in rows[0], listing.output
    assert read_manifest(CacheLayout(first.cache_dir)).num_rows == 7


def test_a_single_file_a_list_and_a_superset_reuse_the_rows_they_have(tiny, videos, tmp_path, monkeypatch):
    decodes = decode_counter(monkeypatch)
    cache = tmp_path / "cache"
    alone = _predict(tiny, videos / "clip-004.avi", cache)
    listed = tmp_path / "list.txt"
    listed.write_text("".join(f"{videos / f'clip-00{i}.avi'}\n" for i in (0, 1, 2, 4)))
    from_list = _predict(tiny, listed, cache)
    everything = _predict(tiny, videos, cache)
    assert (alone.decoded, from_list.decoded, from_list.reused) == (1, 3, 1)
    assert (everything.decoded, everything.reused) == (2, 4) and decodes["n"] == 6
    assert everything.cache_dir == alone.cache_dir == from_list.cache_dir
    assert everything.rows[4].labels == alone.rows[0].labels  # its cached features, scored in another batch:
    assert np.allclose(everything.rows[4].scores, alone.rows[0].scores, atol=1e-6)  # equal but for rounding


def test_a_touched_file_is_kept_and_an_edited_one_decoded_again(tiny, videos, tmp_path, monkeypatch):
    decodes = decode_counter(monkeypatch)
    cache = tmp_path / "cache"
    first = _predict(tiny, videos, cache)
    touched, edited = videos / "clip-001.avi", videos / "clip-002.avi"
    os.utime(touched, ns=(1_000_000_000, 1_000_000_000))  # a new modification time, the same bytes
    edited.write_bytes((videos / "clip-005.avi").read_bytes())  # other content under the same name
    again = _predict(tiny, videos, cache)
    assert decodes["n"] == 7 and again.decoded == 1 and again.reused == 5
    assert again.rows[1].labels == first.rows[1].labels and again.rows[1].scores == first.rows[1].scores
    assert again.rows[2].labels == again.rows[5].labels  # the new content, decoded (in a batch of one: rounding)
    assert np.allclose(again.rows[2].scores, again.rows[5].scores, atol=1e-5)
    table = read_manifest(CacheLayout(first.cache_dir))
    assert table.num_rows == 6 and len(set(table.column("video_id").to_pylist())) == 6  # the old row is gone
    assert verify_cache(first.cache_dir).problems == []


def _predict_process(tiny, videos: list[str], cache: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "zsar", "predict", *videos, "--labels", LABELS, "--run", str(tiny.run),
               "--cache", str(cache), "--workers", "0"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_two_predicts_at_once_on_overlapping_sets_lose_nothing(tiny, videos, tmp_path):
    cache = tmp_path / "cache"
    names = sorted(str(p) for p in videos.iterdir())
    one, two = _predict_process(tiny, names[:4], cache), _predict_process(tiny, names[2:], cache)
    outputs = [p.communicate(timeout=300) for p in (one, two)]
    for process, (out, err) in zip((one, two), outputs):
        assert process.returncode == 0, err
        assert "4 video(s): 4 ok, 0 failed" in out
    [cache_dir] = (cache / "features" / "videos").iterdir()
    table = read_manifest(CacheLayout(cache_dir))
    assert sorted(table.column("path").to_pylist()) == names  # each video once, none lost
    assert set(table.column("status").to_pylist()) == {"ok"} and verify_cache(cache_dir).problems == []


def test_a_call_waits_while_another_extends_the_cache(tiny, videos, tmp_path):
    cache = tmp_path / "cache"
    first = _predict(tiny, videos / "clip-000.avi", cache)
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(first.cache_dir)],
                              env={**os.environ, "PYTHONPATH": str(REPO)}, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    started = time.perf_counter()
    waited = _predict_process(tiny, [str(videos)], cache)
    out, err = waited.communicate(timeout=300)
    holder.wait(timeout=60)
    assert waited.returncode == 0, err
    assert "waiting for it" in err and "6 video(s): 6 ok, 0 failed; 5 decoded now, 1 from the cache" in out
    assert time.perf_counter() - started >= 2  # it waited for the holder's lock
    with RankLock(CacheLayout(first.cache_dir), 0):  # released: free again
        pass


def test_extract_dataset_videos_reaches_the_cache_predict_makes_with_the_same_defaults(tmp_path, monkeypatch):
    """Predict without a run (objects on efficientnet-lite0, its defaults) finds what ``zsar extract`` made."""
    from zsar.synth import SynthConfig, generate_dataset

    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # no CLIP weights: the objects head
    data = generate_dataset(SynthConfig(classes=2, per_class=1, frames=16, width=64, height=64), tmp_path / "data")
    cache = tmp_path / "cache"
    made = CliRunner().invoke(app, ["extract", "--dataset", "videos", "--root", str(data / "videos"), "--cache",
                                    str(cache), "--text-encoder", "none", "--workers", "0"])
    assert made.exit_code == 0, made.output
    decodes = decode_counter(monkeypatch)
    result = zsar.predict(str(data / "videos"), "jump, wave hand", cache=cache, workers=0)
    assert result.model == "objects efficientnet-lite0 + minilm" and f"cache: {result.cache_dir}" in made.output
    assert decodes["n"] == 0 and result.decoded == 0 and result.reused == 2
