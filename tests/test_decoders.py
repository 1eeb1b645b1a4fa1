"""The decoders agree on frames, auto falls back per file, cut files say what was lost (issues 31 and 32)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch

from zsar.errors import ZsarError
from zsar.extract import decoders
from zsar.extract.decode import DecodeError, claimed_frames, decode_video
from zsar.extract.sampling import SamplingConfig
from zsar.synth.containers import KINDS, write_container_video

DENSE = SamplingConfig(mode="dense", frames=4, clips=3, stride=3)
AGREE = ("avi-mpeg4", "mp4-h264", "mp4-h264-faststart", "mkv-h264")
CPU_DECODERS = ("decord", "pyav")


def _torchcodec_runs() -> bool:
    try:
        decoders.load_torchcodec()
    except ZsarError:
        return False
    return True


needs_torchcodec = pytest.mark.skipif(not _torchcodec_runs(), reason="torchcodec does not load here: "
                                      + decoders.TORCHCODEC_FIX)


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("kinds")
    return {kind: write_container_video(folder / f"{kind}{KINDS[kind].suffix}", kind, frames=48)
            for kind in AGREE + ("webm-vp9",)}


def _moov_before_mdat(path) -> bool:
    data = path.read_bytes()
    return data.index(b"moov") < data.index(b"mdat")


@pytest.mark.parametrize("kind", AGREE)
def test_every_decoder_reads_the_same_frame_numbers_and_pixels(videos, kind):
    path = videos[kind]
    names = CPU_DECODERS + (("torchcodec",) if _torchcodec_runs() else ())
    out = {name: decode_video(path, DENSE, 48, decoder=name) for name in names}
    reference = out["decord"]
    assert reference.n_frames == 48 and reference.frame_index.tolist()[0] == [0, 3, 6, 9]
    for name, decoded in out.items():
        assert decoded.decoder == name and decoded.n_frames == 48 and decoded.fps == 25.0
        assert decoded.frame_index.tolist() == reference.frame_index.tolist(), name
        # measured: the three decoders give identical pixels on these files (all convert with FFmpeg's swscale)
        assert torch.equal(decoded.frames, reference.frames), (name, (decoded.frames.int() - reference.frames.int()).abs().max())


def test_the_faststart_file_has_its_index_at_the_front(videos):
    assert _moov_before_mdat(videos["mp4-h264-faststart"]) and not _moov_before_mdat(videos["mp4-h264"])


def test_pyav_reads_frames_in_any_order_of_windows(videos):
    """Seeks back and forth (a window at a time, dense clips that overlap) give the frames of one sequential read."""
    path = videos["mp4-h264"]
    whole = decode_video(path, DENSE, 32, decoder="pyav")
    windowed = decode_video(path, DENSE, 32, decoder="pyav", window=2)
    assert torch.equal(whole.frames, windowed.frames)


def _av1(tmp_path):
    try:
        return write_container_video(tmp_path / "av1.mkv", "mkv-av1", frames=24, width=96, height=64)
    except Exception as err:  # noqa: BLE001 - the encoder is missing from this PyAV build
        pytest.skip(f"PyAV cannot write AV1 here ({err})")


def test_a_file_decord_refuses_is_read_by_pyav_with_a_note(tmp_path, monkeypatch):
    path = _av1(tmp_path)
    with pytest.raises(DecodeError, match="cannot open video"):
        decode_video(path, SamplingConfig(), 32, decoder="decord")
    monkeypatch.setattr(decoders, "AUTO_PREFERENCE", ("decord", "pyav"))  # decord first, as where it is fastest
    decoded = decode_video(path, SamplingConfig(), 32)
    assert decoded.decoder == "pyav" and decoded.n_frames == 24
    assert decoded.note.startswith("read by PyAV after decord failed: cannot open video: ")


def test_auto_tries_every_decoder_in_turn_and_fails_with_all_their_words(tmp_path, monkeypatch):
    monkeypatch.setattr(decoders, "AUTO_PREFERENCE", ("pyav", "decord"))
    text = tmp_path / "text.mp4"
    text.write_text("not a video\n" * 50)
    with pytest.raises(DecodeError) as err:
        decode_video(text, SamplingConfig(), 32)
    assert str(err.value).startswith("cannot open video: pyav: [Errno 1094995529] Invalid data found")
    assert "; decord: Error reading " in str(err.value)


def test_claimed_frames_come_from_the_duration_where_the_container_keeps_no_count(videos):
    for kind in ("mkv-h264", "webm-vp9", "avi-mpeg4", "mp4-h264"):
        assert claimed_frames(videos[kind]) == 48, kind


@pytest.mark.parametrize("kind", ["mkv-h264", "webm-vp9", "avi-mpeg4", "mp4-h264-faststart"])
def test_a_cut_file_is_noted_as_partly_decoded(videos, tmp_path, kind):
    cut = tmp_path / f"cut{KINDS[kind].suffix}"
    data = videos[kind].read_bytes()
    cut.write_bytes(data[:len(data) * 6 // 10])
    decoded = decode_video(cut, SamplingConfig(), 32)
    assert 0 < decoded.n_frames < 48
    assert decoded.note.startswith(f"partly decoded: {decoded.n_frames} of the 48 frames its container claims")
    # torchcodec, first where it is installed, stops at the cut packet; PyAV then reads what is there
    assert decoded.note.endswith("claims") or "; read by PyAV after torchcodec failed: truncated or damaged" in decoded.note


def test_a_cut_file_that_no_decoder_opens_says_truncated_or_damaged(videos, tmp_path):
    """Issue 31 case 8: a cut +faststart .mp4 failed with decord's bare 'av_read_frame failed with 1094995529'."""
    data = videos["mp4-h264-faststart"].read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[:len(data) * 4 // 10])
    with pytest.raises(DecodeError, match=r"^truncated or damaged: cannot open video: .*av_read_frame failed"):
        decode_video(cut, SamplingConfig(), 32, decoder="decord")
    data = videos["mp4-h264"].read_bytes()  # the index at the end: nothing can be read
    cut.write_bytes(data[:len(data) * 9 // 10])
    for decoder in ("pyav", "decord"):
        with pytest.raises(DecodeError, match=r"^truncated or damaged: its moov index is missing \(an .mp4/.mov cut "
                                              r"short: files written without \+faststart keep the index at the end\)"):
            decode_video(cut, SamplingConfig(), 32, decoder=decoder)


def test_a_non_utf8_file_name_is_one_error_naming_it(videos, tmp_path):
    import os

    name = os.fsdecode(b"caf\xe9.avi")
    (tmp_path / name).write_bytes(videos["avi-mpeg4"].read_bytes())
    with pytest.raises(DecodeError, match=r"the file name '.*caf\\udce9.avi' is not valid UTF-8; rename the file"):
        decode_video(tmp_path / name, SamplingConfig(), 32)


def test_an_unknown_decoder_lists_the_choices():
    with pytest.raises(ZsarError, match=r"--decoder 'ffmpeg': choose one of auto, decord, pyav, pyav-nvdec, torchcodec"):
        decoders.check_decoder("ffmpeg")


def test_torchcodec_missing_names_the_fix(monkeypatch):
    import builtins

    real = builtins.__import__

    def no_torchcodec(name, *args, **kwargs):
        if name.startswith("torchcodec"):
            raise ImportError("No module named 'torchcodec'")
        return real(name, *args, **kwargs)

    monkeypatch.setattr("builtins.__import__", no_torchcodec)
    with pytest.raises(ZsarError, match=r"torchcodec cannot be loaded \(No module named 'torchcodec'\); "
                                        r"pip install 'zsar\[torchcodec\]'.*apt-get install libavcodec59"):
        decoders.load_torchcodec()


@needs_torchcodec
def test_torchcodec_reads_a_webm_as_pyav_does(videos):
    a = decode_video(videos["webm-vp9"], DENSE, 32, decoder="torchcodec")
    b = decode_video(videos["webm-vp9"], DENSE, 32, decoder="pyav")
    assert a.frame_index.tolist() == b.frame_index.tolist() and torch.equal(a.frames, b.frames)


def test_the_installed_check_finds_pyav():
    assert decoders.installed("pyav") and importlib.util.find_spec("av") is not None
    assert decoders.auto_order() == ("pyav", "decord")
    assert np.all(np.diff([decoders.AUTO_PREFERENCE.index(n) for n in decoders.auto_order()]) > 0)
