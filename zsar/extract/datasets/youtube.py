"""Datasets downloaded from YouTube: ``kinetics400/600/700`` (CSV) and ``activitynet`` (v1.3 JSON).

Both lose videos to YouTube takedowns (Kinetics typically 5-10%), so an annotated clip
whose file is missing is skipped and counted in ``found``, never an error. Videos are
found by one pass over the root at any depth, matched by file stem, so every layout
people have works: ``<split>/<label>/`` with spaces or underscores in the label folder,
flat folders, ``.mp4``/``.mkv``/``.webm``. The class list is every label the kept
annotation rows name (a class whose clips are all gone still has its index).

``kinetics<N>``: CSVs with columns ``label,youtube_id,time_start,time_end,split[,is_cc]``
(``train.csv``, ``validate.csv``, ``test.csv``; test CSVs without labels are skipped) in
``--splits`` (a dir or one file), else the first of ROOT/annotations/kinetics<N>,
ROOT/annotations, ROOT/kinetics<N>, ROOT. Video file stem
``<youtube_id>_<start:06d>_<end:06d>``, which is also the video id. split1 =
train/val/test from the CSV; ``--subset`` keeps one.

``activitynet``: ``activity_net.v1-3.min.json`` (``--splits`` file or dir, else ROOT or
ROOT/annotations); videos ``v_<id>.*`` or ``<id>.*``. Each annotated segment is one
record, id ``<video>#<segment index>``, start/end in seconds clipped to the video's
duration. split1 = train/val/test from the JSON ``subset`` (testing has no labels).
Class names are the JSON's labels ("Rock climbing"), in E2E's order: sorted as E2E's
labels are spelled, with underscores for spaces (``e2e_activitynet_name``).

Evidence for that order (E2E's code, ``bbrattoli/ZeroShotVideoClassification``): its
ActivityNet labels come from its own annotation CSV (``auxiliary/auxiliary_activitynet.py``
reads ``annotations_all.csv``, written from an internal ``annotation-v1.json``, neither
published) and are ordered by ``np.unique``. Its class-name fixes for ActivityNet
(``auxiliary/auxiliary_word2vec.py``, ``one_class2embed_activitynet``) are keyed
``'Blow-drying_hair'``, ``'Playing_rubik_cube'``, ``'Carving_jack-o-lanterns'``, ...: every
multi-word key has underscores, none has a space, and its general rule turns ``'_'`` into
``' '`` before splitting words. So the strings it sorted had underscores. Among the 200
v1.3 labels that moves one pair: "Rock-paper-scissors" sorts before "Rock climbing"
(``'-' < '_'``, whereas ``' ' < '-'``), which changes the seeded half split of 7 of the 10
seeds (E2E's ``np.random.seed(i)`` draws, i = 0..9). This is inferred from the code, not
read from E2E's class list, which is not public.
"""

from __future__ import annotations

import csv
import json
import logging
import re
from functools import partial
from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.datasets.base import (
    DATASETS, DatasetConfig, VideoDataset, VideoRecord, check_root, index_videos, make_dataset,
    named_few, normalise_split)

log = logging.getLogger(__name__)

KINETICS_VARIANTS = (400, 600, 700)
KINETICS_COLUMNS = ("youtube_id", "time_start", "time_end")
KINETICS_CSV_DIRS = ("annotations/kinetics{n}", "annotations/kinetics-{n}", "annotations",
                     "kinetics{n}", "kinetics-{n}", ".")
YOUTUBE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
ANET_JSON_NAMES = ("activity_net.v1-3.min.json", "activity_net.v1-3.json", "activity_net.json")
ANET_JSON_DIRS = (".", "annotations")


# --------------------------------------------------------------------------- kinetics


def _is_kinetics_csv(path: Path) -> bool:
    if path.suffix.lower() != ".csv" or not path.is_file():
        return False
    with path.open(newline="") as f:
        header = next(csv.reader(f), [])
    return all(c in header for c in KINETICS_COLUMNS)


