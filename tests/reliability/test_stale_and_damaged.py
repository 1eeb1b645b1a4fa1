"""Issue 22, the six cases that gave a wrong result with no warning, and the upgrade of an older cache.

A cache of 12 `zsar synth` clips (4 classes, 16 frames), tiny-random backbone and text,
2 videos per shard, is extracted once; each test works on a copy of it (or of its videos).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from _extract_data import assert_same_cache, cache_dir_of, make_synth, read_cache
from _faults import copy_cache_root, error_line, extract_args, invoke, train_args
from zsar.cache.features import load_features
from zsar.cache.checksums import commit_with_checksum, file_problem
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import manifest_files, read_manifest
from zsar.runs.checkpoints import read_checkpoint
from zsar.errors import ZsarError
from zsar.files import temp_path
from zsar.synth import SynthConfig, generate_dataset

N_VIDEOS = 12
REPAIR = "run `zsar cache verify` and `zsar extract` again with the same settings to repair it"


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=4, per_class=3)


@pytest.fixture(scope="module")
def reseeded(tmp_path_factory):
    """The same dataset rendered with another seed: same ids, labels and splits, other pixels."""
    out = tmp_path_factory.mktemp("reseeded")
    generate_dataset(SynthConfig(classes=4, per_class=3, frames=16, width=64, height=64, seed=1), out)
    return out


@pytest.fixture(scope="module")
def original(synth, tmp_path_factory):
    """The intact cache root, and the contents of its cache folder."""
    root = tmp_path_factory.mktemp("original")
    result = invoke(*extract_args(synth, root))
    assert result.exit_code == 0, result.output
    return root, read_cache(cache_dir_of(result.output))


@pytest.fixture
def cache(original, tmp_path):
    """A fresh copy of the intact cache: ``(cache root, cache folder)``."""
    root = tmp_path / "cache"
    return root, copy_cache_root(original[0], root)


def _copy_dataset(source: Path, to: Path) -> Path:
    shutil.copytree(source, to)
    return to


def _extract(root: Path, cache_root: Path, *extra: str) -> str:
    result = invoke(*extract_args(root, cache_root, *extra))
    assert result.exit_code == 0, result.output
    return result.output


# --- readers check what they read -----------------------------------------------------------------

def test_a_bit_flipped_in_a_shards_feature_values_is_refused_by_every_reader(cache, tmp_path):
    """Bad case 1: verify saw it, but train-head ran (rc 0) and metrics --features gave other numbers."""
    _, cache_dir = cache
    shard = cache_dir / "shards" / "shard-000-000001.h5"
    with h5py.File(shard, "r") as f:
        offset = f["features"].id.get_offset()  # the first byte of the feature values
    data = bytearray(shard.read_bytes())
    data[offset + 37] ^= 0x04
    shard.write_bytes(bytes(data))
    expected = f"error: shard shard-000-000001.h5 of {cache_dir} fails its content check"
    train = error_line(invoke(*train_args(cache_dir, tmp_path / "run")))
    assert train.startswith(expected) and train.endswith(REPAIR)
    assert error_line(invoke("metrics", "--features", cache_dir)).startswith(expected)
    assert not (tmp_path / "run").exists()


def test_two_valid_shards_swapped_are_refused(cache, tmp_path):
    """Bad case 2: `mv` 1 <-> 4 attached features to other videos and labels, rc 0."""
    _, cache_dir = cache
    one, four = cache_dir / "shards" / "shard-000-000001.h5", cache_dir / "shards" / "shard-000-000004.h5"
    one.rename(tmp_path / "swap")
    four.rename(one)
    (tmp_path / "swap").rename(four)
    line = error_line(invoke(*train_args(cache_dir, tmp_path / "run")))
    assert line.startswith(f"error: shard shard-000-000001.h5 of {cache_dir} fails its content check") \
        and "another shard put in its place" in line and line.endswith(REPAIR)
    assert invoke("cache", "verify", cache_dir).exit_code == 1


def test_manifest_rows_that_point_at_other_videos_of_a_sound_shard_are_refused(cache):
    """The identity check on its own: the shard matches its digest, but two rows point at each other's video."""
    _, cache_dir = cache
    layout = CacheLayout(cache_dir)
    path = layout.manifest_path(0)
    table = pq.read_table(path)
    rows = table.column("row").to_pylist()
    first = table.column("shard").to_pylist().index("shard-000-000002.h5")
    rows[first], rows[first + 1] = rows[first + 1], rows[first]
    table = table.set_column(table.schema.get_field_index("row"), "row", pa.array(rows, type=pa.int64()))
    tmp = temp_path(path)
    pq.write_table(table, tmp)
    commit_with_checksum(tmp, path)
    with pytest.raises(ZsarError, match=r"^shard shard-000-000002.h5 of .* holds other videos than the manifest rows "
                                        r"that point to it \(shards renamed or swapped\); run `zsar cache verify`"):
        load_features(cache_dir)


