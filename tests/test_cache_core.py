"""Round trips of the storage layer: shards, manifest parts and compaction, text, runs."""

import numpy as np
import pytest

from zsar.cache.features import load_features, load_text
from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cache.layout import CacheLayout, cache_key, config_differences
from zsar.cache.manifest import ManifestRow, compact_manifest, read_manifest, write_manifest_part
from zsar.runs.files import RunLayout, write_run_config
from zsar.runs.results import RunReader, SplitResult, write_predictions, write_split_result
from zsar.testing import dummy_run_config
from zsar.cache.shards import ShardReader, ShardWriter
from zsar.files import file_sha256
from zsar.errors import ZsarError
from zsar.testing import random_text


def test_cache_key_is_stable_and_order_free():
    assert cache_key({"a": 1, "b": [1, 2]}) == cache_key({"b": [1, 2], "a": 1})
    assert cache_key({"a": 1}) != cache_key({"a": 2})
    assert len(cache_key({})) == 12


def test_config_differences_name_each_setting():
    assert config_differences({"frames": 8, "x": 1}, {"frames": 16, "x": 1}) == ["frames: 8 -> 16"]


def test_shard_round_trip_and_checksum(tmp_path):
    path = tmp_path / "s.h5"
    feats = np.random.default_rng(0).normal(size=(3, 2, 4, 5))
    with ShardWriter(path, {"cache_key": "k"}) as w:
        for i in range(3):
            assert w.add(10 + i, feats[i], np.arange(8).reshape(2, 4), np.zeros((2, 4))) == i
        info = w.commit()
    assert info.n_rows == 3 and info.sha256 == file_sha256(path)
    with ShardReader(path) as r:
        assert r.read("features").dtype == np.float16
        np.testing.assert_allclose(r.read("features"), feats.astype(np.float16))
        np.testing.assert_array_equal(r.read("video_row"), [10, 11, 12])
        np.testing.assert_allclose(r.read("features", np.array([2, 0])), feats[[2, 0]].astype(np.float16))
        assert r.attrs["cache_key"] == "k"
    assert not list(tmp_path.glob(".*tmp"))


def test_shard_writer_left_by_an_error_leaves_nothing(tmp_path):
    path = tmp_path / "s.h5"
    with pytest.raises(RuntimeError):
        with ShardWriter(path) as w:
            w.add(0, np.zeros((1, 1, 2)), np.zeros((1, 1)), np.zeros((1, 1)))
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_manifest_parts_compaction_and_duplicate_parts(tmp_path):
    layout = CacheLayout(tmp_path / "c")
    layout.make_dirs()
    rows = lambda lo, hi: [ManifestRow(video_id=f"v{i}", path=f"v{i}.avi", label="a", label_index=0, video_row=i,
                                       shard="s", row=i - lo) for i in range(lo, hi)]
    write_manifest_part(layout, 1, 0, rows(0, 2))
    write_manifest_part(layout, 0, 0, rows(2, 4))
    assert read_manifest(layout).column("video_row").to_pylist() == [0, 1, 2, 3]
    compact_manifest(layout, 1)
    assert not layout.part_path(1, 0).exists() and layout.manifest_path(1).exists()
    # a kill between writing the compacted file and deleting the part: still each video once
    write_manifest_part(layout, 1, 0, rows(0, 2))
    assert read_manifest(layout).column("video_id").to_pylist() == ["v0", "v1", "v2", "v3"]
    assert read_manifest(layout, rank=0).num_rows == 2


def test_cache_from_arrays_round_trip(tmp_path):
    rng = np.random.default_rng(1)
    feats = rng.normal(size=(10, 1, 4, 6)).astype(np.float32)
    labels = rng.integers(0, 3, size=10)
    classes = ["brush_hair", "cartwheel", "catch"]
    split = ["train" if i % 3 else "test" for i in range(10)]
    write_cache_from_arrays(tmp_path / "c", feats, labels, classes, splits={"split1": split},
                            text=random_text(classes, prompts=3), shard_size=4)
    fs = load_features(tmp_path / "c")
    assert len(fs) == 10 and fs.features.shape == (10, 1, 4, 6)
    np.testing.assert_allclose(fs.features, feats.astype(np.float16))
    np.testing.assert_array_equal(fs.labels, labels)
    assert fs.class_names == classes and list(fs.splits["split1"]) == split
    assert len(list((tmp_path / "c" / "shards").glob("*.h5"))) == 3
    sub = fs.subset(fs.splits["split1"] == "test")
    assert len(sub) == 4 and sub.video_ids[0] == "video_000000"
    text = load_text(tmp_path / "c")
    assert text.embeddings.shape == (3, 3, 8)
    np.testing.assert_allclose(np.linalg.norm(text.mean, axis=1), 1.0, rtol=1e-6)
    assert text.subset(["catch", "brush_hair"]).class_texts == ["catch", "brush hair"]


def test_nan_features_are_named(tmp_path):
    feats = np.ones((3, 1, 2, 4), np.float32)
    feats[1, 0, 1, 2] = np.nan
    write_cache_from_arrays(tmp_path / "c", feats, np.array([0, 1, 0]), ["a", "b"])
    fs = load_features(tmp_path / "c")
    with pytest.raises(ZsarError, match=r"1 video\(s\) .* NaN/inf features \(video_000001\)"):
        fs.check_finite()


def test_missing_or_foreign_cache_is_a_clear_error(tmp_path):
    with pytest.raises(ZsarError, match="does not exist"):
        load_features(tmp_path / "nope")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ZsarError, match="not a zsar feature cache"):
        load_features(tmp_path / "empty")


def test_run_dir_round_trip(tmp_path):
    rng = np.random.default_rng(2)
    result = SplitResult(
        split=0, class_names=["a", "b", "c"], seen=np.array([True, False, False]),
        test_classes=np.array([1, 2]), prototypes=rng.normal(size=(2, 4)).astype(np.float32),
        test_embeddings=rng.normal(size=(5, 4)).astype(np.float32), test_labels=np.array([1, 2, 2, 1, 2]),
        test_video_ids=[f"v{i}" for i in range(5)], scores=np.array([[0.9, 0.1]] * 5, np.float32))
    write_run_config(RunLayout(tmp_path), dummy_run_config())
    write_split_result(tmp_path, result)
    write_predictions(tmp_path, [result])
    run = RunReader(tmp_path)
    back = run.splits()[0]
    assert back.class_names == ["a", "b", "c"] and back.test_video_ids[4] == "v4"
    np.testing.assert_array_equal(back.predictions()[:, 0], [1] * 5)
    assert back.train_embeddings is None
    import pyarrow.parquet as pq
    preds = pq.read_table(tmp_path / "predictions.parquet").to_pylist()
    assert preds[0]["pred_classes"] == ["b", "c"] and preds[0]["correct"] is True
    assert preds[1]["correct"] is False
