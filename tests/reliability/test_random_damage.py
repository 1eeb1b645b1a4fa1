"""Random damage (issue 11): flip bytes in, truncate or delete one random file of a cache, 50 times.

Each time `zsar cache verify` must name the file, and `zsar extract` with the same
settings must restore a cache that verifies and whose features, frame indices, timestamps
and label text are bit-identical to the original. ``locks/`` holds no data (an empty file
when no writer runs) and is left out.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from _extract_data import assert_same_cache, make_synth, read_cache
from zsar.cache.features import load_text
from zsar.cache.verify import verify_cache
from zsar.extract.extractor import ExtractConfig, extract

N_DAMAGES = 50
KINDS = ("flip", "truncate", "delete")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=3, per_class=2)


def _data_files(cache_dir: Path) -> list[Path]:
    return sorted(p for p in cache_dir.rglob("*") if p.is_file() and p.relative_to(cache_dir).parts[0] != "locks")


def _damage(path: Path, kind: str, rng: np.random.Generator) -> None:
    data = bytearray(path.read_bytes())
    if kind == "delete" or not data:
        path.unlink()
    elif kind == "truncate":
        path.write_bytes(bytes(data[: int(rng.integers(0, len(data)))]))
    else:
        for position in rng.choice(len(data), size=min(len(data), int(rng.integers(1, 5))), replace=False):
            data[position] ^= int(rng.integers(1, 256))
        path.write_bytes(bytes(data))


def test_random_damage_is_named_by_verify_and_repaired_by_extract(synth, tmp_path):
    config = ExtractConfig(dataset="hmdb51", root=synth, backbone="tiny-random", text_encoder="tiny-random",
                           prompts="plain",
                           cache=tmp_path, workers=0, threads=1, videos_per_shard=2)
    cache_dir = extract(config).cache_dir
    original, text = read_cache(cache_dir), load_text(cache_dir).embeddings
    files = [p.relative_to(cache_dir).as_posix() for p in _data_files(cache_dir)]
    assert len(files) == 8  # config.json, 3 shards, manifest-000.parquet, text/*.h5 and their 2 checksum files
    rng = np.random.default_rng(11)
    hits: Counter = Counter()
    started = time.perf_counter()
    for attempt in range(N_DAMAGES):
        victim = cache_dir / files[int(rng.integers(len(files)))]
        kind = KINDS[int(rng.integers(len(KINDS)))]
        _damage(victim, kind, rng)
        hits[victim.suffix, kind] += 1
        problems = verify_cache(cache_dir).problems
        named = victim.name.removesuffix(".sha256")  # damage to a checksum file names the file it covers
        assert any(named in p for p in problems), (attempt, kind, victim.name, problems)
        extract(config)
        assert verify_cache(cache_dir).problems == [], (attempt, kind, victim.name)
        assert_same_cache(read_cache(cache_dir), original)
        assert np.array_equal(load_text(cache_dir).embeddings, text)
    seconds = time.perf_counter() - started
    print(f"{N_DAMAGES} damages repaired in {seconds:.1f} s: {dict(hits)}")
    assert {kind for _, kind in hits} == set(KINDS) and {s for s, _ in hits} == {".json", ".h5", ".parquet", ".sha256"}
