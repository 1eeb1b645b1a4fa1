"""Issue 32 in extraction: the resize and decoder in the cache key, old caches kept apart and verifiable,
the fallback's row, GPU decoding threads (with a fake decoder), and issue 31's odd file names."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from typer.testing import CliRunner

from _extract_data import TINY, make_synth, read_cache
from zsar.cache.config import LEGACY_FIELDS, read_cache_config, render_cache_config
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import read_manifest
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.extract import decoders
from zsar.extract.decode import decode_video, resize_crop
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.gpu_loader import GpuDecodeStats, ThreadDecodePool, check_cuda_decoding
from zsar.extract.loader import DecodeSettings, VideoDecodeDataset, make_loader
from zsar.extract.sampling import SamplingConfig
from zsar.synth.containers import write_container_video


def invoke(*args: str):
    return CliRunner().invoke(app, ["-q", *map(str, args)])


def extract_args(root, cache, *extra: str) -> list[str]:
    return ["extract", "--dataset", "hmdb51", "--root", str(root), *TINY, "--cache", str(cache), "--workers", "0",
            "--threads", "1", *extra]


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=2, per_class=2)


def _old_resize_crop(frames: torch.Tensor, size: int) -> torch.Tensor:
    """``resize_crop`` as zsar had it before issue 32 (float32, channels first), copied verbatim."""
    n, height, width, _ = frames.shape
    scale = size / min(height, width)
    new_h, new_w = max(size, round(height * scale)), max(size, round(width * scale))
    x = frames.permute(0, 3, 1, 2).float()
    if (new_h, new_w) != (height, width):
        x = F.interpolate(x, size=(new_h, new_w), mode="bilinear", align_corners=False, antialias=True)
    top, left = (new_h - size) // 2, (new_w - size) // 2
    x = x[:, :, top:top + size, left:left + size]
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


def test_the_float_resize_is_the_old_one_and_uint8_differs_by_at_most_a_level():
    frames = torch.randint(0, 256, (4, 240, 320, 3), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    old = _old_resize_crop(frames, 112)
    assert torch.equal(resize_crop(frames, 112, "float"), old)
    new = resize_crop(frames, 112, "uint8")
    assert new.shape == (4, 112, 112, 3) and new.dtype == torch.uint8 and new.is_contiguous()
    diff = (new.int() - old.int()).abs()
    assert diff.max() <= 1 and 0 < diff.float().mean() < 0.5


def _legacy_config(cache_dir) -> None:
    """Rewrite ``config.json`` as a zsar from before issue 32 wrote it (no resize, no decoder field)."""
    layout = CacheLayout(cache_dir)
    config = read_cache_config(layout)
    layout.config_path.write_text(render_cache_config(config, tuple(LEGACY_FIELDS)))


def test_an_old_cache_is_kept_apart_from_new_frames_and_both_verify(synth, tmp_path):
    old = invoke(*extract_args(synth, tmp_path, "--resize", "float", "--decoder", "decord"))
    assert old.exit_code == 0, old.output
    old_dir = next(tmp_path.glob("features/*/*"))
    _legacy_config(old_dir)
    assert "resize" not in json.loads((old_dir / "config.json").read_text())
    before = read_cache(old_dir)
    assert read_cache_config(CacheLayout(old_dir)).resize == "float"  # an old config reads with its legacy values
    new = invoke(*extract_args(synth, tmp_path))
    assert new.exit_code == 0 and "4 ok, 0 failed, 0 already in the cache" in new.output, new.output
    folders = sorted(tmp_path.glob("features/*/*"))
    assert len(folders) == 2, "the new resize makes a new cache key"
    new_dir = next(f for f in folders if f != old_dir)
    config = read_cache_config(CacheLayout(new_dir))
    assert (config.resize, config.decoder) == ("uint8", "auto")
    for folder in folders:
        verify = invoke("cache", "verify", str(folder))
        assert verify.exit_code == 0 and "4 videos verified" in verify.output, verify.output
    after = read_cache(old_dir)
    assert all(np.array_equal(before[v]["features"], after[v]["features"]) for v in before)
    same = invoke(*extract_args(synth, tmp_path, "--resize", "float", "--decoder", "decord"))
    assert same.exit_code == 0 and "0 ok, 0 failed, 4 already in the cache" in same.output, same.output


def test_a_file_only_pyav_reads_is_an_ok_row_naming_pyav(tmp_path, monkeypatch):
    try:
        av1 = write_container_video(tmp_path / "data" / "walk" / "av1.mkv", "mkv-av1", frames=24)
    except Exception as err:  # noqa: BLE001 - this PyAV build has no AV1 encoder
        pytest.skip(f"PyAV cannot write AV1 here ({err})")
    write_container_video(tmp_path / "data" / "walk" / "plain.avi", "avi-mpeg4", frames=24)
    monkeypatch.setattr(decoders, "AUTO_PREFERENCE", ("decord", "pyav"))  # decord first: the fallback's case
    result = extract(ExtractConfig(dataset="folder", root=tmp_path / "data", backbone="tiny-random",
                                   text_encoder="none", cache=tmp_path / "cache", workers=0, resolution=32))
    rows = {r["video_id"]: r for r in read_manifest(CacheLayout(result.cache_dir)).to_pylist()}
    assert av1.is_file() and result.ok == 2 and result.failed == 0
    assert rows["walk/av1"]["status"] == "ok" and rows["walk/av1"]["decoder"] == "pyav"
    assert rows["walk/av1"]["note"].startswith("read by PyAV after decord failed: cannot open video: ")
    assert rows["walk/plain"]["decoder"] == "decord" and rows["walk/plain"]["note"] == ""


def test_a_non_utf8_file_name_is_a_failed_row_and_the_others_are_extracted(synth, tmp_path):
    """Issue 31 case 10: such a name ended extract in a UnicodeEncodeError traceback from videos_digest."""
    root = tmp_path / "data"
    shutil.copytree(synth / "videos", root)
    source = sorted(root.glob("*/*.avi"))[0]
    odd = source.parent / os.fsdecode(b"caf\xe9.avi")
    shutil.copy(source, odd)
    result = invoke("extract", "--dataset", "folder", "--root", str(root), "--backbone", "tiny-random",
                    "--text-encoder", "none", "--cache", str(tmp_path / "cache"), "--workers", "0")
    assert result.exit_code == 0 and "4 ok, 1 failed" in result.output, result.output
    rows = read_manifest(CacheLayout(next((tmp_path / "cache").glob("features/*/*")))).to_pylist()
    failed = [r for r in rows if r["status"] == "failed"]
    assert [r["video_id"] for r in failed] == [f"{source.parent.name}/caf\\xe9"]
    assert "the file name" in failed[0]["error"] and "caf\\udce9.avi' is not valid UTF-8" in failed[0]["error"]


class _FakeGpuReader(decoders.PyAVReader):
    """A GPU decoder stand-in: PyAV's frames; files named ``*fallback*`` 'fall back to the CPU', ``*shifted*`` are off."""

    name = "fake-gpu"

    def __init__(self, path, threads=1, device="cpu"):
        assert device == "cuda", device
        super().__init__(path, threads, "cpu")
        self.cpu_fallback = "fallback" in path.name
        self.threads_seen.add(__import__("threading").get_ident())

    def read(self, index):
        frames = super().read(index)
        return frames // 2 if "shifted" in self.path.name else frames


