"""Extending a cache with other settings is refused, naming each difference and the fix."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from _extract_data import TINY, cache_dir_of, make_synth
from zsar.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    synth = make_synth(tmp_path_factory.mktemp("synth"), classes=2, per_class=3)
    root = tmp_path_factory.mktemp("cache")
    result = runner.invoke(app, ["-q", *_args(synth, root)])
    assert result.exit_code == 0, result.output
    return synth, root, cache_dir_of(result.output)


def _args(synth, cache, *extra):
    return ["extract", "--dataset", "synthetic", "--root", str(synth), *TINY, "--cache", str(cache),
            "--videos-per-shard", "2", "--workers", "0", *extra]


def _error(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ")
    return lines[0]


def test_other_videos_per_shard_or_world_size_is_refused(made):
    synth, root, cache_dir = made
    line = _error(runner.invoke(app, ["-q", *_args(synth, root, "--videos-per-shard", "4")]))
    assert line == (f"error: cache {cache_dir} was made with other settings (videos_per_shard: 2 -> 4); "
                    "rerun with the cache's values of --videos-per-shard, or pass another --cache root for a new cache")
    line = _error(runner.invoke(app, ["-q", *_args(synth, root, "--shard", "0/2")]))
    assert "(world_size: 1 -> 2)" in line and "--shard i/N (N)" in line


def test_other_label_text_is_added_beside_the_features(made, tmp_path):
    synth, root, cache_dir = made
    shards = {p.name: p.read_bytes() for p in (cache_dir / "shards").iterdir()}
    texts = sorted(p.name for p in (cache_dir / "text").iterdir())
    result = runner.invoke(app, ["-q", *_args(synth, root, "--prompts", "actionclip")])
    assert result.exit_code == 0, result.output
    assert cache_dir_of(result.output) == cache_dir and "6 already in the cache" in result.output
    added = sorted(set(p.name for p in (cache_dir / "text").iterdir()) - set(texts))
    assert len(added) == 2 and "actionclip" in added[0] and added[1] == f"{added[0]}.sha256"  # and its checksum
    assert {p.name: p.read_bytes() for p in (cache_dir / "shards").iterdir()} == shards


def test_cache_flag_pointing_at_a_cache_folder(made):
    synth, root, cache_dir = made
    # the same settings: it resumes into that folder
    same = runner.invoke(app, ["-q", *_args(synth, cache_dir)])
    assert same.exit_code == 0, same.output
    assert cache_dir_of(same.output) == cache_dir and "0 ok, 0 failed, 6 already in the cache" in same.output
    # other numbers: refused, listing what differs
    line = _error(runner.invoke(app, ["-q", *_args(synth, cache_dir, "--frames", "4")]))
    assert line.startswith(f"error: --cache {cache_dir} is a feature cache made with other settings (")
    assert "sampling: 'uniform8x1' -> 'uniform4x1'" in line and "pass the cache root" in line
    # nothing was written into it
    assert not list(cache_dir.glob("features"))
