"""Decoding: only the sampled frames, windows give the same pixels, segments stay in bounds, failures typed."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from _extract_data import make_synth
from zsar.extract.decode import DecodeError, decode_video, resize_crop
from zsar.extract.sampling import SamplingConfig


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    synth = make_synth(tmp_path_factory.mktemp("synth"), classes=2, per_class=1, frames=16)
    return sorted((synth / "videos").glob("*/*.avi"))[0]


def test_windows_do_not_change_the_pixels(video):
    sampling = SamplingConfig(mode="dense", frames=4, clips=3, stride=2)
    whole = decode_video(video, sampling, 40)
    windowed = decode_video(video, sampling, 40, window=3)
    assert whole.frames.shape == (3, 4, 40, 40, 3) and whole.frames.dtype == torch.uint8
    assert torch.equal(whole.frames, windowed.frames)
    assert whole.frame_index.tolist() == [[0, 2, 4, 6], [4, 6, 8, 10], [9, 11, 13, 15]]
    assert np.allclose(whole.timestamps, whole.frame_index / 25.0)
    assert (whole.n_frames, whole.fps, whole.duration) == (16, 25.0, 0.64)


def test_trimmed_segment_decodes_only_its_frames(video):
    out = decode_video(video, SamplingConfig(frames=4), 32, start=0.2, end=0.4)  # frames [5, 10)
    assert out.frame_index.tolist() == [[5, 6, 8, 9]]
    with pytest.raises(DecodeError, match=r"segment \[2.00, 3.00\] s is outside the video \(16 frames, 0.64 s\)"):
        decode_video(video, SamplingConfig(), 32, start=2.0, end=3.0)


def test_resize_crop_takes_the_centre_square():
    frames = torch.zeros((2, 20, 40, 3), dtype=torch.uint8)
    frames[:, :, 10:30] = 200  # the centre 20 columns
    out = resize_crop(frames, 10)
    assert out.shape == (2, 10, 10, 3) and out.dtype == torch.uint8
    assert (out[:, :, 1:-1] == 200).all()           # inside the crop: the bright band only
    assert (out[:, :, [0, -1]] >= 150).all()          # edges: antialiasing blends a little of the dark sides


def test_failures_are_typed_with_a_reason(tmp_path):
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    text = tmp_path / "text.avi"
    text.write_text("not a video\n" * 50)
    with pytest.raises(DecodeError, match=r"^empty file \(0 bytes\)$"):
        decode_video(empty, SamplingConfig(), 32)
    with pytest.raises(DecodeError, match="^cannot open video: (torchcodec: .*; )?pyav: .*Invalid data.*; decord: "):
        decode_video(text, SamplingConfig(), 32)
    with pytest.raises(DecodeError, match="^file not found: "):
        decode_video(tmp_path / "missing.avi", SamplingConfig(), 32)
