"""Frame indices of every sampling mode, checked exactly."""

import numpy as np
import pytest

from zsar.errors import ZsarError
from zsar.extract.sampling import SamplingConfig, sample_indices


def idx(n, start=0, end=None, **kw):
    return sample_indices(n, SamplingConfig(**kw), start, end).tolist()


def test_uniform_takes_the_centre_of_each_segment():
    assert idx(16, mode="uniform", frames=8) == [[1, 3, 5, 7, 9, 11, 13, 15]]
    assert idx(10, mode="uniform", frames=4) == [[1, 3, 6, 8]]
    assert idx(8, mode="uniform", frames=8) == [[0, 1, 2, 3, 4, 5, 6, 7]]


def test_uniform_views_interleave_within_segments():
    assert idx(16, mode="uniform", frames=4, clips=2) == [[1, 5, 9, 13], [3, 7, 11, 15]]
    # three views: the middle one is the single-view centre
    three = idx(30, mode="uniform", frames=2, clips=3)
    assert three == [[2, 17], [7, 22], [12, 27]]
    assert three[1] == idx(30, mode="uniform", frames=2)[0]


def test_uniform_short_video_repeats_frames_in_order():
    assert idx(3, mode="uniform", frames=8) == [[0, 0, 0, 1, 1, 2, 2, 2]]
    assert idx(1, mode="uniform", frames=4, clips=2) == [[0, 0, 0, 0], [0, 0, 0, 0]]


def test_dense_single_clip_is_centred():
    assert idx(100, mode="dense", frames=4, stride=2) == [[46, 48, 50, 52]]
    assert idx(16, mode="dense", frames=16) == [list(range(16))]


def test_dense_clips_spread_from_first_to_last_frame():
    assert idx(100, mode="dense", frames=4, clips=3, stride=2) == [
        [0, 2, 4, 6], [46, 48, 50, 52], [93, 95, 97, 99]]
    assert idx(20, mode="dense", frames=5, clips=2) == [[0, 1, 2, 3, 4], [15, 16, 17, 18, 19]]


def test_dense_short_video_clamps_to_the_last_frame():
    assert idx(5, mode="dense", frames=4, stride=2) == [[0, 2, 4, 4]]
    assert idx(3, mode="dense", frames=4, clips=2) == [[0, 1, 2, 2], [0, 1, 2, 2]]


def test_trimmed_segment_stays_inside_its_bounds():
    assert idx(200, 100, 116, mode="uniform", frames=8) == [[101, 103, 105, 107, 109, 111, 113, 115]]
    assert idx(200, 50, 60, mode="dense", frames=4, clips=2, stride=3) == [[50, 53, 56, 59], [50, 53, 56, 59]]
    # the end is clipped to the video
    assert idx(20, 12, 999, mode="uniform", frames=4) == [[13, 15, 17, 19]]


def test_indices_are_int64_in_range_for_many_lengths():
    for mode, clips, stride in (("uniform", 1, 1), ("uniform", 3, 1), ("dense", 1, 2), ("dense", 4, 3)):
        config = SamplingConfig(mode=mode, frames=8, clips=clips, stride=stride)
        for n in range(1, 300, 7):
            out = sample_indices(n, config)
            assert out.dtype == np.int64 and out.shape == (clips, 8)
            assert out.min() >= 0 and out.max() <= n - 1
            assert (np.diff(out, axis=1) >= 0).all()


def test_nothing_to_sample_is_a_value_error():
    with pytest.raises(ValueError, match="no frames"):
        sample_indices(0, SamplingConfig())
    with pytest.raises(ValueError, match="no frames"):
        sample_indices(50, SamplingConfig(), 60, 80)


def test_bad_configs_name_the_flag():
    with pytest.raises(ZsarError, match="--sampling 'random'"):
        SamplingConfig(mode="random")
    with pytest.raises(ZsarError, match="--frames 0"):
        SamplingConfig(frames=0)
    with pytest.raises(ZsarError, match="--stride 2 applies to --sampling dense"):
        SamplingConfig(stride=2)


def test_describe_names_the_sampling():
    assert SamplingConfig().describe() == "uniform8x1"
    assert SamplingConfig(mode="dense", frames=16, clips=2, stride=2).describe() == "dense16x2s2"
