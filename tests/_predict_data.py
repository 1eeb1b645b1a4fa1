"""Shared by the ``zsar predict`` tests: a trained run on rendered clips and held-out clips of unseen actions.

``build_tiny`` makes a run in a second (tiny-random backbone and text encoder, ridge) for
the tests of the per-file cache, windows and outputs, where accuracy does not matter;
``decode_counter`` counts what extraction decodes.

The run (``ridge``, ``cross-full``) trains on the first 20 synthetic actions (8 clips each,
64x64, efficientnet-lite0 frames at 64 px, MiniLM label text) and is tested by
``train-head`` on 4 other actions. The held-out clips show 5 further actions, compositions
of seen motions that neither the run's training nor its test ever had ("jump and raise
arms" = jump's legs with raise-both-arms' arms), rendered with their own seeds into one
flat folder under neutral names, so nothing but the pixels says what they show.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

import zsar.extract.loader as loader
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.sampling import SamplingConfig
from zsar.heads.experiment import TrainHeadConfig, train_head
from zsar.heads.selection import SelectionConfig
from zsar.heads.train import TrainConfig
from zsar.synth import ACTIONS, SynthConfig, generate_dataset
from zsar.synth.actions import action_folder
from zsar.synth.render import render_clip, write_video

SIZE = 64
UNSEEN = ("jump and raise arms", "walk and raise arms", "squat and wave", "run and wave", "walk and punch")
RUN_TEST = ("turn around", "stretch arms", "hop on one leg", "march in place")
HELD_OUT_PER_ACTION = 8
EXTRACT = dict(backbone="efficientnet-lite0", text_encoder="minilm", sampling=SamplingConfig(frames=8),
               resolution=SIZE, workers=0)


@dataclass
class PredictData:
    """The run folders, the cache root and the held-out clips with their true action."""

    root: Path
    run: Path
    multi_split_run: Path
    cache: Path
    clips: Path
    truth: dict[str, str]  # clip file name -> action


def render_actions(names: tuple[str, ...], per_action: int, out: Path, seed: int, flat: bool, size: int = SIZE,
                   frames: int = 16) -> dict[str, str]:
    """Clips of ``names`` into ``out`` (flat: ``clip-NN.avi`` in a shuffled order; else a folder per action)."""
    by_name = {a.name: a for a in ACTIONS}
    jobs = [(name, k) for name in names for k in range(per_action)]
    order = np.random.default_rng(seed).permutation(len(jobs))
    truth = {}
    for number, j in enumerate(order):
        name, k = jobs[j]
        folder = out if flat else out / action_folder(name)
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / (f"clip-{number:03d}.avi" if flat else f"{action_folder(name)}_{k}.avi")
        rng = np.random.default_rng([seed, names.index(name), k])
        write_video(render_clip(by_name[name], rng, frames, size, size), path, "avi")
        truth[path.name] = name
    return truth


def build(root: Path) -> PredictData:
    """Render, extract and train everything the predict tests use (about 30 s on a loaded 2-core machine)."""
    cache = root / "cache"
    train = generate_dataset(SynthConfig(classes=20, per_class=8, frames=16, width=SIZE, height=SIZE), root / "train")
    render_actions(RUN_TEST, 2, root / "run-test", seed=11, flat=False)
    truth = render_actions(UNSEEN, HELD_OUT_PER_ACTION, root / "clips", seed=7, flat=True)
    source = extract(ExtractConfig(dataset="synthetic", root=train, cache=cache, **EXTRACT)).cache_dir
    target = extract(ExtractConfig(dataset="folder", root=root / "run-test", cache=cache, **EXTRACT)).cache_dir
    no_select = SelectionConfig(enabled=False)
    train_head(TrainHeadConfig(features=target, source_features=source, out=root / "run", head="ridge",
                               protocol="cross-full", selection=no_select, train=TrainConfig(seed=0)))
    train_head(TrainHeadConfig(features=source, out=root / "run-within", head="ridge", protocol="within-half",
                               splits=2, selection=no_select, train=TrainConfig(seed=0)))
    return PredictData(root, root / "run", root / "run-within", cache, root / "clips", truth)


@dataclass
class TinyRun:
    """A ridge run on tiny-random features, its cache root, and a flat folder of 6 rendered clips to predict."""

    run: Path
    cache: Path
    videos: Path


def tiny_model(root: Path) -> tuple[Path, Path, Path]:
    """``(dataset, cache, run)``: a synthetic set of 4 actions x 3 clips, its cache (tiny-random backbone at 32 px,
    4 frames, tiny-random text) and a ridge run on one split, under ``root``."""
    data = generate_dataset(SynthConfig(classes=4, per_class=3, frames=8, width=64, height=64), root / "data")
    cache = extract(ExtractConfig(dataset="synthetic", root=data, backbone="tiny-random", text_encoder="tiny-random",
                                  prompts="plain", sampling=SamplingConfig(frames=4), resolution=32,
                                  cache=root / "cache", workers=0)).cache_dir
    train_head(TrainHeadConfig(features=cache, out=root / "run", head="ridge", protocol="within-half", splits=1,
                               selection=SelectionConfig(enabled=False)))
    return data, cache, root / "run"


def build_tiny(root: Path, clips: int = 6) -> TinyRun:
    """``tiny_model``'s run and ``clips`` clips of 3 actions to predict."""
    _, cache, run = tiny_model(root)
    render_actions(tuple(a.name for a in ACTIONS[:3]), 2, root / "clips", seed=3, flat=True)
    assert len(list((root / "clips").iterdir())) == clips
    return TinyRun(run, root / "cache", root / "clips")


def decode_counter(monkeypatch) -> dict[str, int]:
    """Counts the videos (and windows) extraction decodes; ``workers=0`` decodes in this process."""
    count = {"n": 0}
    real = loader.decode_video

    def counting(*args, **kwargs):
        count["n"] += 1
        return real(*args, **kwargs)

    monkeypatch.setattr(loader, "decode_video", counting)
    return count
