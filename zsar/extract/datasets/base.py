"""What every dataset adapter shares: the config, record and dataset types, the registry and path safety.

An adapter is a function ``(config: DatasetConfig) -> VideoDataset`` registered in
``DATASETS``; it reads annotation files and looks at the disk but never decodes a video.
``make_dataset`` gives every adapter the same guarantees:

- classes in plain code-point order of their raw names (Python's ``sorted``), the order
  E2E's ``np.unique(labels)`` gives and so the one its seeded half-class splits index
  into. For UCF101 this differs from ``classInd.txt`` in a few places (``JumpRope``
  before ``JumpingJack``, ``HammerThrow`` before ``Hammering``), so zsar's label indices
  are not classInd's minus one; ``class_texts[i] = natural_text(class_names[i])``. An
  adapter whose names E2E sorted in another spelling passes ``order`` (ActivityNet:
  see ``dataset_web``);
- records ordered by class index, then ``video_id``; video ids unique;
- an empty dataset is an error, not an empty cache.

Every path that comes out of an annotation file goes through ``path_inside``: it is
joined to a folder of the dataset and normalised *lexically* (``..`` folded, symlinks
not followed, so a dataset whose ``videos/`` is a symlink to other storage still works),
and must stay inside the dataset root. A video that is a dangling symlink (its target gone,
or a loop) is listed like any video and becomes a failed row naming its target
(``broken_link``), never silently left out.
"""

from __future__ import annotations

import errno
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable

from zsar.errors import ZsarError
from zsar.extract.datasets.names import natural_text
from zsar.registry import Registry

log = logging.getLogger(__name__)

DatasetFactory = Callable[["DatasetConfig"], "VideoDataset"]
# The modules that register the built-in adapters; the registry imports them on first use.
DATASET_MODULES = ("zsar.extract.datasets.official", "zsar.extract.datasets.youtube", "zsar.extract.datasets.custom",
                   "zsar.extract.datasets.unlabelled")
DATASETS: Registry[DatasetFactory] = Registry("dataset", modules=DATASET_MODULES)

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".webm", ".mov", ".mpg", ".mpeg", ".m4v")
NO_SPLITS = ("", "", "")
# Spellings of split names seen in annotation files -> the manifest's values.
SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "val": "val", "valid": "val", "validate": "val", "validation": "val",
    "test": "test", "testing": "test",
    "unused": "unused", "": "",
}
MISSING_SHOWN = 3  # how many missing entries an error message names


@dataclass(frozen=True)
class DatasetConfig:
    """Where a dataset is: its ``root`` and an optional annotation override.

    ``splits``: split/annotation dir or file (hmdb51 split dir, ucf101 list dir, kinetics
    CSV dir/file, activitynet JSON, csv list file). ``subset``: kinetics/activitynet
    subset to keep ("train"/"val"/"test", or "training"/"validation"/"testing").
    """

    root: Path
    splits: Path | None = None
    subset: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root).expanduser())
        if self.splits is not None:
            object.__setattr__(self, "splits", Path(self.splits).expanduser())


@dataclass(frozen=True, kw_only=True)
class VideoRecord:
    """One sample: a whole video, or the ``[start, end]`` seconds of one (NaN = whole video)."""

    video_id: str
    path: Path
    label: str
    splits: tuple[str, str, str] = NO_SPLITS
    start: float = float("nan")
    end: float = float("nan")


@dataclass(frozen=True, kw_only=True)
class VideoDataset:
    """A dataset's classes (raw names and natural text) and its records, in a stable order."""

    name: str
    class_names: list[str]
    class_texts: list[str]
    records: list[VideoRecord]
    found: str


def class_order(names: Iterable[str], order: Callable[[str], str] | None = None) -> list[str]:
    """Unique class names in the documented order: code-point order of the raw names (E2E's),
    or of ``order(name)`` where E2E sorted another spelling of them."""
    return sorted(set(names), key=order)