def kinetics_csv_files(name: str, root: Path, override: Path | None, variant: int) -> list[Path]:
    """The annotation CSVs: ``--splits`` (a file or a folder of them), else the first folder that has some."""
    def csvs(folder: Path) -> list[Path]:
        return [p for p in sorted(folder.glob("*.csv")) if _is_kinetics_csv(p)] if folder.is_dir() else []

    if override is not None:
        files = [override] if _is_kinetics_csv(override) else csvs(override)
        if not files:
            raise ZsarError(f"{name}: --splits {override} is not a Kinetics CSV (columns label,"
                            "youtube_id,time_start,time_end,split) nor a folder of them")
        return files
    dirs = [root / d.format(n=variant) for d in KINETICS_CSV_DIRS]
    for folder in dirs:
        if files := csvs(folder):
            return files
    raise ZsarError(f"{name}: no Kinetics annotation CSVs (train.csv, validate.csv, ...) in "
                    f"{', '.join(map(str, dirs))}; pass --splits with the CSV folder or file")


def _split_from_filename(path: Path) -> str:
    for word in ("train", "validate", "val", "test"):
        if word in path.stem.lower():
            return normalise_split(word, path)
    return ""


def read_kinetics_csv(path: Path) -> list[tuple[str, str, str, int]]:
    """Rows of one CSV as ``(clip id, label, split, line)``; label ``""`` where the CSV has none."""
    rows = []
    default_split = _split_from_filename(path)
    with path.open(newline="") as f:
        for line, row in enumerate(csv.DictReader(f), 2):
            youtube_id = (row.get("youtube_id") or "").strip()
            if not YOUTUBE_ID.match(youtube_id):
                raise ZsarError(f"{path}:{line}: youtube_id {youtube_id!r} is not a YouTube id; fix that row")
            try:
                start, end = int(float(row["time_start"])), int(float(row["time_end"]))
            except (TypeError, ValueError):
                raise ZsarError(f"{path}:{line}: time_start/time_end {row.get('time_start')!r}/"
                                f"{row.get('time_end')!r} are not numbers; fix that row") from None
            split = normalise_split(row["split"], path) if row.get("split") else default_split
            rows.append((f"{youtube_id}_{start:06d}_{end:06d}", (row.get("label") or "").strip(), split, line))
    return rows


def load_kinetics(config: DatasetConfig, variant: int) -> VideoDataset:
    """Kinetics-``variant`` from its official CSVs; clips missing on disk are skipped and counted."""
    name = f"kinetics{variant}"
    root = check_root(name, config.root)
    files = kinetics_csv_files(name, root, config.splits, variant)
    keep = normalise_split(config.subset, "--subset") if config.subset else None
    index, duplicates = index_videos(root)
    labels: set[str] = set()
    records: list[VideoRecord] = []
    seen: set[str] = set()
    unlabeled = missing = repeated = 0
    splits_seen: set[str] = set()
    for file in files:
        for clip, label, split, _ in read_kinetics_csv(file):
            if keep is not None and split != keep:
                continue
            if not label:
                unlabeled += 1
                continue
            if clip in seen:
                repeated += 1
                continue
            seen.add(clip)
            labels.add(label)
            splits_seen.add(split)
            if clip not in index:
                missing += 1
                continue
            records.append(VideoRecord(video_id=clip, path=index[clip], label=label, splits=(split, "", "")))
    if not records:
        raise ZsarError(f"{name}: none of the {len(seen)} annotated clips in {named_few(files)} was found "
                        f"under {root} (looked for <youtube_id>_<start:06d>_<end:06d>.mp4 at any depth); "
                        "check --root" + (f" and --subset {config.subset}" if keep is not None else ""))
    notes = [f"{missing} missing on disk, skipped" if missing else "",
             f"{unlabeled} unlabelled rows skipped" if unlabeled else "",
             f"{repeated} repeated rows skipped" if repeated else "",
             f"{duplicates} duplicate files ignored" if duplicates else "",
             f"expected {variant} classes" if len(labels) != variant else ""]
    found = (f"{len(labels)} classes, {len(records)} of {len(seen)} clips found under {root}, splits "
             f"{'/'.join(sorted(splits_seen))} from {', '.join(f.name for f in files)} in {files[0].parent}"
             + "".join(f"; {n}" for n in notes if n))
    if missing:
        log.warning("%s: %d of %d annotated clips are missing under %s and were skipped",
                    name, missing, len(seen), root)
    return make_dataset(name, records, found, root=root, class_names=labels)