@pytest.fixture
def fake_gpu(monkeypatch):
    _FakeGpuReader.threads_seen = set()
    monkeypatch.setitem(decoders.DECODERS._entries, "fake-gpu",
                        decoders.DECODERS._entries["pyav"].__class__(name="fake-gpu", obj=_FakeGpuReader, help=""))
    return _FakeGpuReader


def test_gpu_decoding_runs_in_threads_in_order_counting_fallbacks_and_checking_pixels(synth, tmp_path, fake_gpu,
                                                                                     caplog):
    videos = sorted((synth / "videos").glob("*/*.avi"))
    names = ["a.avi", "b_fallback.avi", "c_shifted.avi", "d.avi"] * 3
    paths = []
    for i, name in enumerate(names):
        paths.append(tmp_path / f"{i:02d}_{name}")
        shutil.copy(videos[i % len(videos)], paths[-1])
    records = [type("R", (), {"path": p, "start": float("nan"), "end": float("nan"), "video_id": p.stem})()
               for p in paths]
    settings = DecodeSettings(decoder="fake-gpu", device="cuda", digest=True)
    loader = make_loader(records, SamplingConfig(), 32, 7, settings)
    assert isinstance(loader, ThreadDecodePool)
    with caplog.at_level(logging.WARNING):
        items = list(loader)
    assert [item.position for item in items] == list(range(len(paths)))
    cpu = [decode_video(p, SamplingConfig(), 32, decoder="pyav").frames for p in paths]
    for item, reference, name in zip(items, cpu, names):
        assert item.decoded.frames.device.type == "cpu" and len(item.digest) == 32
        expected = reference // 2 if "shifted" in name else reference  # halved before the resize: rounding moves 1
        assert (item.decoded.frames.int() - expected.int()).abs().max() <= int("shifted" in name)
    stats: GpuDecodeStats = loader.stats
    assert stats.cpu_fallback == 3 and stats.checked == 4  # the first 4 files done that were not decoded on the CPU
    assert stats.warnings and all(w.startswith(("02_c_shifted: GPU-decoded pixels differ from the CPU decoder's",
                                                "06_c_shifted: GPU-decoded")) for w in stats.warnings)
    assert "GPU-decoded pixels differ" in caplog.text
    assert len(fake_gpu.threads_seen) >= 2, "decoders run in several threads of this process"
    assert "3 file(s) decoded on the CPU (cpu_fallback); pixels of 4 video(s)" in stats.describe()


