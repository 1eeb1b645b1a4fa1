"""`zsar extract` end to end on tiny synthetic videos: manifest rows, shard arrays, adapters, CLI."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from _extract_data import (TINY, assert_same_cache, cache_dir_of, loaded_video, make_synth, make_ucf_from_synth,
                          read_cache)
from zsar.cache.features import load_features, load_text
from zsar.cache.config import read_cache_config
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import read_manifest
from zsar.cache.shards import ShardReader
from zsar.cli import app
from zsar.extract.extractor import ExtractConfig, extract, limit_records
from zsar.extract.batcher import encode_videos
from zsar.extract.sampling import SamplingConfig, sample_indices

runner = CliRunner()
N_CLASSES, PER_CLASS, FRAMES = 3, 3, 16


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), N_CLASSES, PER_CLASS, FRAMES)


@pytest.fixture(scope="module")
def synth_cache(synth, tmp_path_factory):
    """The synthetic set extracted once by the CLI (tiny-random + minilm), shared by several tests."""
    cache = tmp_path_factory.mktemp("cache")
    result = runner.invoke(app, ["extract", "--dataset", "synthetic", "--root", str(synth), "--backbone",
                                 "tiny-random", "--text-encoder", "minilm", "--cache", str(cache),
                                 "--videos-per-shard", "4", "--batch-size", "5", "--workers", "1"])
    assert result.exit_code == 0, result.output
    return cache_dir_of(result.output), result.output


def test_synthetic_manifest_has_one_ok_row_per_clip_with_its_label(synth, synth_cache):
    cache_dir, output = synth_cache
    assert f"videos: {N_CLASSES * PER_CLASS} ok, 0 failed, 0 already in the cache" in output
    table = read_manifest(CacheLayout(cache_dir)).to_pylist()
    clips = sorted((synth / "videos").glob("*/*.avi"))
    assert [r["video_id"] for r in table] == [f"{p.parent.name}/{p.stem}" for p in clips]
    config = read_cache_config(CacheLayout(cache_dir))
    for row in table:
        assert row["status"] == "ok" and row["error"] == ""
        assert row["label"] == row["video_id"].split("/")[0]
        assert config.class_names[row["label_index"]] == row["label"]
        assert (row["n_frames"], row["fps"]) == (FRAMES, 25.0)
        assert row["split1"] in ("train", "test")
        assert (synth / row["path"]).is_file()  # stored relative to the dataset root
    assert [r["video_row"] for r in table] == list(range(len(clips)))


def test_shard_arrays_have_the_documented_shapes_and_dtypes(synth_cache):
    cache_dir, _ = synth_cache
    shards = sorted((cache_dir / "shards").glob("*.h5"))
    assert [p.name for p in shards] == ["shard-000-000000.h5", "shard-000-000001.h5", "shard-000-000002.h5"]
    with ShardReader(shards[0]) as reader:
        assert reader.read("features").shape == (4, 1, 8, 32) and reader.read("features").dtype == np.float16
        frame_index = reader.read("frame_index")
        assert frame_index.shape == (4, 1, 8) and frame_index.dtype == np.int64
        expected = sample_indices(FRAMES, SamplingConfig())
        assert (frame_index == expected).all()
        assert np.allclose(reader.read("timestamps"), expected / 25.0)
        assert reader.read("video_row").tolist() == [0, 1, 2, 3]
        assert reader.attrs["cache_key"] == cache_dir.name.rsplit("-", 1)[1]
    features = load_features(cache_dir)
    assert features.features.shape == (N_CLASSES * PER_CLASS, 1, 8, 32)
    assert np.isfinite(features.features).all() and features.features.std() > 0
    text = load_text(cache_dir)
    assert text.embeddings.shape == (N_CLASSES, 16, 384) and text.class_names == features.class_names


def test_hmdb51_adapter_on_the_synthetic_set_gives_the_same_features(synth, synth_cache, tmp_path):
    result = extract(ExtractConfig(dataset="hmdb51", root=synth, backbone="tiny-random", text_encoder="none",
                                   cache=tmp_path, videos_per_shard=2, batch_size=3, workers=0))
    assert (result.ok, result.failed) == (N_CLASSES * PER_CLASS, 0)
    assert result.cache_dir.parent.name == "hmdb51"
    assert_same_cache(read_cache(result.cache_dir), read_cache(synth_cache[0]))


def test_ucf101_layout(synth, tmp_path):
    root, names = make_ucf_from_synth(synth, tmp_path / "ucf")
    result = runner.invoke(app, ["extract", "--dataset", "ucf101", "--root", str(root), *TINY,
                                 "--cache", str(tmp_path / "c"), "--workers", "0"])
    assert result.exit_code == 0, result.output
    cache_dir = cache_dir_of(result.output)
    rows = read_manifest(CacheLayout(cache_dir)).to_pylist()
    assert len(rows) == N_CLASSES * PER_CLASS and {r["status"] for r in rows} == {"ok"}
    assert {r["label"] for r in rows} == set(names)
    assert all(r["video_id"].startswith(f"{r['label']}/v_{r['label']}_g") for r in rows)
    assert {r["split1"] for r in rows} == {"train", "test"}
    assert load_features(cache_dir).features.shape == (N_CLASSES * PER_CLASS, 1, 8, 32)
    assert load_text(cache_dir).embeddings.shape == (N_CLASSES, 1, 16)


def test_limit_spreads_over_classes_and_dense_multi_clip_shapes(synth, tmp_path):
    result = extract(ExtractConfig(
        dataset="synthetic", root=synth, backbone="tiny-random", text_encoder="none", cache=tmp_path, limit=3, workers=0,
        sampling=SamplingConfig(mode="dense", frames=4, clips=2, stride=3), resolution=40))
    features = load_features(result.cache_dir)
    assert features.features.shape == (3, 2, 4, 32)
    assert sorted(set(features.labels.tolist())) == [0, 1, 2]
    frame_index = read_cache(result.cache_dir)[features.video_ids[0]]["frame_index"]
    assert frame_index.tolist() == [[0, 3, 6, 9], [6, 9, 12, 15]]
    assert limit_records(list(range(10)), 4) == [0, 3, 6, 9]


def test_workers_do_not_change_the_numbers(synth, synth_cache, tmp_path):
    result = extract(ExtractConfig(dataset="synthetic", root=synth, backbone="tiny-random", text_encoder="none",
                                   cache=tmp_path, videos_per_shard=4, batch_size=5, workers=0))
    assert_same_cache(read_cache(result.cache_dir), read_cache(synth_cache[0]))


def test_cache_ls_and_info(synth_cache):
    cache_dir, _ = synth_cache
    root = cache_dir.parent.parent.parent
    ls = runner.invoke(app, ["cache", "ls", "--cache", str(root)])
    assert ls.exit_code == 0, ls.output
    line = next(line for line in ls.output.splitlines() if line.startswith("synthetic"))
    fields = line.split()
    assert fields[:5] == ["synthetic", "tiny-random", "uniform8x1", "9", "0"]
    assert fields[-2:] == ["1", str(cache_dir)] and "1 cache(s)" in ls.output  # one text file; the path to copy
    info = runner.invoke(app, ["cache", "info", str(cache_dir)])
    assert info.exit_code == 0, info.output
    assert "videos:    9 ok, 0 failed, 9 in the list" in info.output
    assert "backbone:  tiny-random (tiny-random:seed0), D=32" in info.output
    verify = runner.invoke(app, ["cache", "verify", str(cache_dir)])
    assert verify.exit_code == 0 and verify.output.strip() == "ok: 3 shards, 9 videos verified"
    empty = runner.invoke(app, ["cache", "ls", "--cache", str(root / "nothing")])
    assert empty.exit_code == 0 and "no feature caches" in empty.output


def test_encode_videos_batches_clips_across_videos_in_order():
    batches = []

    def encode(frames):
        batches.append(frames.shape[0])
        return frames[:, :, 0, 0, :1].float()  # (B, T, 1): the video's position

    clips = [3, None, 1, 4, None, 2]
    out = list(encode_videos((loaded_video(i, c) for i, c in enumerate(clips)), encode, batch_size=4))
    assert [o.item.position for o in out] == list(range(6))
    assert batches == [4, 4, 2]
    for o, c in zip(out, clips):
        if c is None:
            assert o.features is None and o.item.error == "broken"
        else:
            assert o.features.shape == (c, 2, 1) and (o.features == o.item.position).all()
