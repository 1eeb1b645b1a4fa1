"""Issue 31 case 1: a same-size edit in the middle of a video with a new mtime is seen (the content digest)."""

from __future__ import annotations

import os

import av
import numpy as np
import pytest

from _faults import invoke
from zsar.cache.fingerprints import MIB, check_files, content_digest, file_fingerprint
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import read_manifest

MIDDLE = 300_000


def _noise_video(path, frames: int = 40) -> None:
    """An mpeg4 .avi of noise frames, over 2 MiB (so the ends-only fingerprint does not cover its middle)."""
    rng = np.random.default_rng(0)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as container:
        stream = container.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = 320, 240, "yuv420p"
        stream.bit_rate = 40_000_000
        for _ in range(frames):
            frame = av.VideoFrame.from_ndarray(rng.integers(0, 256, (240, 320, 3), dtype=np.uint8), format="rgb24")
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


@pytest.fixture
def dataset(tmp_path):
    root = tmp_path / "data"
    _noise_video(root / "noise" / "big.avi")
    _noise_video(root / "noise" / "other.avi", frames=8)
    assert (root / "noise" / "big.avi").stat().st_size > 2 * MIB + 2 * MIDDLE
    return root


def _extract(root, cache) -> str:
    result = invoke("extract", "--dataset", "folder", "--root", str(root), "--backbone", "tiny-random",
                    "--text-encoder", "none", "--cache", str(cache), "--workers", "0", "--videos-per-shard", "1")
    assert result.exit_code == 0, result.output
    return result.output


def _rows(cache) -> dict:
    layout = CacheLayout(next(cache.glob("features/*/*")))
    return {r["video_id"]: r for r in read_manifest(layout).to_pylist()}


def test_a_same_size_edit_in_the_middle_of_a_big_file_is_extracted_again(dataset, tmp_path):
    cache = tmp_path / "cache"
    assert "2 ok, 0 failed, 0 already" in _extract(dataset, cache)
    big = dataset / "noise" / "big.avi"
    first = _rows(cache)["noise/big"]
    assert first["content_digest"] == content_digest(big) and first["fingerprint"] == file_fingerprint(big)[0]
    data = bytearray(big.read_bytes())
    middle = len(data) // 2 - MIDDLE // 2
    data[middle:middle + MIDDLE] = bytes(b ^ 0x5A for b in data[middle:middle + MIDDLE])
    big.write_bytes(bytes(data))
    stat = big.stat()
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    assert file_fingerprint(big)[0] == first["fingerprint"], "the ends are the same: only the digest sees the edit"
    out = _extract(dataset, cache)
    # Decoded again: whole, partly (the XORed bytes cost frames) or not at all, depending on the decoder's luck.
    assert any(f"{summary}, 1 already in the cache" in out
               for summary in ("1 ok, 0 failed", "0 ok, 1 partly decoded, 0 failed", "0 ok, 1 failed")), out
    assert "video file(s) changed since they were extracted (e.g. noise/big)" in out
    assert _rows(cache)["noise/big"]["content_digest"] == content_digest(big) != first["content_digest"]


def test_a_touched_file_with_the_same_bytes_is_kept_and_its_new_time_recorded(dataset, tmp_path):
    cache = tmp_path / "cache"
    _extract(dataset, cache)
    big = dataset / "noise" / "big.avi"
    stat = big.stat()
    os.utime(big, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    out = _extract(dataset, cache)
    assert "0 ok, 0 failed, 2 already in the cache" in out, out
    assert _rows(cache)["noise/big"]["mtime_ns"] == stat.st_mtime_ns + 10**9


def test_check_files_judges_a_legacy_row_by_its_ends_and_records_its_digest(dataset):
    import pyarrow as pa

    big = dataset / "noise" / "big.avi"
    fingerprint, mtime = file_fingerprint(big)
    record = type("R", (), {"path": big})()
    table = pa.table({"video_row": [0], "video_id": ["noise/big"], "fingerprint": [fingerprint],
                      "mtime_ns": [mtime - 1], "content_digest": [""]})
    found = check_files(table, [record])
    assert not found.changed and found.added == 1 and found.updates[0] == (fingerprint, mtime, content_digest(big))
    same_time = table.set_column(3, "mtime_ns", pa.array([mtime]))
    found = check_files(same_time, [record])  # unchanged stat: only the digest is added, nothing else read
    assert found.updates[0] == (fingerprint, mtime, content_digest(big)) and not found.changed
