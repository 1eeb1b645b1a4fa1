"""A tiny stand-in for the real data, so ``zsar reproduce ROW --dry`` runs every step of a row end to end.

``write_standin(folder, datasets)`` writes, offline and in seconds:

- a random-weight CLIP (``zsar.testing.write_tiny_clip``: 32 x 32 images, its own
  character tokenizer), saved as a ``--weights`` folder;
- each dataset in its real layout with its real class names (the protocol lists zsar
  ships: ViFi-CLIP's UCF101 and HMDB51 names, the K400 and K600 label files), a few short
  random videos copied under the real file names: UCF101 ``UCF-101/<Class>/v_<Class>_g01_c01.avi``
  with ``ucfTrainTestlist/``; HMDB51 class folders with ``testTrainMulti_7030_splits/``;
  Kinetics ``<split>/<label>/<id>_<start>_<end>.avi`` with the official CSV columns. Every
  class has a test (Kinetics: val) video in each split, every K400 class a train video (the
  source set); with ``few_shot`` each base class of the base-to-novel lists also has the
  first video of each seed's 16-shot list as a train video.

Random weights and random pixels say nothing about accuracy: a dry run checks that the
steps run and the comparison is made, and its verdicts must read "below".
"""

from __future__ import annotations

import csv
import shutil
from functools import partial
from pathlib import Path

import numpy as np

from zsar.errors import ZsarError
from zsar.heads.class_lists import FEW_SHOT_SEEDS, base_novel, kinetics_labels, read_list, video_stem

STANDIN_DATASETS = ("ucf101", "hmdb51", "kinetics400", "kinetics600")
VARIETY = 8  # distinct random videos, copied under every file name
FRAMES, SIDE = 16, 32  # the tiny CLIP's input side
B2N_LISTS = {"ucf101": "ucf101", "hmdb51": "hmdb51", "kinetics400": "k400"}
N_SPLITS = 3


def _videos(folder: Path, seed: int = 0) -> list[Path]:
    from zsar.synth.render import write_video

    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(VARIETY):
        path = folder / f"standin-{i}.avi"
        write_video(rng.integers(0, 256, size=(FRAMES, SIDE, SIDE, 3), dtype=np.uint8), path, "avi")
        paths.append(path)
    return paths


def _place(sources: list[Path], path: Path, index: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(sources[index % len(sources)], path)


def _few_shot(dataset: str) -> dict[str, list[str]]:
    """Each base class's first 16-shot video (file stem) of each seed: ``{base class: [stem, ...]}``.

    A list line is ``<path> <index into the base list>`` (ViFi-CLIP's ``fs_base_s<seed>_train.txt``).
    """
    lists = B2N_LISTS[dataset]
    base, _ = base_novel(lists)
    firsts: dict[str, list[str]] = {name: [] for name in base}
    for seed in range(1, FEW_SHOT_SEEDS + 1):
        first: dict[str, str] = {}
        for line in read_list(f"base2novel/16shot/{lists}_s{seed}.txt"):
            path, label = line.split()
            first.setdefault(base[int(label)], video_stem(path))
        for name, stem in first.items():
            firsts[name].append(stem)
    return firsts


def _ucf101(root: Path, sources: list[Path], few_shot: bool) -> None:
    base, novel = base_novel("ucf101")
    names = sorted(base + novel)
    shots = _few_shot("ucf101") if few_shot else {}
    train, test = [], []
    for i, name in enumerate(names):
        test.append(f"{name}/v_{name}_g01_c01.avi")
        train += [f"{name}/{stem}.avi" for stem in shots.get(name, [])]
    for k, entry in enumerate(train + test):
        _place(sources, root / "UCF-101" / entry, k)
    lists = root / "ucfTrainTestlist"
    lists.mkdir(parents=True, exist_ok=True)
    (lists / "classInd.txt").write_text("".join(f"{i} {n}\n" for i, n in enumerate(names, 1)))
    index = {n: i for i, n in enumerate(names, 1)}
    for split in range(1, N_SPLITS + 1):
        (lists / f"trainlist{split:02d}.txt").write_text("".join(f"{e} {index[e.split('/')[0]]}\n" for e in train))
        (lists / f"testlist{split:02d}.txt").write_text("".join(f"{e}\n" for e in test))


def _hmdb51(root: Path, sources: list[Path], few_shot: bool) -> None:
    base, novel = base_novel("hmdb51")
    shots = _few_shot("hmdb51") if few_shot else {}
    splits = root / "testTrainMulti_7030_splits"
    splits.mkdir(parents=True, exist_ok=True)
    k = 0
    for name in sorted(base + novel):
        files = {f"{name}_standin_test_0.avi": "2"}
        files.update({f"{stem}.avi": "1" for stem in shots.get(name, [])})
        for file in files:
            _place(sources, root / "hmdb51_org" / name / file, k)
            k += 1
        for split in range(1, N_SPLITS + 1):
            (splits / f"{name}_test_split{split}.txt").write_text("".join(f"{f} {v} \n" for f, v in files.items()))


def _kinetics(root: Path, sources: list[Path], few_shot: bool, classes: int) -> None:
    names = kinetics_labels(classes)
    shots = _few_shot("kinetics400") if few_shot and classes == 400 else {}
    rows: dict[str, list[tuple[str, str, int, int]]] = {"train": [], "val": []}
    for i, name in enumerate(names):
        rows["val"].append((name, f"val{classes}{i:07d}", 0, 10))
        if classes == 400:  # K400 trains (a source set); K600 is only tested
            rows["train"].append((name, f"trn{classes}{i:07d}", 0, 10))
        for stem in shots.get(name, []):
            youtube_id, start, end = stem.rsplit("_", 2)
            rows["train"].append((name, youtube_id, int(start), int(end)))
    annotations = root / "annotations"
    annotations.mkdir(parents=True, exist_ok=True)
    k = 0
    for split, file in (("train", "train.csv"), ("val", "validate.csv")):
        with (annotations / file).open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(["label", "youtube_id", "time_start", "time_end", "split"])
            for label, youtube_id, start, end in rows[split]:
                writer.writerow([label, youtube_id, start, end, split])
                _place(sources, root / split / label / f"{youtube_id}_{start:06d}_{end:06d}.avi", k)
                k += 1


def write_standin(folder: Path, datasets: list[str], few_shot: bool = False) -> tuple[dict[str, Path], Path]:
    """Write the stand-in of ``datasets`` and a tiny random CLIP under ``folder``; ``(roots, weights)``.

    ``few_shot``: also the base classes' first 16-shot video of each seed (for ``base-to-novel``).
    """
    from zsar.extract.models.tiny_weights import write_tiny_clip

    unknown = [d for d in datasets if d not in STANDIN_DATASETS]
    if unknown:
        raise ZsarError(f"--dry has no stand-in for {unknown[0]}; it has {', '.join(STANDIN_DATASETS)}")
    folder = Path(folder)
    sources = _videos(folder / "sources")
    writers = {"ucf101": _ucf101, "hmdb51": _hmdb51, "kinetics400": partial(_kinetics, classes=400),
               "kinetics600": partial(_kinetics, classes=600)}
    roots = {}
    for dataset in datasets:
        roots[dataset] = folder / dataset
        writers[dataset](roots[dataset], sources, few_shot)
    shutil.rmtree(folder / "sources")
    return roots, write_tiny_clip(folder / "clip")