def make_dataset(name: str, records: list[VideoRecord], found: str, *, root: Path,
                 class_names: Iterable[str] | None = None,
                 order: Callable[[str], str] | None = None) -> VideoDataset:
    """Order classes and records, check ids are unique and that there is something to extract.

    ``class_names`` (default: the records' labels) may hold classes with no video left
    (e.g. Kinetics clips gone from YouTube); every record's label must be among them.
    ``order`` maps a name to the string its class is sorted by (default: the name).
    """
    classes = class_order(class_names if class_names is not None else (r.label for r in records), order)
    if not records:
        raise ZsarError(f"{name}: no videos found under {root} ({found}); check --root")
    index = {c: i for i, c in enumerate(classes)}
    unknown = sorted({r.label for r in records} - index.keys())
    assert not unknown, f"records with labels outside the class list: {unknown[:MISSING_SHOWN]}"
    ordered = sorted(records, key=lambda r: (index[r.label], r.video_id))
    seen: set[str] = set()
    for record in ordered:
        if record.video_id in seen:
            raise ZsarError(f"{name}: video id {record.video_id!r} appears twice under {root}; "
                            "remove the duplicate entry or file")
        seen.add(record.video_id)
    log.info("%s: %s", name, found)
    return VideoDataset(name=name, class_names=classes,
                        class_texts=[natural_text(c) for c in classes], records=ordered, found=found)


def check_root(name: str, root: Path, *, file_ok: bool = False) -> Path:
    """``root`` made absolute; a missing root (or a file where a folder is needed) is an error."""
    if not root.exists():
        raise ZsarError(f"{name}: dataset root {root} does not exist; pass --root with the folder "
                        "that holds the dataset")
    if not file_ok and not root.is_dir():
        raise ZsarError(f"{name}: dataset root {root} is a file; pass --root with the dataset folder")
    return Path(os.path.abspath(root))


def path_inside(root: Path, base: Path, entry: str, source: Path | str) -> Path:
    """``base / entry`` normalised lexically; it must stay inside ``root`` (else ZsarError naming both)."""
    path = Path(os.path.normpath(os.path.join(base, entry)))
    if not entry.strip() or not path.is_relative_to(root) or path == root:
        raise ZsarError(f"entry {entry!r} in {source} points outside the dataset root {root}; "
                        "annotation paths must be relative paths inside the root")
    return path


def normalise_split(value: str, source: Path | str) -> str:
    """A split name from an annotation file ("training", "validate", ...) as a manifest value."""
    split = SPLIT_ALIASES.get(value.strip().lower())
    if split is None:
        raise ZsarError(f"split {value!r} in {source} is not one of train, val, test, unused; "
                        "fix that entry")
    return split


def is_video(path: Path) -> bool:
    """A visible file with a video extension (temporary ``.x.tmp`` and hidden files are skipped)."""
    return path.suffix.lower() in VIDEO_EXTENSIONS and not path.name.startswith(".")


def videos_in(folder: Path, recursive: bool = False) -> list[Path]:
    """Video files in ``folder`` (or below it), sorted; a dangling symlink is listed too (``broken_link``)."""
    pattern = "**/*" if recursive else "*"
    return sorted(p for p in folder.glob(pattern) if is_video(p) and (p.is_file() or broken_link(p) is not None))


def broken_link(path: Path) -> str | None:
    """Why ``path`` is a symlink that leads to no file (its target is missing, or a loop), or ``None``.

    Such a video is listed, not left out: decoding it fails with these words, so it becomes a
    failed row that names its target (a deleted file, an unmounted drive).
    """
    if not os.path.islink(path):
        return None
    try:
        target = os.readlink(path)
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return f"{path} is a symlink to {target}, which leads back to itself (a loop)"
        return f"{path} is a symlink to {target}, which does not exist"
    return None


def index_videos(root: Path) -> tuple[dict[str, Path], int]:
    """One pass over ``root`` (any depth, symlinked folders followed once): file stem -> path.

    Returns the index and the number of duplicate stems (the first path in sorted walk
    order is kept).
    """
    found: dict[str, Path] = {}
    duplicates = 0
    visited: set[str] = set()
    for folder, dirs, files in os.walk(root, followlinks=True):
        real = os.path.realpath(folder)
        if real in visited:
            dirs[:] = []
            continue
        visited.add(real)
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            if not is_video(path):
                continue
            if path.stem in found:
                duplicates += 1
                continue
            found[path.stem] = path
    return found, duplicates


def first_existing(candidates: Iterable[Path], accept: Callable[[Path], bool]) -> Path | None:
    """The first candidate that exists and passes ``accept``."""
    for path in candidates:
        if path.exists() and accept(path):
            return path
    return None


def named_few(items: Iterable[object]) -> str:
    """The first few items, for an error message: ``'a', 'b', 'c' and 7 more``."""
    items = list(items)
    shown = ", ".join(repr(str(i)) for i in items[:MISSING_SHOWN])
    return shown + (f" and {len(items) - MISSING_SHOWN} more" if len(items) > MISSING_SHOWN else "")
