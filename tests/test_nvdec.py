"""``--decoder pyav-nvdec``: PyAV on NVDEC. Without a GPU: its one-line refusals, and its reader in the GPU threads
with NVDEC faked by PyAV on the CPU (files that fall back, fail or decode, in order, with the CPU's frame numbers)."""

from __future__ import annotations

import ctypes
import io
import logging
import shutil
import threading
from pathlib import Path

import av
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from _extract_data import TINY, make_synth
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.extract import decoders, nvdec
from zsar.extract.decode import decode_video
from zsar.extract.extractor import key_decoder
from zsar.extract.gpu_loader import ThreadDecodePool, check_cuda_decoding, gpu_decoding
from zsar.extract.loader import DecodeSettings, make_loader
from zsar.extract.sampling import SamplingConfig
from zsar.synth.containers import KINDS, write_container_video

DENSE = SamplingConfig(mode="dense", frames=4, clips=3, stride=3)
AGREE = ("avi-mpeg4", "mp4-h264", "mp4-h264-faststart", "mkv-h264")


def _libcuda_loads() -> bool:
    try:
        ctypes.CDLL("libcuda.so.1")
    except OSError:
        return False
    return True


no_driver = pytest.mark.skipif(_libcuda_loads(), reason="the NVIDIA driver is here: these tests are of its absence")


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=2, per_class=2)


@pytest.fixture(autouse=True)
def fresh_probe():
    for cached in (nvdec.nvdec_problem, nvdec.align_primary_context):
        cached.cache_clear()
    yield
    for cached in (nvdec.nvdec_problem, nvdec.align_primary_context):
        cached.cache_clear()


def test_pyav_nvdec_is_its_own_decoder_and_needs_a_cuda_backbone(synth, tmp_path):
    assert "pyav-nvdec" in decoders.decoder_names() and decoders.installed("pyav-nvdec")
    assert "pyav-nvdec" not in decoders.auto_order()
    assert gpu_decoding("pyav-nvdec", "cuda") and gpu_decoding("torchcodec", "cuda")
    assert not gpu_decoding("pyav", "cuda") and not gpu_decoding("torchcodec", "cpu")
    assert key_decoder(DecodeSettings(decoder="pyav-nvdec", device="cuda:0")) == "pyav-nvdec-cuda"
    result = CliRunner().invoke(app, ["-q", "extract", "--dataset", "hmdb51", "--root", str(synth), *TINY,
                                      "--cache", str(tmp_path), "--workers", "0", "--decoder", "pyav-nvdec"])
    assert result.exit_code != 0
    assert ("--decoder pyav-nvdec decodes on NVDEC, a GPU's video decoder: it needs --device cuda (this run's "
            "device is cpu); on the CPU use --decoder pyav or auto") in " ".join(result.output.split())
    assert not (tmp_path / "features").exists()