for _variant in KINETICS_VARIANTS:
    DATASETS.add(f"kinetics{_variant}", partial(load_kinetics, variant=_variant),
                 help=f"Kinetics-{_variant}: official CSVs + <split>/<label>/<id>_<start>_<end>.mp4")


# --------------------------------------------------------------------------- activitynet


def e2e_activitynet_name(label: str) -> str:
    """An ActivityNet label as E2E's code spelled it: spaces as underscores ("Rock climbing" -> "Rock_climbing")."""
    return label.replace(" ", "_")


def _anet_database(path: Path) -> dict | None:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    database = data.get("database") if isinstance(data, dict) else None
    return database if isinstance(database, dict) else None


def activitynet_json(root: Path, override: Path | None) -> tuple[Path, dict]:
    """The v1.3 JSON and its ``database``: ``--splits`` (file or folder), else ROOT or ROOT/annotations."""
    dirs = [override] if override is not None and override.is_dir() else [root / d for d in ANET_JSON_DIRS]
    if override is not None and not override.is_dir():
        candidates = [override]
    else:
        candidates = [d / n for d in dirs for n in ANET_JSON_NAMES]
        candidates += [p for d in dirs if d.is_dir() for p in sorted(d.glob("*.json")) if p not in candidates]
    for path in candidates:
        if path.is_file() and (database := _anet_database(path)) is not None:
            return path, database
    looked = override if override is not None else ", ".join(map(str, dirs))
    raise ZsarError(f"activitynet: no ActivityNet JSON with a 'database' (e.g. {ANET_JSON_NAMES[0]}) in "
                    f"{looked}; pass --splits with the v1.3 annotation file")


def _segment(entry: dict, ann: dict, source: str) -> tuple[str, float, float]:
    try:
        label = str(ann["label"]).strip()
        t0, t1 = (float(t) for t in ann["segment"])
    except (KeyError, TypeError, ValueError):
        raise ZsarError(f"{source}: annotation {ann!r} needs 'label' and 'segment': [t0, t1]") from None
    duration = float(entry.get("duration") or 0.0)
    t0 = max(t0, 0.0)
    t1 = min(t1, duration) if duration > 0 else t1
    return label, t0, t1


@DATASETS.register("activitynet", help="ActivityNet v1.3 JSON; one sample per annotated segment")
def load_activitynet(config: DatasetConfig) -> VideoDataset:
    name = "activitynet"
    root = check_root(name, config.root)
    path, database = activitynet_json(root, config.splits)
    keep = normalise_split(config.subset, "--subset") if config.subset else None
    index, duplicates = index_videos(root)
    labels: set[str] = set()
    records: list[VideoRecord] = []
    missing_videos = missing_segments = empty = 0
    for vid in sorted(database):
        entry = database[vid]
        split = normalise_split(str(entry.get("subset", "")), f"{path} ({vid})")
        if keep is not None and split != keep:
            continue
        segments = [_segment(entry, ann, f"{path} ({vid})") for ann in entry.get("annotations") or []]
        labels.update(label for label, _, _ in segments)
        video = index.get(f"v_{vid}") or index.get(vid)
        if video is None:
            missing_videos += bool(segments)
            missing_segments += len(segments)
            continue
        for i, (label, t0, t1) in enumerate(segments):
            if t1 <= t0:
                empty += 1
                continue
            records.append(VideoRecord(video_id=f"{vid}#{i}", path=video, label=label, splits=(split, "", ""),
                                       start=t0, end=t1))
    if not records:
        raise ZsarError(f"{name}: no annotated segment of {path} has its video under {root} "
                        "(looked for v_<id>.mp4/.mkv/.webm or <id>.* at any depth); check --root"
                        + (f" and --subset {config.subset}" if keep is not None else ""))
    notes = [f"{missing_segments} segments of {missing_videos} missing videos skipped" if missing_videos else "",
             f"{empty} empty segments skipped" if empty else "",
             f"{duplicates} duplicate files ignored" if duplicates else ""]
    found = (f"{len(labels)} classes, {len(records)} segments of "
             f"{len({r.path for r in records})} videos under {root} from {path}"
             + "".join(f"; {n}" for n in notes if n))
    if missing_videos:
        log.warning("%s: %d annotated videos are missing under %s and were skipped", name, missing_videos, root)
    return make_dataset(name, records, found, root=root, class_names=labels, order=e2e_activitynet_name)
