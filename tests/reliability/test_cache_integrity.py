"""Damaged and partial caches (issue 11): verify names the file, extract repairs it, readers give one line.

A cache of 12 `zsar synth` clips (4 classes), tiny-random backbone and text, 2 videos per
shard, is extracted once; each test damages a copy of it.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from _extract_data import assert_same_cache, cache_dir_of, make_synth, read_cache
from _faults import copy_cache_root, error_line, extract_args, invoke, train_args
from zsar.cache.features import load_text

N_VIDEOS = 12


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=4, per_class=3)


@pytest.fixture(scope="module")
def original(synth, tmp_path_factory):
    """The intact cache root and its cache folder's contents."""
    root = tmp_path_factory.mktemp("original")
    result = invoke(*extract_args(synth, root))
    assert result.exit_code == 0, result.output
    cache_dir = cache_dir_of(result.output)
    return root, read_cache(cache_dir), load_text(cache_dir).embeddings


@pytest.fixture
def cache(original, tmp_path):
    """A fresh copy of the intact cache: ``(cache root, cache folder)``."""
    root = tmp_path / "cache"
    return root, copy_cache_root(original[0], root)


def _repaired(synth, root, cache_dir, original) -> None:
    """`zsar extract` with the same settings repairs: verify is ok and the arrays are bit-identical."""
    result = invoke(*extract_args(synth, root))
    assert result.exit_code == 0, result.output
    verify = invoke("cache", "verify", cache_dir)
    assert verify.exit_code == 0, verify.output
    assert verify.output.startswith(f"ok: 6 shards, {N_VIDEOS} videos verified"), verify.output
    assert_same_cache(read_cache(cache_dir), original[1])
    assert np.array_equal(load_text(cache_dir).embeddings, original[2])


def test_a_partial_cache_is_refused_and_a_run_follows_the_cache_as_it_fills(synth, tmp_path):
    root, out = tmp_path / "cache", tmp_path / "run"
    rank1 = invoke(*extract_args(synth, root, "--shard", "1/3"))
    assert rank1.exit_code == 0, rank1.output
    cache_dir = cache_dir_of(rank1.output)
    line = error_line(invoke(*train_args(cache_dir, out)))
    assert line == (f"error: feature cache {cache_dir} is incomplete: 8 of 12 videos not extracted yet (rank 0: "
                    "0 of 4, rank 2: 0 of 4; world size 3); run `zsar extract` with the same settings and "
                    "--shard 0/3 and --shard 2/3 to finish it, or pass --allow-partial to use the 4 video(s) it has")
    assert not out.exists()
    partial = invoke(*train_args(cache_dir, out, "--allow-partial"))
    assert partial.exit_code == 0, partial.output
    notes = json.loads((out / "metrics.json").read_text())["notes"]
    assert any("is incomplete: 8 of 12 videos" in n and "used the 4 video(s) it has" in n for n in notes)
    raw = json.loads(invoke("metrics", "--features", cache_dir, "--json").stdout)
    assert any("is incomplete: 8 of 12 videos" in n and "measured the 4 video(s) it has" in n for n in raw["notes"])
    verify = invoke("cache", "verify", cache_dir)
    assert verify.output.strip().endswith("; incomplete: 8 of 12 videos not extracted yet (rank 0: 0 of 4, "
                                          "rank 2: 0 of 4; world size 3)")
    for rank in ("0/3", "2/3"):
        assert invoke(*extract_args(synth, root, "--shard", rank)).exit_code == 0
    again = error_line(invoke(*train_args(cache_dir, out, "--allow-partial")))
    assert again.startswith(f"error: --out {out} holds a run with other settings (features.videos: ")
    full = invoke(*train_args(cache_dir, tmp_path / "full"))
    assert full.exit_code == 0, full.output
    notes = json.loads((tmp_path / "full" / "metrics.json").read_text()).get("notes", [])
    assert not any("incomplete" in n for n in notes)


def test_a_truncated_text_file_is_named_refused_and_encoded_again(synth, cache, original, tmp_path):
    root, cache_dir = cache
    text = next((cache_dir / "text").glob("*.h5"))
    os.truncate(text, 3000)
    verify = invoke("cache", "verify", cache_dir)
    assert verify.exit_code == 1
    assert verify.output.startswith(f"text embeddings text/{text.name} does not match its checksum file "
                                    f"text/{text.name}.sha256; `zsar extract` with the same settings")
    line = error_line(invoke(*train_args(cache_dir, tmp_path / "run")))
    assert line.startswith(f"error: text embeddings text/{text.name} does not match its checksum file")
    _repaired(synth, root, cache_dir, original)