def test_where_cuda_decoding_is_unavailable_the_refusal_is_one_line_naming_what_is_missing(synth, monkeypatch):
    video = sorted((synth / "videos").glob("*/*.avi"))[0]
    if not torch.cuda.is_available():
        with pytest.raises(ZsarError, match=r"^--decoder pyav-nvdec --device cuda: no CUDA device is visible to "
                                            r"torch; use --decoder auto"):
            check_cuda_decoding(video, "pyav-nvdec", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(nvdec, "hwdevices_available", lambda: ["vaapi"])
    with pytest.raises(ZsarError) as refused:
        check_cuda_decoding(video, "pyav-nvdec", "cuda")
    assert str(refused.value).startswith("--decoder pyav-nvdec --device cuda: CUDA decoding is unavailable here: "
                                         f"the FFmpeg inside PyAV {av.__version__} has no CUDA hwaccel (its hardware "
                                         "devices: vaapi); install PyAV's PyPI wheel")
    assert str(refused.value).endswith("; use --decoder auto (CPU decoding in worker processes)")
    monkeypatch.setattr(nvdec, "hwdevices_available", lambda: ["cuda"])
    monkeypatch.setattr(nvdec, "DRIVER_LIBRARIES", ("libnvcuvid-zsar-test.so.1",))
    nvdec.nvdec_problem.cache_clear()
    with pytest.raises(ZsarError, match=r"unavailable here: libnvcuvid-zsar-test.so.1 \(the NVIDIA driver's video "
                                        r"decoding library\) cannot be loaded: .*NVIDIA_DRIVER_CAPABILITIES "
                                        r"including video; use --decoder auto") as refused:
        check_cuda_decoding(video, "pyav-nvdec", "cuda:1")
    assert "\n" not in str(refused.value)


@no_driver
def test_without_the_driver_ffmpeg_cannot_open_the_device_and_a_file_is_read_on_the_cpu(synth, monkeypatch):
    monkeypatch.setattr(nvdec, "DRIVER_LIBRARIES", ())
    assert nvdec.nvdec_problem("cuda").startswith("FFmpeg cannot open CUDA device 0 (")
    video = sorted((synth / "videos").glob("*/*.avi"))[0]
    reader = decoders.open_reader("pyav-nvdec", video, 1, "cuda")
    index = np.arange(0, reader.n_frames, 3)
    frames = reader.read(index)
    assert reader.cpu_fallback and reader.fallback_reason.startswith("NVDEC cannot open it: ")
    assert torch.equal(frames, decoders.open_reader("pyav", video).read(index))


class FakeDriver:
    """libcuda's calls that ``align_primary_context`` makes, on a primary context with ``flags``."""

    def __init__(self, flags: int, set_status: int = 0) -> None:
        self.flags, self.set_status, self.set_calls = flags, set_status, []

    def cuInit(self, flags):
        return 0

    def cuDeviceGet(self, device, index):
        device._obj.value = 10 + index
        return 0

    def cuDevicePrimaryCtxGetState(self, device, flags, active):
        flags._obj.value, active._obj.value = self.flags, 1
        return 0

    def cuDevicePrimaryCtxSetFlags_v2(self, device, flags):
        self.set_calls.append((device.value, flags))
        return self.set_status


@pytest.mark.parametrize("flags, set_status, calls, said", [
    (0x0, 0, [(11, 0x4)], ""),    # torch's context with its default flags: set to what FFmpeg retains
    (0x4, 0, [], ""),             # already so: nothing to do
    (0x10, 201, [(11, 0x4)], "cuDevicePrimaryCtxSetFlags failed (CUresult 201; the context's flags 0x10, active)")])
def test_the_primary_context_gets_the_flags_ffmpeg_shares_it_with(monkeypatch, flags, set_status, calls, said):
    driver = FakeDriver(flags, set_status)
    monkeypatch.setattr(nvdec.ctypes, "CDLL", lambda name: driver if name == "libcuda.so.1" else None)
    assert nvdec.align_primary_context(1) == said and driver.set_calls == calls
    assert nvdec.align_primary_context(1) == said and driver.set_calls == calls, "once per process and device"


class _RefusedStream:
    """A container opened 'on NVDEC' whose decoding fails, as on a stream NVDEC refuses (a profile it lacks)."""

    def __init__(self, container) -> None:
        self._container = container

    def __getattr__(self, name):
        return getattr(self._container, name)

    def decode(self, *args, **kwargs):
        raise av.error.InvalidDataError(-1094995529, "Invalid data found when processing input")


class FakeNvdec:
    """``nvdec.open_on_nvdec`` played by PyAV on the CPU; the file name says what NVDEC does with it."""

    def __init__(self) -> None:
        self.threads: set[int] = set()

    def __call__(self, source, device: str):
        assert device.startswith("cuda"), device
        self.threads.add(threading.get_ident())
        name = Path(str(source)).name
        if "nocodec" in name:
            raise RuntimeError("Hardware accelerated decode requested but no stream is compatible")
        container = av.open(str(source))
        if "refused" in name:
            return _RefusedStream(container), True
        return container, "software" not in name


@pytest.fixture
def fake_nvdec(monkeypatch):
    fake = FakeNvdec()
    monkeypatch.setattr(nvdec, "open_on_nvdec", fake)
    return fake


def test_pyav_nvdec_decodes_in_threads_in_order_counting_what_fell_back(synth, tmp_path, fake_nvdec, caplog):
    videos = sorted((synth / "videos").glob("*/*.avi"))
    names = ["a.avi", "b_nocodec.avi", "c_refused.avi", "d_software.avi"] * 3 + ["e_damaged.avi"]
    paths = []
    for i, name in enumerate(names):
        paths.append(tmp_path / f"{i:02d}_{name}")
        shutil.copy(videos[i % len(videos)], paths[-1])
    paths[-1].write_bytes(b"RIFF" + bytes(200))
    records = [type("R", (), {"path": p, "start": float("nan"), "end": float("nan"), "video_id": p.stem})()
               for p in paths]
    loader = make_loader(records, SamplingConfig(), 32, 7, DecodeSettings(decoder="pyav-nvdec", device="cuda",
                                                                          digest=True))
    assert isinstance(loader, ThreadDecodePool)
    with caplog.at_level(logging.WARNING):
        items = list(loader)
    assert [item.position for item in items] == list(range(len(paths)))
    for item, path in zip(items[:-1], paths):
        cpu = decode_video(path, SamplingConfig(), 32, decoder="decord")
        assert item.decoded.decoder == "pyav-nvdec" and item.decoded.frames.device.type == "cpu"
        assert item.decoded.frame_index.tolist() == cpu.frame_index.tolist()
        assert torch.equal(item.decoded.frames, cpu.frames)
        assert item.decoded.cpu_fallback == (path.stem[3] != "a"), path.name
    assert items[-1].decoded is None and "truncated or damaged" in items[-1].error
    stats = loader.stats
    assert stats.cpu_fallback == 9 and stats.checked == 3 and stats.max_abs == 0 and not stats.warnings
    assert "GPU-decoded pixels differ" not in caplog.text
    assert len(fake_nvdec.threads) >= 2, "the NVDEC readers run in several threads of this process"


def test_each_way_of_falling_back_says_why(synth, tmp_path, fake_nvdec):
    video = sorted((synth / "videos").glob("*/*.avi"))[0]
    reasons = {}
    for name in ("nocodec", "refused", "software", "plain"):
        path = tmp_path / f"{name}.avi"
        shutil.copy(video, path)
        reader = decoders.open_reader("pyav-nvdec", path, 1, "cuda")
        reader.read(np.array([0, 5]))
        reasons[name] = (reader.cpu_fallback, reader.fallback_reason)
        reader.close()
    assert reasons["plain"] == (False, "")
    assert reasons["nocodec"][1].startswith("no stream of the file has an NVDEC decoder in FFmpeg (Hardware")
    assert reasons["refused"][1] == ("NVDEC failed on it (decoding frames 0..5 failed: [Errno -1094995529] Invalid "
                                     "data found when processing input)")
    assert reasons["software"][1] == "FFmpeg has no NVDEC decoder for its codec (mpeg4)"
    assert reasons["nocodec"][0] and reasons["refused"][0] and reasons["software"][0]


@pytest.mark.parametrize("kind", AGREE)
def test_pyav_nvdec_numbers_frames_as_the_cpu_decoders(tmp_path, fake_nvdec, kind):
    path = write_container_video(tmp_path / f"v{KINDS[kind].suffix}", kind, frames=48)
    gpu = decode_video(path, DENSE, 48, decoder="pyav-nvdec", device="cuda")
    assert not gpu.cpu_fallback and gpu.n_frames == 48
    for name in ("pyav", "decord"):
        cpu = decode_video(path, DENSE, 48, decoder=name)
        assert gpu.frame_index.tolist() == cpu.frame_index.tolist() and torch.equal(gpu.frames, cpu.frames), name


def test_the_check_decodes_a_test_h264_stream_and_refuses_one_that_came_out_of_the_cpu(monkeypatch):
    data = nvdec._probe_stream()
    with av.open(io.BytesIO(data)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert sum(1 for _ in container.decode(stream)) == nvdec.PROBE_FRAMES
        assert (stream.codec_context.width, stream.codec_context.height) == nvdec.PROBE_SIZE
    monkeypatch.setattr(nvdec, "hwdevices_available", lambda: ["cuda"])
    monkeypatch.setattr(nvdec, "DRIVER_LIBRARIES", ())
    monkeypatch.setattr(nvdec, "nvdec_accel", lambda device: type("A", (), {"create": lambda self, codec: self})())
    monkeypatch.setattr(nvdec, "open_on_nvdec", lambda source, device: (av.open(source), False))
    assert nvdec.nvdec_problem("cuda") == "a test H.264 stream decoded on the CPU, not on NVDEC (frames: yuv420p)"
