"""Datasets of class folders with official split lists: ``hmdb51``, ``ucf101`` and ``synthetic``.

Both read the videos from class folders and the split membership from the official
lists. Every video found on disk is a record; a video on disk that no split file lists is
kept with split value ``""`` for that split (zero-shot protocols split by class and use
every video) and counted in ``found``. A video a split file lists but the disk lacks is an
error naming a few (a broken download or extraction, not something to skip silently).

``hmdb51`` (and ``synthetic``, which is ``zsar synth``'s HMDB51-layout output):
    ROOT/[videos/]<class>/<video>.avi
    ROOT/{testTrainMulti_7030_splits,splits,annotations}/<class>_test_split{1,2,3}.txt
    (or --splits DIR); lines "<video> <0|1|2>": 1 train, 2 test, 0 unused.
``ucf101``:
    ROOT/[UCF-101/]<Class>/v_<Class>_gXX_cYY.avi
    ROOT/ucfTrainTestlist/{classInd.txt, trainlist0N.txt, testlist0N.txt} (or --splits DIR)
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.datasets.base import (
    DATASETS, DatasetConfig, VideoDataset, VideoRecord, check_root, class_order, first_existing,
    make_dataset, named_few, path_inside, videos_in)

log = logging.getLogger(__name__)

N_SPLITS = 3
HMDB_VIDEO_DIRS = ("videos", "hmdb51_org", "hmdb51")
HMDB_SPLIT_DIRS = ("testTrainMulti_7030_splits", "splits", "annotations",
                   "test_train_splits/testTrainMulti_7030_splits")
HMDB_SPLIT_IDS = {"0": "unused", "1": "train", "2": "test"}
HMDB_SPLIT_FILE = re.compile(r"^(?P<cls>.+)_test_split(?P<n>[1-9])\.txt$")
UCF_VIDEO_DIRS = ("UCF-101", "UCF101", "videos")
UCF_LIST_DIRS = ("ucfTrainTestlist", "UCF101TrainTestSplits-RecognitionTask/ucfTrainTestlist",
                 "splits", "annotations")
UCF_LIST_FILE = re.compile(r"^(?P<kind>train|test)list(?P<n>\d\d)\.txt$")

SplitMaps = list[dict[Path, str]]  # per split number: video path -> "train"/"test"/"unused"


def class_dirs(folder: Path) -> dict[str, Path]:
    """Sub-folders of ``folder`` that hold at least one video, by name."""
    return {d.name: d for d in sorted(folder.iterdir()) if d.is_dir() and videos_in(d)}


def find_video_dir(name: str, root: Path, subdirs: tuple[str, ...]) -> Path:
    """The folder holding the class folders: the first of ``root/<subdir>`` that has some, else root."""
    found = first_existing([root / d for d in subdirs] + [root], lambda d: d.is_dir() and bool(class_dirs(d)))
    if found is None:
        looked = ", ".join(str(root / d) for d in subdirs)
        raise ZsarError(f"{name}: no class folders of videos in {root} or {looked}; "
                        "pass --root with the folder that holds <class>/<video> folders")
    return found


def find_split_dir(name: str, root: Path, override: Path | None, subdirs: tuple[str, ...],
                   accept, what: str) -> Path:
    """The split/list folder: ``--splits`` if given (checked), else the first fitting ``root/<subdir>``."""
    if override is not None:
        if not override.is_dir() or not accept(override):
            raise ZsarError(f"{name}: --splits {override} is not a folder holding {what}; "
                            "pass the folder with the official split files")
        return override
    found = first_existing([root / d for d in subdirs], lambda d: d.is_dir() and accept(d))
    if found is None:
        looked = ", ".join(str(root / d) for d in subdirs)
        raise ZsarError(f"{name}: no {what} found (looked in {looked}); pass --splits DIR with the "
                        "official split files, or use --dataset folder for class folders without splits")
    return found


def records_with_splits(name: str, videos: dict[Path, tuple[str, str]], split_maps: SplitMaps,
                        split_source: Path) -> tuple[list[VideoRecord], int]:
    """Records for every video on disk (``path -> (video_id, label)``), with their split values.

    Returns the records and how many videos no split file lists. Listed videos missing on
    disk raise ZsarError naming a few.
    """
    listed = set().union(*split_maps) if split_maps else set()
    missing = sorted(listed - videos.keys())
    if missing:
        raise ZsarError(f"{name}: {len(missing)} videos listed in {split_source} are missing on disk "
                        f"({named_few(missing)}); re-extract the dataset archive or fix --root")
    records, unlisted = [], 0
    for path, (video_id, label) in videos.items():
        values = [m.get(path, "") for m in split_maps] + [""] * (N_SPLITS - len(split_maps))
        unlisted += path not in listed
        records.append(VideoRecord(video_id=video_id, path=path, label=label, splits=tuple(values[:N_SPLITS])))
    return records, unlisted


def unlisted_note(unlisted: int) -> str:
    return f", {unlisted} videos in no split file kept with split ''" if unlisted else ""


# --------------------------------------------------------------------------- hmdb51


def read_hmdb_split_file(path: Path, root: Path, class_dir: Path) -> dict[Path, str]:
    """One ``<class>_test_splitN.txt``: video path -> "train"/"test"/"unused"."""
    values: dict[Path, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = line.strip().rsplit(maxsplit=1)
        if len(parts) != 2 or parts[1] not in HMDB_SPLIT_IDS:
            raise ZsarError(f"{path}:{lineno}: expected '<video> <0|1|2>', got {line.strip()!r}; "
                            "fix or restore the official split file")
        entry = parts[0]
        if "/" in entry or "\\" in entry or entry in (".", ".."):
            raise ZsarError(f"entry {entry!r} in {path} points outside its class folder {class_dir}; "
                            "split files must list bare video file names")
        values[path_inside(root, class_dir, entry, path)] = HMDB_SPLIT_IDS[parts[1]]
    return values


def _numbered_files(folder: Path, pattern: re.Pattern[str]) -> dict[tuple[str, int], Path]:
    """Files of ``folder`` whose names match ``pattern`` -> {(its first group, its number ``n``): path}."""
    files = {}
    for path in sorted(folder.iterdir()):
        match = pattern.match(path.name)
        if match and path.is_file():
            files[(match[1], int(match["n"]))] = path
    return files


def _hmdb_split_files(split_dir: Path) -> dict[tuple[str, int], Path]:
    """``<class>_test_split<n>.txt`` -> {(class, n): path}."""
    return _numbered_files(split_dir, HMDB_SPLIT_FILE)


def load_hmdb_layout(name: str, config: DatasetConfig) -> VideoDataset:
    """Class folders + ``<class>_test_split{1,2,3}.txt`` files (HMDB51 and ``zsar synth`` output)."""
    root = check_root(name, config.root)
    video_dir = find_video_dir(name, root, HMDB_VIDEO_DIRS)
    split_dir = find_split_dir(name, root, config.splits, HMDB_SPLIT_DIRS,
                               lambda d: bool(_hmdb_split_files(d)),
                               "split files <class>_test_split{1,2,3}.txt")
    files = _hmdb_split_files(split_dir)
    classes = class_dirs(video_dir)
    orphans = class_order({c for c, _ in files} - classes.keys())
    if orphans:
        raise ZsarError(f"{name}: split files in {split_dir} name classes with no video folder in "
                        f"{video_dir} ({named_few(orphans)}); restore those folders or fix --root")
    numbers = sorted({n for _, n in files})
    if numbers[-1] > N_SPLITS:
        raise ZsarError(f"{name}: split files in {split_dir} go up to split{numbers[-1]}; "
                        f"the manifest holds {N_SPLITS} splits, remove the others")
    videos: dict[Path, tuple[str, str]] = {}
    split_maps: SplitMaps = [{} for _ in range(N_SPLITS)]
    for cls, folder in classes.items():
        for n in numbers:
            file = files.get((cls, n))
            if file is None:
                raise ZsarError(f"{name}: class folder {folder} has no split file "
                                f"{split_dir / f'{cls}_test_split{n}.txt'}; restore it, or pass "
                                "--splits DIR with the complete set")
            split_maps[n - 1].update(read_hmdb_split_file(file, root, folder))
        videos.update({p: (f"{cls}/{p.stem}", cls) for p in videos_in(folder)})
    records, unlisted = records_with_splits(name, videos, split_maps, split_dir)
    found = (f"{len(classes)} classes, {len(records)} videos in {video_dir}, splits "
             f"{','.join(map(str, numbers))} from {split_dir}{unlisted_note(unlisted)}")
    return make_dataset(name, records, found, root=root)


@DATASETS.register("hmdb51", help="HMDB51: class folders of .avi + testTrainMulti_7030_splits")
def load_hmdb51(config: DatasetConfig) -> VideoDataset:
    return load_hmdb_layout("hmdb51", config)


@DATASETS.register("synthetic", help="a `zsar synth` output folder (HMDB51 layout)")
def load_synthetic(config: DatasetConfig) -> VideoDataset:
    if not config.root.exists():
        raise ZsarError(f"synthetic: {config.root} does not exist; run `zsar synth {config.root}` "
                        "first to generate the synthetic videos there")
    return load_hmdb_layout("synthetic", config)


# --------------------------------------------------------------------------- ucf101


def read_class_index(path: Path) -> dict[int, str]:
    """``classInd.txt``: 1-based ``"<index> <Class>"`` lines -> {index: Class}."""
    index: dict[int, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            raise ZsarError(f"{path}:{lineno}: expected '<index> <Class>', got {line.strip()!r}")
        index[int(parts[0])] = parts[1]
    if sorted(index) != list(range(1, len(index) + 1)):
        raise ZsarError(f"{path}: class indices must run 1..{len(index)} (1-based, no gaps)")
    return index


def read_ucf_list(path: Path, root: Path, video_dir: Path, class_index: dict[int, str],
                  value: str) -> dict[Path, str]:
    """``trainlist0N.txt`` (``"<Class>/<video> <index>"``) or ``testlist0N.txt`` (``"<Class>/<video>"``)."""
    values: dict[Path, str] = {}
    for lineno, line in enumerate(path.read_text().splitlines(), 1):
        parts = line.split()
        if not parts:
            continue
        entry = parts[0]
        video = path_inside(root, video_dir, entry, path)
        if not video.is_relative_to(video_dir) or len(video.relative_to(video_dir).parts) != 2:
            raise ZsarError(f"entry {entry!r} in {path} is not '<Class>/<video file>' inside {video_dir}; "
                            "fix that line")
        if len(parts) > 1:
            label = class_index.get(int(parts[1])) if parts[1].isdigit() else None
            if label != video.parent.name:
                raise ZsarError(f"{path}:{lineno}: label {parts[1]!r} is {label!r} in classInd.txt, "
                                f"not the folder {video.parent.name!r}; lists and classInd.txt disagree")
        values[video] = value
    return values


def _ucf_lists(list_dir: Path) -> dict[tuple[str, int], Path]:
    """``trainlist0<n>.txt`` / ``testlist0<n>.txt`` -> {("train" or "test", n): path}."""
    return _numbered_files(list_dir, UCF_LIST_FILE)


def _check_ucf_classes(list_dir: Path, video_dir: Path, index: dict[int, str], folders: list[str]) -> None:
    listed = list(index.values())
    if set(listed) != set(folders):
        extra, absent = sorted(set(listed) - set(folders)), sorted(set(folders) - set(listed))
        raise ZsarError(f"ucf101: {list_dir / 'classInd.txt'} and the class folders in {video_dir} "
                        f"differ (only in classInd: {named_few(extra) or 'none'}; only on disk: "
                        f"{named_few(absent) or 'none'}); restore the missing folders or lists")
    if listed != class_order(listed):
        log.debug("ucf101: zsar numbers classes in E2E's code-point order, not classInd.txt's "
                  "(e.g. JumpRope before JumpingJack); label indices differ from classInd's")


@DATASETS.register("ucf101", help="UCF101: UCF-101/<Class>/v_*.avi + ucfTrainTestlist")
def load_ucf101(config: DatasetConfig) -> VideoDataset:
    name = "ucf101"
    root = check_root(name, config.root)
    video_dir = find_video_dir(name, root, UCF_VIDEO_DIRS)
    list_dir = find_split_dir(name, root, config.splits, UCF_LIST_DIRS,
                              lambda d: (d / "classInd.txt").is_file(),
                              "UCF101 lists (classInd.txt, trainlist0N.txt, testlist0N.txt)")
    index = read_class_index(list_dir / "classInd.txt")
    folders = class_dirs(video_dir)
    _check_ucf_classes(list_dir, video_dir, index, list(folders))
    files = _ucf_lists(list_dir)
    numbers = sorted({n for _, n in files})
    if not numbers or numbers[-1] > N_SPLITS:
        raise ZsarError(f"{name}: {list_dir} needs trainlist0N.txt/testlist0N.txt for N in 1..{N_SPLITS} "
                        f"(found {named_few(p.name for p in files.values()) or 'none'}); restore the lists")
    split_maps: SplitMaps = [{} for _ in range(N_SPLITS)]
    for n in numbers:
        for kind in ("train", "test"):
            file = files.get((kind, n))
            if file is None:
                raise ZsarError(f"{name}: missing {list_dir / f'{kind}list{n:02d}.txt'} (split {n} "
                                "needs both lists); restore it or pass --splits DIR")
            split_maps[n - 1].update(read_ucf_list(file, root, video_dir, index, kind))
    videos = {p: (f"{cls}/{p.stem}", cls) for cls, folder in folders.items() for p in videos_in(folder)}
    records, unlisted = records_with_splits(name, videos, split_maps, list_dir)
    found = (f"{len(folders)} classes, {len(records)} videos in {video_dir}, splits "
             f"{','.join(map(str, numbers))} from {list_dir}{unlisted_note(unlisted)}")
    return make_dataset(name, records, found, root=root)
