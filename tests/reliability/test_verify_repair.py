"""A flipped byte and a deleted shard: `zsar cache verify` names them; the next `zsar extract` repairs them."""

from __future__ import annotations

import pytest

from _extract_data import TINY, assert_same_cache, cache_dir_of, make_synth, read_cache, run_zsar

ARGS = ["--videos-per-shard", "3", "--workers", "0", "--threads", "1"]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=3, per_class=3)


def test_verify_finds_damage_and_extract_repairs_it(synth, tmp_path):
    args = ["extract", "--dataset", "synthetic", "--root", str(synth), *TINY, "--cache", str(tmp_path), *ARGS]
    first = run_zsar(*args)
    assert first.returncode == 0, first.stderr
    cache_dir = cache_dir_of(first.stdout)
    original = read_cache(cache_dir)
    ok = run_zsar("cache", "verify", str(cache_dir))
    assert ok.returncode == 0 and ok.stdout.strip() == "ok: 3 shards, 9 videos verified"

    flipped, deleted = cache_dir / "shards" / "shard-000-000001.h5", cache_dir / "shards" / "shard-000-000002.h5"
    data = bytearray(flipped.read_bytes())
    data[len(data) // 2] ^= 0x01
    flipped.write_bytes(bytes(data))
    deleted.unlink()
    (cache_dir / "shards" / ".shard-000-000005.h5.999999999.tmp").write_bytes(b"half a shard")
    bad = run_zsar("cache", "verify", str(cache_dir))
    assert bad.returncode == 1
    lines = bad.stdout.strip().splitlines()
    assert lines[0].startswith("shard shard-000-000001.h5 fails its checksum (recorded ")
    assert lines[1] == "shard shard-000-000002.h5 is missing (3 videos point to it)"
    assert lines[2].startswith("leftover temporary file shards/.shard-000-000005.h5.999999999.tmp")
    assert len(lines) == 3 and "3 problem(s)" in bad.stderr

    repair = run_zsar(*args)
    assert repair.returncode == 0, repair.stderr
    assert "videos: 6 ok, 0 failed, 3 already in the cache" in repair.stdout
    assert "shard shard-000-000001.h5 fails its checksum" in repair.stderr  # logged as the reason
    fixed = run_zsar("cache", "verify", str(cache_dir))
    assert fixed.returncode == 0 and fixed.stdout.strip() == "ok: 3 shards, 9 videos verified"
    assert_same_cache(read_cache(cache_dir), original)


def test_unreadable_manifest_is_reported(synth, tmp_path):
    first = run_zsar("extract", "--dataset", "synthetic", "--root", str(synth), *TINY, "--cache", str(tmp_path), *ARGS)
    cache_dir = cache_dir_of(first.stdout)
    (cache_dir / "manifest" / "part-000-000007.parquet").write_bytes(b"not parquet")
    bad = run_zsar("cache", "verify", str(cache_dir))
    assert bad.returncode == 1
    assert bad.stdout.startswith("manifest file manifest/part-000-000007.parquet has no checksum file "
                                 "manifest/part-000-000007.parquet.sha256; `zsar extract` of rank 0 ")
    missing = run_zsar("cache", "verify", str(tmp_path / "nope"))
    assert missing.returncode == 2 and missing.stderr.startswith("error: feature cache ")