def test_a_truncated_checkpoint_is_found_by_metrics_and_redone_by_train_head(cache, tmp_path):
    """Bad case 3: metrics gave rc 0 and a re-run kept the broken checkpoint."""
    _, cache_dir = cache
    run = tmp_path / "run"
    assert invoke(*train_args(cache_dir, run)).exit_code == 0
    checkpoint = run / "split-1" / "checkpoint.pt"
    whole = read_checkpoint(checkpoint).state_dict
    before = json.loads((run / "metrics.json").read_text())
    with open(checkpoint, "r+b") as f:
        f.truncate(100)
    line = error_line(invoke("metrics", run))
    assert line == (f"error: run {run}: split-1/checkpoint.pt does not match its checksum file "
                    "split-1/checkpoint.pt.sha256; re-run the same `zsar train-head` command (same --out) to redo it")
    again = invoke(*train_args(cache_dir, run))
    assert again.exit_code == 0, again.output
    assert file_problem(checkpoint, run) is None  # redone, with its checksum file
    redone = read_checkpoint(checkpoint).state_dict
    assert all(np.array_equal(redone[k].numpy(), whole[k].numpy()) for k in whole)
    assert json.loads((run / "metrics.json").read_text())["splits"] == before["splits"]
    assert invoke("metrics", run).exit_code == 0


# --- the cache follows the videos -------------------------------------------------------------------

def test_a_second_root_with_the_same_ids_is_extracted_again_and_its_corrupt_videos_fail(
        original, reseeded, tmp_path):
    """Bad case 4: another root with the same video ids kept the first root's features, corrupt ones 'ok'."""
    root = _copy_dataset(reseeded, tmp_path / "second")
    corrupt = sorted((root / "videos").rglob("*.avi"))[:2]
    for path in corrupt:
        path.write_bytes(b"not a video at all" * 10)
    cache_root = tmp_path / "cache"
    shutil.copytree(original[0], cache_root)
    out = _extract(root, cache_root)
    assert f"{N_VIDEOS - 2} ok, 2 failed, 0 already in the cache" in out
    cache_dir = cache_dir_of(out)
    assert json.loads((cache_dir / "config.json").read_text())["root"] == str(root.absolute())
    fresh = cache_dir_of(_extract(root, tmp_path / "fresh"))
    assert_same_cache(read_cache(cache_dir), read_cache(fresh))
    failed = {Path(r["path"]).name for r in read_manifest(CacheLayout(cache_dir)).to_pylist() if r["status"] == "failed"}
    assert failed == {p.name for p in corrupt}


def test_an_unchanged_dataset_moved_to_another_root_is_reused_and_the_root_recorded(original, synth, tmp_path):
    root = tmp_path / "moved"
    shutil.copytree(synth, root, copy_function=shutil.copyfile)  # new files: new modification times
    cache_root = tmp_path / "cache"
    shutil.copytree(original[0], cache_root)
    out = _extract(root, cache_root)
    assert f"0 ok, 0 failed, {N_VIDEOS} already in the cache" in out
    cache_dir = cache_dir_of(out)
    assert json.loads((cache_dir / "config.json").read_text())["root"] == str(root.absolute())
    assert_same_cache(read_cache(cache_dir), original[1])
    table = read_manifest(CacheLayout(cache_dir))
    mtimes = {r["path"]: r["mtime_ns"] for r in table.to_pylist()}
    assert all(mtimes[p] == (root / p).stat().st_mtime_ns for p in mtimes)  # the new times are recorded
    assert invoke("cache", "verify", cache_dir).exit_code == 0


def test_the_same_root_rerendered_with_another_seed_is_extracted_again(synth, reseeded, tmp_path):
    """Bad case 5: the old features were reused and verify said ok."""
    root = _copy_dataset(synth, tmp_path / "data")
    cache_root = tmp_path / "cache"
    cache_dir = cache_dir_of(_extract(root, cache_root))
    old = read_cache(cache_dir)
    for video in (reseeded / "videos").rglob("*.avi"):
        shutil.copyfile(video, root / video.relative_to(reseeded))
    out = _extract(root, cache_root)
    assert f"{N_VIDEOS} ok, 0 failed, 0 already in the cache" in out
    now, fresh = read_cache(cache_dir), read_cache(cache_dir_of(_extract(reseeded, tmp_path / "fresh")))
    assert_same_cache(now, fresh)
    assert not all(np.array_equal(old[v]["features"], now[v]["features"]) for v in now)
    assert invoke("cache", "verify", cache_dir).exit_code == 0