def test_cuda_decoding_without_cuda_is_one_line(synth):
    video = sorted((synth / "videos").glob("*/*.avi"))[0]
    if torch.cuda.is_available():
        pytest.skip("a GPU is visible")
    with pytest.raises(ZsarError, match=r"^--decoder torchcodec --device cuda: no CUDA device is visible to torch; "
                                        r"use --decoder auto"):
        check_cuda_decoding(video, "torchcodec", "cuda")


def test_resize_and_decoder_options_are_checked_before_anything_is_written(synth, tmp_path):
    for flag, value, message in (("--resize", "nearest", "--resize 'nearest' is not one of uint8, float"),
                                 ("--decoder", "ffmpeg", "--decoder 'ffmpeg': choose one of auto, decord")):
        result = invoke(*extract_args(synth, tmp_path, flag, value))
        assert result.exit_code == 2 and message in result.output, result.output
    assert not (tmp_path / "features").exists()


def test_the_dataset_item_carries_the_content_digest(synth):
    from zsar.cache.fingerprints import content_digest

    video = sorted((synth / "videos").glob("*/*.avi"))[0]
    record = type("R", (), {"path": video, "start": float("nan"), "end": float("nan")})()
    item = VideoDecodeDataset([record], SamplingConfig(), 32, DecodeSettings(digest=True))[0]
    assert item.digest == content_digest(video) and len(item.digest) == 32
    assert VideoDecodeDataset([record], SamplingConfig(), 32)[0].digest == ""
    assert item.digest == hashlib.blake2b(video.read_bytes(), digest_size=16).hexdigest()


class _CpuOnlyReader(decoders.PyAVReader):
    """A decoder build without CUDA: it opens files on the CPU only."""

    def __init__(self, path, threads=1, device="cpu"):
        if device != "cpu":
            raise decoders.DecodeError("cannot open video: Unsupported device")
        super().__init__(path, threads, device)


def test_a_decoder_that_cannot_use_cuda_is_one_line_before_any_video(synth, monkeypatch, tmp_path):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    entry = decoders.DECODERS._entries["pyav"]
    monkeypatch.setitem(decoders.DECODERS._entries, "cpu-only", entry.__class__(name="cpu-only", obj=_CpuOnlyReader,
                                                                                  help=""))
    video = sorted((synth / "videos").glob("*/*.avi"))[0]
    with pytest.raises(ZsarError, match=r"^--decoder cpu-only --device cuda: this cpu-only cannot decode on CUDA "
                                        r"\(cannot open video: Unsupported device\); install a CUDA build"):
        check_cuda_decoding(video, "cpu-only", "cuda")
    broken = tmp_path / "broken.avi"
    broken.write_text("not a video")
    check_cuda_decoding(broken, "cpu-only", "cuda")  # a bad first file is its own row, not the decoder's fault


def test_a_forked_worker_decodes_after_this_process_did(synth):
    """PyAV's converter made in a process before it forks its workers must not be reused by them: its swscale
    slice threads do not exist in the child, which then waited forever (seen in the full test suite)."""
    import subprocess
    import sys

    script = f"""
import pathlib, torch
from zsar.extract.decode import decode_video
from zsar.extract.loader import make_loader
from zsar.extract.sampling import SamplingConfig
videos = sorted(pathlib.Path({str(synth / "videos")!r}).glob("*/*.avi"))
decode_video(videos[0], SamplingConfig(), 32, decoder="pyav")
records = [type("R", (), {{"path": v, "start": float("nan"), "end": float("nan")}})() for v in videos]
print(sum(item.decoded is not None for item in make_loader(records, SamplingConfig(), 32, workers=1)))
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0 and done.stdout.strip() == "4", done.stderr
