"""Issue 31, the cache side: orphan shards removed, partial decodes counted, dangling symlinks named, stale videos seen.

Case 3 (orphan shards of any rank or index), case 4 (train-head's stat pass over the videos a
cache was made from), case 5 (partly decoded videos counted in extract's summary and `cache
info`) and case 9 (a dangling symlink in a `folder` dataset is a failed row naming its target).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from _extract_data import TINY, cache_dir_of, make_synth
from _faults import error_line, invoke, train_args
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import VideoCounts, read_manifest
from zsar.testing import write_planted_objects_cache

pytestmark = pytest.mark.usefixtures("single_thread")


def _extract(root: Path, cache: Path, *extra: str, dataset: str = "synthetic"):
    result = invoke("extract", "--dataset", dataset, "--root", str(root), *TINY, "--cache", str(cache),
                    "--workers", "0", "--threads", "1", "--videos-per-shard", "2", *extra)
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> Path:
    return make_synth(tmp_path_factory.mktemp("synth"), classes=3, per_class=2)


# --- case 3: orphan shards ----------------------------------------------------------------------------

@pytest.mark.parametrize("orphan, world", [
    ("shard-000-000007.h5", 1),  # an index past the 3 chunks of a 1-rank cache
    ("shard-001-000000.h5", 1),  # a rank a 1-rank cache does not have
    ("shard-005-000001.h5", 2),  # a rank past a 2-rank cache's: rank 0 owns it, rank 1 leaves it alone
])
def test_extract_removes_orphan_shards_of_any_rank_or_index_and_verify_then_passes(synth, tmp_path, orphan, world):
    ranks = [("--shard", f"{r}/{world}") for r in range(world)] if world > 1 else [()]
    cache_dir = cache_dir_of(_extract(synth, tmp_path / "cache", *ranks[-1]).output)
    for rank in ranks[:-1]:
        _extract(synth, tmp_path / "cache", *rank)
    shutil.copy(cache_dir / "shards" / "shard-000-000000.h5", cache_dir / "shards" / orphan)
    verify = invoke("cache", "verify", cache_dir)
    assert verify.exit_code == 1
    assert verify.stdout.splitlines() == [
        f"orphan shard {orphan}: no manifest row names it (its manifest file is gone, or a run was killed before "
        "writing it); the next `zsar extract` of rank 0 removes it (no chunk of this cache is written to it)"]
    for rank in ranks[1:]:  # other ranks leave it to rank 0
        assert "removed orphan shard" not in _extract(synth, tmp_path / "cache", *rank).output
        assert (cache_dir / "shards" / orphan).is_file()
    repair = _extract(synth, tmp_path / "cache", *ranks[0])
    assert (f"removed orphan shard {orphan}: no manifest row names it and no chunk of this cache is written to it"
            in repair.output)
    assert not (cache_dir / "shards" / orphan).exists()
    fixed = invoke("cache", "verify", cache_dir)
    assert fixed.exit_code == 0 and fixed.stdout.startswith("ok: 3 shards, 6 videos verified"), fixed.output


def test_an_orphan_of_a_chunk_still_to_extract_is_written_over(synth, tmp_path):
    cache_dir = cache_dir_of(_extract(synth, tmp_path / "cache").output)
    for path in cache_dir.glob("manifest-000.parquet*"):
        path.unlink()
    lines = invoke("cache", "verify", cache_dir).stdout.splitlines()
    assert lines[0].endswith("the next `zsar extract` of rank 0 extracts its videos again over it")
    _extract(synth, tmp_path / "cache")
    assert sorted(p.name for p in (cache_dir / "shards").iterdir()) == [
        "shard-000-000000.h5", "shard-000-000001.h5", "shard-000-000002.h5"]
    assert invoke("cache", "verify", cache_dir).exit_code == 0


# --- case 5: partly decoded videos are counted ------------------------------------------------------------

def test_extract_summary_and_cache_info_count_partly_decoded_videos(tmp_path):
    root = make_synth(tmp_path / "synth", classes=2, per_class=2, frames=48)
    cache_dir = cache_dir_of(_extract(root, tmp_path / "cache").output)
    video = sorted((root / "videos").rglob("*.avi"))[0]
    data = video.read_bytes()
    video.write_bytes(data[:int(len(data) * 0.6)])  # a new size: its chunk is extracted again
    again = _extract(root, tmp_path / "cache")
    assert "videos: 1 ok, 1 partly decoded, 0 failed, 2 already in the cache" in again.output
    assert "1 video(s) were only partly decoded (a note in their manifest rows; train-head leaves them out)" \
        in again.output
    info = invoke("cache", "info", cache_dir)
    assert "videos:    3 ok, 1 partly decoded, 0 failed, 4 in the list" in info.output
    listed = invoke("cache", "ls", "--cache", tmp_path / "cache").output.splitlines()
    assert listed[0].split()[3:6] == ["ok", "partial", "failed"] and listed[1].split()[3:6] == ["3", "1", "0"]


def test_video_counts_count_a_fallback_decoder_note_as_ok():
    counts = VideoCounts.of(["ok", "ok", "ok", "failed"],
                            ["", "partly decoded: 3 of the 16 frames its container claims",
                             "read by PyAV after decord failed: cannot open video: x", "file not found: x"])
    assert counts == VideoCounts(ok=2, partial=1, failed=1) and counts.total == 4
    assert counts.describe() == "2 ok, 1 partly decoded, 1 failed"
    assert VideoCounts(ok=3).describe() == "3 ok, 0 failed"


# --- case 9: dangling symlinks in a folder dataset ---------------------------------------------------------

def test_dangling_symlinks_in_a_folder_dataset_are_failed_rows_naming_their_target(synth, tmp_path):
    root = tmp_path / "folder"
    for video in sorted((synth / "videos").rglob("*.avi")):
        (root / video.parent.name).mkdir(parents=True, exist_ok=True)
        shutil.copy(video, root / video.parent.name / video.name)
    walk = sorted(root.iterdir())[0]
    gone = tmp_path / "unmounted" / "drive" / "clip.avi"
    os.symlink(gone, walk / "gone.avi")
    os.symlink("loop-b.avi", walk / "loop-a.avi")
    os.symlink("loop-a.avi", walk / "loop-b.avi")
    result = _extract(root, tmp_path / "cache", dataset="folder")
    assert "videos: 6 ok, 3 failed, 0 already in the cache" in result.output
    rows = {r["video_id"]: r for r in read_manifest(CacheLayout(cache_dir_of(result.output))).to_pylist()}
    assert rows[f"{walk.name}/gone"]["status"] == "failed"
    assert rows[f"{walk.name}/gone"]["error"] == (
        f"file not found: {walk / 'gone.avi'} is a symlink to {gone}, which does not exist")
    assert rows[f"{walk.name}/loop-a"]["error"] == (
        f"file not found: {walk / 'loop-a.avi'} is a symlink to loop-b.avi, which leads back to itself (a loop)")


# --- case 4: stale features at train time -------------------------------------------------------------------

@pytest.fixture(scope="module")
def extracted(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("stale")
    root = make_synth(folder / "synth", classes=4, per_class=3)
    return root, cache_dir_of(_extract(root, folder / "cache").output)


def test_train_head_warns_of_a_video_changed_since_extraction_and_strict_refuses(extracted, tmp_path):
    root, cache_dir = extracted
    assert "changed since" not in invoke(*train_args(cache_dir, tmp_path / "clean", splits=1)).output
    video = sorted((root / "videos").rglob("*.avi"))[4]
    backup = video.read_bytes()
    try:
        video.write_bytes(backup + b"\0" * 100)  # replaced by another file: another size
        warned = invoke(*train_args(cache_dir, tmp_path / "run", splits=1))
        assert warned.exit_code == 0, warned.output
        expected = (f"1 video(s) changed since {cache_dir} was extracted (size or modification time differs): "
                    f"{video.parent.name}/{video.stem} ({video}); their features are stale: run `zsar extract` with "
                    "the same settings to extract them again")
        assert expected in warned.output
        assert expected in json.loads((tmp_path / "run" / "metrics.json").read_text())["notes"]
        strict = invoke(*train_args(cache_dir, tmp_path / "strict", "--strict", splits=1))
        assert error_line(strict) == f"error: {expected} (--strict)"
        assert not (tmp_path / "strict").exists()
    finally:
        video.write_bytes(backup)


def test_videos_that_cannot_be_reached_are_not_an_error(extracted, tmp_path):
    root, cache_dir = extracted
    moved = tmp_path / "elsewhere"
    shutil.copytree(cache_dir, moved)
    away = root.with_name("synth-away")
    root.rename(away)  # as a cache made on another machine: its dataset root is not here
    try:
        result = invoke(*train_args(moved, tmp_path / "run", "--strict", splits=1))
        assert result.exit_code == 0, result.output
        assert "changed since" not in result.output
    finally:
        away.rename(root)


# --- every cache file is checked: the object vocabulary too --------------------------------------------------

def test_verify_checks_the_object_vocabulary(tmp_path):
    cache_dir = write_planted_objects_cache(tmp_path / "c").layout.root
    assert invoke("cache", "verify", cache_dir).exit_code == 0
    vocabulary = next((cache_dir / "objects").glob("*.h5"))
    data = bytearray(vocabulary.read_bytes())
    data[len(data) // 2] ^= 0x01
    vocabulary.write_bytes(bytes(data))
    result = invoke("cache", "verify", cache_dir)
    assert result.exit_code == 1
    assert result.stdout.splitlines() == [
        f"object vocabulary objects/{vocabulary.name} does not match its checksum file objects/{vocabulary.name}.sha256; "
        "the next `zsar train-head` or `zsar predict` with the objects head builds it again"]
