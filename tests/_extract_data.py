"""Shared by the extraction tests: tiny synthetic datasets, CLI runs and cache readers.

Videos are 64x64 (decord mis-decodes 48-px-wide ones), 16 frames, a few classes: a
module-scoped fixture writes them once per test module.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import torch

from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import read_manifest
from zsar.cache.shards import ShardReader
from zsar.extract.decode import DecodedVideo
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.loader import LoadedVideo
from zsar.extract.sampling import SamplingConfig
from zsar.synth import SynthConfig, generate_dataset

# A fast, offline model pair: the seeded tiny CNN and the seeded tiny text encoder.
TINY = ["--backbone", "tiny-random", "--text-encoder", "tiny-random", "--prompts", "plain"]
REPO = Path(__file__).resolve().parent.parent


def make_synth(out: Path, classes: int = 3, per_class: int = 3, frames: int = 16) -> Path:
    """A ``zsar synth`` dataset (HMDB51 layout) at ``out``."""
    generate_dataset(SynthConfig(classes=classes, per_class=per_class, frames=frames, width=64, height=64), out)
    return out


def make_ucf_from_synth(synth: Path, out: Path) -> tuple[Path, dict[str, str]]:
    """A UCF101-layout copy of a synth dataset; returns the root and {UCF class: synth class}."""
    classes = sorted(p.name for p in (synth / "videos").iterdir())
    names = {"".join(w.capitalize() for w in c.split("_")): c for c in classes}
    lists = out / "ucfTrainTestlist"
    lists.mkdir(parents=True)
    train, test = [], []
    for ucf, src in names.items():
        (out / "UCF-101" / ucf).mkdir(parents=True)
        for g, video in enumerate(sorted((synth / "videos" / src).glob("*.avi")), start=1):
            name = f"v_{ucf}_g{g:02d}_c01.avi"
            shutil.copy(video, out / "UCF-101" / ucf / name)
            (train if g % 2 else test).append((ucf, name))
    order = sorted(names)
    (lists / "classInd.txt").write_text("".join(f"{i} {c}\n" for i, c in enumerate(order, start=1)))
    for n in (1, 2, 3):
        (lists / f"trainlist{n:02d}.txt").write_text(
            "".join(f"{c}/{v} {order.index(c) + 1}\n" for c, v in train))
        (lists / f"testlist{n:02d}.txt").write_text("".join(f"{c}/{v}\n" for c, v in test))
    return out, names


def run_zsar(*args: str, cache_env: Path | None = None, env: dict | None = None,
             timeout: float = 300) -> subprocess.CompletedProcess:
    """``python -m zsar ARGS`` in a subprocess, output captured as text."""
    full_env = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    full_env.pop("ZSAR_CACHE", None)
    if cache_env is not None:
        full_env["ZSAR_CACHE"] = str(cache_env)
    return subprocess.run([sys.executable, "-m", "zsar", *args], capture_output=True, text=True,
                          env=full_env, timeout=timeout, cwd=REPO)


def cache_dir_of(output: str) -> Path:
    """The folder a ``zsar extract`` run printed on its ``cache:`` line."""
    line = next(line for line in output.splitlines() if line.startswith("cache: "))
    return Path(line[len("cache: "):])


def read_cache(cache_dir: Path) -> dict[str, dict[str, np.ndarray]]:
    """{video_id: {features, frame_index, timestamps, status}} of every manifest row, for comparisons."""
    layout = CacheLayout(Path(cache_dir))
    table = read_manifest(layout)
    out: dict[str, dict] = {}
    readers: dict[str, ShardReader] = {}
    try:
        for row in table.to_pylist():
            entry = {"status": row["status"], "label": row["label"], "video_row": row["video_row"]}
            if row["shard"]:
                reader = readers.setdefault(row["shard"], ShardReader(layout.shard_path(row["shard"])))
                for name in ("features", "frame_index", "timestamps"):
                    entry[name] = reader.read(name, np.array([row["row"]]))[0]
            assert row["video_id"] not in out, f"duplicate row for {row['video_id']}"
            out[row["video_id"]] = entry
    finally:
        for reader in readers.values():
            reader.close()
    return out


def assert_same_cache(a: dict, b: dict) -> None:
    """Same videos, same status, bit-identical arrays."""
    assert sorted(a) == sorted(b)
    for vid in a:
        assert a[vid]["status"] == b[vid]["status"], vid
        for name in ("features", "frame_index", "timestamps"):
            if name in a[vid] or name in b[vid]:
                assert np.array_equal(a[vid][name], b[vid][name]), (vid, name)


def loaded_video(position: int, clips: int | None) -> LoadedVideo:
    """A decoded video of ``clips`` clips of 2 4x4 frames filled with ``position`` (``None``: a failed one)."""
    if clips is None:
        return LoadedVideo(position, None, "broken")
    frames = torch.full((clips, 2, 4, 4, 3), position, dtype=torch.uint8)
    return LoadedVideo(position, DecodedVideo(frames=frames, frame_index=np.zeros((clips, 2)),
                                              timestamps=np.zeros((clips, 2)), n_frames=2, fps=25.0, duration=0.08))


def reference_extraction(synth: Path, cache: Path, batch_size: int,
                         resolution: int) -> dict[str, dict[str, np.ndarray]]:
    """``read_cache`` of an uninterrupted tiny-random extraction of ``synth`` in this process, decoding in it
    (2 videos per shard, 2 clips per video): what a killed and resumed run must reproduce bit for bit."""
    result = extract(ExtractConfig(
        dataset="synthetic", root=synth, backbone="tiny-random", text_encoder="tiny-random", prompts="plain",
        cache=cache, videos_per_shard=2, batch_size=batch_size, resolution=resolution,
        sampling=SamplingConfig(clips=2), threads=1, workers=0))
    return read_cache(result.cache_dir)
