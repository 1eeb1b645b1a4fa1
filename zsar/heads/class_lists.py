"""The class and video lists of the CLIP-era protocols, shipped in ``zsar/protocol_data`` and checksummed.

- ``k600_novel_split(i)``: ER-ZSAR's K600 zero-shot test split i (160 classes);
  ``k600_novel_classes()``: the 220 novel K600 classes the splits draw from;
- ``kinetics_labels(n)``: the K400 / K600 class names (ViFi-CLIP's and X-CLIP's label files);
- ``base_novel(dataset)``: ViFi-CLIP's base and novel class halves of ``k400``, ``hmdb51``,
  ``ucf101``, ``ssv2``; ``few_shot_videos(dataset, seed)``: its 16-shot training videos of
  the base classes for seed 1..3 (file stems);
- ``match_classes(listed, names, ...)``: where listed classes are among a cache's classes.

Every list file is checked against ``SHA256SUMS`` before it is read (provenance:
``zsar/protocol_data/README.md``). Class names match when they agree after lower-casing and
dropping everything but letters and digits, so "ApplyEyeMakeup", "apply_eye_makeup" and
"Apply Eye Makeup" are one class (X-CLIP/ViFi-CLIP spell UCF101 in CamelCase, Open-VCLIP
with spaces); a listed class the cache lacks is one error that names it.
"""

from __future__ import annotations

import hashlib
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from zsar.errors import ZsarError

DATA = Path(__file__).resolve().parent.parent / "protocol_data"
SUMS = "SHA256SUMS"
K600_SPLITS = 3
FEW_SHOT_SEEDS = 3
# base-to-novel list names -> the dataset names of caches they fit (``CacheConfig.dataset``)
B2N_DATASETS = {"k400": ("kinetics400", "k400"), "hmdb51": ("hmdb51",), "ucf101": ("ucf101",),
                "ssv2": ("ssv2", "something-something-v2", "sthsthv2")}


@lru_cache(maxsize=1)
def _checksums() -> dict[str, str]:
    lines = (DATA / SUMS).read_text().splitlines()
    return {name: digest for digest, name in (line.split(maxsplit=1) for line in lines if line.strip())}


@lru_cache(maxsize=None)
def read_list(name: str) -> tuple[str, ...]:
    """The non-empty lines of ``protocol_data/<name>``, after checking the file's sha256."""
    expected = _checksums().get(name)
    path = DATA / name
    if expected is None or not path.is_file():
        raise ZsarError(f"protocol list {name} is not in {DATA}; reinstall zsar (pip install --force-reinstall)")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != expected:
        raise ZsarError(f"protocol list {path} has sha256 {actual[:12]}, not {expected[:12]} as {SUMS} says: "
                        "it was changed; reinstall zsar (pip install --force-reinstall)")
    return tuple(line.strip() for line in path.read_text().splitlines() if line.strip())


def k600_novel_split(split: int) -> list[str]:
    """ER-ZSAR's K600 zero-shot test split ``split`` (1..3): 160 class names, alphabetical."""
    if not 1 <= split <= K600_SPLITS:
        raise ZsarError(f"k600-novel split {split}: ER-ZSAR has splits 1 to {K600_SPLITS}")
    return list(read_list(f"k600_novel/split{split}.txt"))


def k600_novel_classes() -> list[str]:
    """The 220 K600 classes ER-ZSAR treats as novel (not K600 minus K400: 11 K600 names are renamed K400 classes)."""
    return list(read_list("k600_novel/novel_220.txt"))


def kinetics_labels(n_classes: int) -> list[str]:
    """The class names of Kinetics-400 or -600, in the label files' (alphabetical) order."""
    if n_classes not in (400, 600):
        raise ZsarError(f"kinetics{n_classes}: zsar ships the class lists of kinetics400 and kinetics600")
    return list(read_list(f"labels/kinetics{n_classes}.txt"))


def b2n_lists_for(dataset: str) -> str:
    """The base-to-novel list name (``k400``, ``hmdb51``, ``ucf101``, ``ssv2``) for a cache's dataset name."""
    key = dataset.strip().lower()
    for name, datasets in B2N_DATASETS.items():
        if key == name or key in datasets:
            return name
    raise ZsarError(f"base-to-novel has class lists for {', '.join(B2N_DATASETS)}, not for dataset {dataset!r}; "
                    "pick one with --class-lists NAME")


def base_novel(lists: str) -> tuple[list[str], list[str]]:
    """ViFi-CLIP's ``(base, novel)`` class names for ``lists`` (k400, hmdb51, ucf101, ssv2)."""
    name = b2n_lists_for(lists)
    return list(read_list(f"base2novel/{name}_base.txt")), list(read_list(f"base2novel/{name}_novel.txt"))


def few_shot_videos(lists: str, seed: int) -> list[str]:
    """The file stems of ViFi-CLIP's 16-shot base-class training videos of ``lists`` for seed 1..3."""
    if not 1 <= seed <= FEW_SHOT_SEEDS:
        raise ZsarError(f"base-to-novel seed {seed}: ViFi-CLIP's 16-shot lists have seeds 1 to {FEW_SHOT_SEEDS}")
    lines = read_list(f"base2novel/16shot/{b2n_lists_for(lists)}_s{seed}.txt")
    return [video_stem(line.split()[0]) for line in lines]


def video_stem(path: str) -> str:
    """``train/abc_000001_000011.mp4`` or ``ApplyEyeMakeup/v_x.avi`` -> ``abc_000001_000011`` / ``v_x``."""
    return Path(path.replace("\\", "/").split("/")[-1]).stem


def class_key(name: str) -> str:
    """What class names are matched on: lower-case letters and digits only."""
    return re.sub(r"[^a-z0-9]", "", name.lower())


def match_classes(listed: list[str], names: list[str], what: str, where: object) -> np.ndarray:
    """Indices in ``names`` (a cache's classes) of the ``listed`` classes, in the list's order.

    A listed class missing from ``names`` is one ``ZsarError`` naming it; so are two cache
    classes that match one listed name.
    """
    index: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        index.setdefault(class_key(name), []).append(i)
    missing = [name for name in listed if class_key(name) not in index]
    if missing:
        more = f" (and {len(missing) - 1} more)" if len(missing) > 1 else ""
        raise ZsarError(f"{what} lists class {missing[0]!r}{more}, which {where} does not have; extract that dataset "
                        "with all its classes, or rename the class in its annotations")
    twice = next((name for name in listed if len(index[class_key(name)]) > 1), None)
    if twice is not None:
        shown = ", ".join(repr(names[i]) for i in index[class_key(twice)])
        raise ZsarError(f"{what}: class {twice!r} matches {shown} in {where}; give them distinct names")
    return np.array([index[class_key(name)][0] for name in listed], dtype=np.int64)
