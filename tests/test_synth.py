import itertools
import re

import decord
import numpy as np
import pytest
from scipy.ndimage import binary_dilation

from zsar.errors import ZsarError
from zsar.synth import SynthConfig, generate_dataset, render_clip
from zsar.synth.actions import ACTIONS, Style, action_folder
from zsar.synth.figure import forward_kinematics

SMALL = dict(classes=4, per_class=3, frames=12, width=64, height=48)


def decode_all(root):
    clips = {}
    for path in sorted((root / "videos").glob("*/*")):
        clips[path.name] = decord.VideoReader(str(path)).get_batch(list(range(SMALL["frames"]))).asnumpy()
    return clips


@pytest.fixture(scope="module")
def small_set(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    generate_dataset(SynthConfig(**SMALL), root)
    return root


def test_layout_is_hmdb51_with_official_split_lines(small_set):
    classes = sorted(p.name for p in (small_set / "videos").iterdir())
    assert classes == sorted(action_folder(a.name) for a in ACTIONS[:4])
    for cls in classes:
        clips = sorted(p.name for p in (small_set / "videos" / cls).iterdir())
        assert clips == [f"{cls}_{k:03d}.avi" for k in range(3)]
        for split in (1, 2, 3):
            lines = (small_set / "splits" / f"{cls}_test_split{split}.txt").read_text().splitlines()
            assert all(re.fullmatch(r"\S+\.avi [012] ", line) for line in lines), lines
            names = [line.split()[0] for line in lines]
            ids = [int(line.split()[1]) for line in lines]
            assert names == clips
            assert ids.count(2) == 1 and ids.count(1) == 2  # 70/30 of 3 clips


def test_clips_decode_with_requested_frames_and_size(small_set):
    for path in (small_set / "videos").glob("*/*.avi"):
        reader = decord.VideoReader(str(path))
        assert len(reader) == SMALL["frames"]
        assert reader[0].shape == (SMALL["height"], SMALL["width"], 3)


def test_generation_is_deterministic_for_a_seed(small_set, tmp_path):
    again = generate_dataset(SynthConfig(**SMALL), tmp_path / "again")
    other = generate_dataset(SynthConfig(**SMALL, seed=1), tmp_path / "other")
    first, second, third = decode_all(small_set), decode_all(again), decode_all(other)
    assert first.keys() == second.keys() == third.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], second[name])
        assert np.abs(first[name].astype(int) - third[name]).mean() > 5
    for split_file in (small_set / "splits").iterdir():
        assert split_file.read_text() == (again / "splits" / split_file.name).read_text()


def test_every_clip_differs_from_every_other(small_set):
    clips = decode_all(small_set)
    for (a, x), (b, y) in itertools.combinations(clips.items(), 2):
        assert np.abs(x.astype(int) - y).mean() > 5, (a, b)


def figure_mask(frame: np.ndarray) -> np.ndarray:
    """Pixels of the stick figure (its colour differs from the background by >= 90 in luminance),
    shifted so their centroid sits at the image centre (camera shake and walking cancel out)."""
    lum = frame.astype(float) @ np.array([0.299, 0.587, 0.114])
    mask = np.abs(lum - np.median(lum)) > 45
    ys, xs = np.nonzero(mask)
    shift = (frame.shape[0] // 2 - round(ys.mean()), frame.shape[1] // 2 - round(xs.mean()))
    return binary_dilation(np.roll(mask, shift, axis=(0, 1)), iterations=2)


def test_decoded_figure_moves_over_time(tmp_path):
    root = generate_dataset(SynthConfig(classes=len(ACTIONS), per_class=1, frames=16, width=96,
                                        height=96, seed=3), tmp_path / "all")
    for path in sorted((root / "videos").glob("*/*.avi")):
        frames = decord.VideoReader(str(path)).get_batch(list(range(16))).asnumpy()
        masks = [figure_mask(f) for f in frames]
        overlap = min((masks[0] & m).sum() / (masks[0] | m).sum() for m in masks[1:])
        assert overlap < 0.8, f"{path.name}: the figure keeps its shape (IoU {overlap:.2f})"


@pytest.mark.parametrize("action", ACTIONS, ids=lambda a: a.name)
def test_every_action_moves_its_joints(action):
    poses = [action.pose(t, t / 2, Style()) for t in np.linspace(0, 2, 17)]
    joints = np.array([np.array(forward_kinematics(p).lines).ravel() for p in poses])
    assert np.abs(joints - joints[0]).max() > 0.05  # body heights


def test_rendered_frames_have_the_right_shape_and_type():
    frames = render_clip(ACTIONS[0], np.random.default_rng(0), 5, 40, 32)
    assert frames.shape == (5, 32, 40, 3) and frames.dtype == np.uint8


def test_resume_keeps_finished_files_and_refuses_other_settings(small_set, tmp_path):
    clip = next((small_set / "videos").glob("*/*.avi"))
    before = clip.stat().st_mtime_ns
    generate_dataset(SynthConfig(**SMALL), small_set)
    assert clip.stat().st_mtime_ns == before
    with pytest.raises(ZsarError, match="other settings.*frames 12 -> 16"):
        generate_dataset(SynthConfig(**{**SMALL, "frames": 16}), small_set)
    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "x.txt").write_text("mine")
    with pytest.raises(ZsarError, match="not a zsar synth folder"):
        generate_dataset(SynthConfig(**SMALL), tmp_path / "foreign")


def test_mp4_output(tmp_path):
    root = generate_dataset(SynthConfig(classes=2, per_class=1, frames=8, width=64, height=64,
                                        format="mp4"), tmp_path / "mp4")
    paths = sorted((root / "videos").glob("*/*.mp4"))
    assert len(paths) == 2
    assert len(decord.VideoReader(str(paths[0]))) == 8


@pytest.mark.parametrize("bad, message", [
    (dict(classes=1), "--classes 1"),
    (dict(classes=len(ACTIONS) + 1), f"between 2 and {len(ACTIONS)}"),
    (dict(width=63), "even sizes"),
    (dict(format="mkv"), "--format 'mkv'"),
    (dict(per_class=0), "--per-class 0"),
])
def test_bad_settings_name_the_value(bad, message):
    with pytest.raises(ZsarError, match=re.escape(message)):
        SynthConfig(**bad)
