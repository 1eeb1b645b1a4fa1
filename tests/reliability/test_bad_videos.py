"""Corrupt, empty, truncated and non-video files become failed rows; the run finishes and counts them."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from _extract_data import TINY, cache_dir_of, make_synth, read_cache, run_zsar
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import read_manifest

# A file no decoder reads fails with every decoder's message (--decoder auto: PyAV, then decord); an AVI cut inside
# its header says so.
BAD = {"bad/zero_byte": "empty file (0 bytes)", "bad/not_a_video": "cannot open video: ",
       "bad/truncated": "truncated or damaged: cannot open video: ",
       "bad/corrupt": "cannot open video: pyav: the file has no video stream; decord: "}


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """A `folder` dataset: 2 good classes from synth, and a class of broken files."""
    synth = make_synth(tmp_path_factory.mktemp("synth"), classes=2, per_class=2)
    root = tmp_path_factory.mktemp("folder")
    for video in (synth / "videos").glob("*/*.avi"):
        (root / video.parent.name).mkdir(exist_ok=True)
        shutil.copy(video, root / video.parent.name / video.name)
    good = sorted(root.glob("*/*.avi"))[0].read_bytes()
    bad = root / "bad"
    bad.mkdir()
    (bad / "zero_byte.avi").write_bytes(b"")
    (bad / "not_a_video.mp4").write_text("this is a text file, not a video\n" * 20)
    (bad / "truncated.avi").write_bytes(good[:3000])         # cut inside the AVI header lists
    damaged = bytearray(good)
    damaged[100:4000] = np.random.default_rng(0).integers(0, 256, 3900, dtype=np.uint8).tobytes()
    (bad / "corrupt.avi").write_bytes(bytes(damaged))         # stream headers overwritten
    only_bad = tmp_path_factory.mktemp("only_bad")
    shutil.copytree(bad, only_bad / "bad")
    return root, only_bad


def test_failed_rows_with_the_decoder_message_and_a_count(folders, tmp_path):
    root, _ = folders
    result = run_zsar("extract", "--dataset", "folder", "--root", str(root), *TINY, "--cache", str(tmp_path),
                      "--workers", "1")
    assert result.returncode == 0, result.stderr
    assert "videos: 4 ok, 4 failed, 0 already in the cache" in result.stdout
    assert "4 video(s) could not be decoded" in result.stderr and "Traceback" not in result.stderr
    cache_dir = cache_dir_of(result.stdout)
    rows = {r["video_id"]: r for r in read_manifest(CacheLayout(cache_dir)).to_pylist()}
    for vid, message in BAD.items():
        assert rows[vid]["status"] == "failed" and rows[vid]["shard"] == "" and rows[vid]["row"] == -1
        assert rows[vid]["error"].startswith(message), rows[vid]["error"]
        assert vid == "bad/zero_byte" or ("pyav: " in rows[vid]["error"] and "; decord: " in rows[vid]["error"])
    ok = [r for r in rows.values() if r["status"] == "ok"]
    assert len(ok) == 4 and all(r["shard"] for r in ok)
    assert {v["status"] for v in read_cache(cache_dir).values()} == {"ok", "failed"}
    # failed videos are recorded, not retried on the next run ...
    again = run_zsar("extract", "--dataset", "folder", "--root", str(root), *TINY, "--cache", str(tmp_path))
    assert again.returncode == 0 and "0 ok, 0 failed, 8 already in the cache" in again.stdout
    # ... unless asked: the chunk holding them is extracted again
    retry = run_zsar("extract", "--dataset", "folder", "--root", str(root), *TINY, "--cache", str(tmp_path),
                     "--retry-failed", "--workers", "0")
    assert retry.returncode == 0 and "videos: 4 ok, 4 failed, 0 already" in retry.stdout


def test_every_video_failing_is_an_error(folders, tmp_path):
    _, only_bad = folders
    result = run_zsar("extract", "--dataset", "folder", "--root", str(only_bad), *TINY, "--cache", str(tmp_path))
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("error: all 4 video(s) failed to decode (e.g. bad/corrupt: cannot open video: pyav: the file has no video stream")
    assert "Traceback" not in result.stderr
    rows = read_manifest(CacheLayout(next(tmp_path.glob("features/*/*"))))
    assert rows.num_rows == 4 and set(rows.column("status").to_pylist()) == {"failed"}