@pytest.mark.parametrize("content,fault", [("[1, 2, 3]\n", "is damaged: a JSON list, not an object"),
                                           ("{\"key\": \n", "is damaged: not valid JSON (Expecting value"),
                                           (None, "is missing; run `zsar extract`")])
def test_a_damaged_config_is_named_by_every_command_and_rewritten(synth, cache, original, tmp_path, content, fault):
    root, cache_dir = cache
    if content is None:
        (cache_dir / "config.json").unlink()
    else:
        (cache_dir / "config.json").write_text(content)
    expected = f"{cache_dir / 'config.json'} {fault}"
    verify = invoke("cache", "verify", cache_dir)
    assert verify.exit_code == 1 and verify.output.startswith(expected), verify.output
    for args in (["cache", "info", cache_dir], train_args(cache_dir, tmp_path / "run"),
                 ["metrics", "--features", cache_dir]):
        assert error_line(invoke(*args)).startswith(f"error: {expected}")
    listed = invoke("cache", "ls", "--cache", root)
    assert listed.exit_code == 0 and f"damaged: {cache_dir}: {expected}" in listed.output
    assert "0 cache(s) under" in listed.output and "1 damaged" in listed.output
    _repaired(synth, root, cache_dir, original)


def test_a_config_of_another_schema_version_is_refused(cache):
    _, cache_dir = cache
    path = cache_dir / "config.json"
    path.write_text(path.read_text().replace('"schema_version": 1', '"schema_version": 7'))
    line = error_line(invoke("cache", "info", cache_dir))
    assert line == (f"error: {path} has schema version 7, this zsar reads version 1; extract the cache again "
                    "with this zsar (or read it with the zsar that wrote it)")


def test_an_edited_config_fails_its_checksum(cache):
    _, cache_dir = cache
    path = cache_dir / "config.json"
    path.write_text(path.read_text().replace('"feature_dim": 32', '"feature_dim": 33'))
    assert error_line(invoke("cache", "info", cache_dir)) == (
        f"error: {path} is damaged: its content does not match its checksum; run `zsar extract` with the "
        "settings that made the cache to rewrite it")


def test_a_garbage_manifest_is_named_and_repaired(synth, cache, original, tmp_path):
    root, cache_dir = cache
    (cache_dir / "manifest-000.parquet").write_bytes(b"garbage\n")
    expected = ("manifest file manifest-000.parquet does not match its checksum file manifest-000.parquet.sha256; "
                "`zsar extract` of rank 0 with the same settings drops it and extracts its videos again")
    verify = invoke("cache", "verify", cache_dir)
    assert verify.exit_code == 1 and verify.output.splitlines()[0] == expected
    for args in (["cache", "info", cache_dir], train_args(cache_dir, tmp_path / "run")):
        assert error_line(invoke(*args)) == f"error: {expected}"
    _repaired(synth, root, cache_dir, original)


def test_a_truncated_shard_read_before_the_repair_is_one_line(synth, cache, original, tmp_path):
    root, cache_dir = cache
    shard = cache_dir / "shards" / "shard-000-000001.h5"
    os.truncate(shard, shard.stat().st_size // 2)
    line = error_line(invoke(*train_args(cache_dir, tmp_path / "run")))
    assert line.startswith(f"error: shard shard-000-000001.h5 of {cache_dir} is damaged (")
    assert line.endswith("run `zsar cache verify` and `zsar extract` again with the same settings to repair it")
    _repaired(synth, root, cache_dir, original)


def test_metrics_given_a_cache_folder_points_to_features(cache):
    _, cache_dir = cache
    assert error_line(invoke("metrics", cache_dir)) == (
        f"error: {cache_dir} is a feature cache, not a run; measure it with `zsar metrics --features {cache_dir}`, "
        "or pass the --out folder of `zsar train-head`")


def test_a_cache_whose_videos_all_failed_names_them_and_retry_failed(tmp_path):
    root = tmp_path / "videos"
    for name in ("run", "walk"):
        (root / name).mkdir(parents=True)
        (root / name / "a.avi").write_text("not a video\n" * 20)
    extracted = invoke("extract", "--dataset", "folder", "--root", root, "--backbone", "tiny-random",
                       "--text-encoder", "tiny-random", "--prompts", "plain", "--cache", tmp_path / "cache",
                       "--workers", "0")
    assert error_line(extracted).startswith("error: all 2 video(s) failed to decode (e.g. run/a: ")
    cache_dir = next((tmp_path / "cache").glob("features/*/*"))
    line = error_line(invoke(*train_args(cache_dir, tmp_path / "run")))
    assert line.startswith(f"error: all 2 video(s) in {cache_dir} failed to decode (e.g. run/a: cannot open video")
    assert line.endswith("fix or replace the files under the dataset root and run `zsar extract` with the same "
                         "settings and --retry-failed")