def _move_one_video_to_the_other_half(root: Path) -> str:
    """Edit split 1: the first video listed as train (1) becomes test (2); returns its file name."""
    for split_file in sorted((root / "splits").glob("*_test_split1.txt")):
        lines = split_file.read_text().splitlines()
        for i, line in enumerate(lines):
            name, ident = line.split()
            if ident == "1":
                lines[i] = f"{name} 2 "
                split_file.write_text("\n".join(lines) + "\n")
                return name
    raise AssertionError("no training video in split 1")


def test_an_edited_split_file_refreshes_the_split_columns_and_a_run_made_before_says_so(original, synth, tmp_path):
    """Bad case 6: the manifest kept the old split, and a run made before did not notice."""
    root = _copy_dataset(synth, tmp_path / "data")
    cache_root = tmp_path / "cache"
    shutil.copytree(original[0], cache_root)
    cache_dir = cache_dir_of(_extract(root, cache_root))
    run = tmp_path / "run"
    assert invoke(*train_args(cache_dir, run)).exit_code == 0
    moved = _move_one_video_to_the_other_half(root)
    invoke_result = invoke("-v", *extract_args(root, cache_root))
    assert invoke_result.exit_code == 0, invoke_result.output
    rows = {Path(r["path"]).name: r for r in read_manifest(CacheLayout(cache_dir)).to_pylist()}
    assert rows[moved]["split1"] == "test"
    assert f"0 ok, 0 failed, {N_VIDEOS} already in the cache" in invoke_result.output
    assert "refreshed the split columns of 1 video(s) from the split files (no video decoded again)" \
        in invoke_result.output
    features = load_features(cache_dir)
    assert features.splits["split1"][features.video_ids.index(rows[moved]["video_id"])] == "test"
    assert_same_cache(read_cache(cache_dir), original[1])  # nothing decoded again
    line = error_line(invoke(*train_args(cache_dir, run)))
    assert line.startswith(f"error: --out {run} holds a run with other settings (features.videos_splits: ")
    assert "the split files of its cache changed since it ran" in line


# --- an upgraded zsar reads older caches and fingerprints them without decoding -------------------------

OLD_COLUMNS = ("video_id", "path", "label", "label_index", "video_row", "split1", "split2", "split3", "start", "end",
               "rank", "shard", "row", "shard_sha256", "n_frames", "fps", "duration", "status", "error")


def _strip_new_columns(layout: CacheLayout) -> None:
    """Rewrite every manifest file as the previous release wrote it: its 19 columns, and a checksum file."""
    for path in manifest_files(layout):
        table = pq.read_table(path).select(list(OLD_COLUMNS))
        tmp = temp_path(path)
        pq.write_table(table, tmp)
        commit_with_checksum(tmp, path)


def test_a_cache_of_the_previous_release_is_read_and_fingerprinted_without_decoding(
        original, synth, tmp_path, monkeypatch):
    cache_root = tmp_path / "cache"
    cache_dir = copy_cache_root(original[0], cache_root)
    layout = CacheLayout(cache_dir)
    _strip_new_columns(layout)
    assert pq.read_schema(layout.manifest_path(0)).names == list(OLD_COLUMNS)
    assert invoke("cache", "verify", cache_dir).exit_code == 0
    before = load_features(cache_dir)  # the shards are checked by their sha256 as they are read
    assert len(before) == N_VIDEOS

    import zsar.extract.loader as loader

    def no_decoding(*args, **kwargs):
        raise AssertionError("a video was decoded again")

    monkeypatch.setattr(loader, "decode_video", no_decoding)
    out = _extract(synth, cache_root)
    assert f"0 ok, 0 failed, {N_VIDEOS} already in the cache" in out
    table = read_manifest(layout)
    assert all(table.column("fingerprint").to_pylist()) and all(table.column("shard_digest").to_pylist())
    assert all(len(d) == 32 for d in table.column("content_digest").to_pylist())  # gained at this extract (issue 31)
    assert all(m > 0 for m in table.column("mtime_ns").to_pylist())
    after = load_features(cache_dir)
    assert np.array_equal(after.features, before.features) and after.video_ids == before.video_ids
    assert_same_cache(read_cache(cache_dir), original[1])
    assert invoke("cache", "verify", cache_dir).exit_code == 0
