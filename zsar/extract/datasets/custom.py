"""Datasets with no official format: ``folder`` (class folders) and ``csv`` (a CSV/Parquet list).

``folder``: ``ROOT/<class>/<video>`` (videos at any depth below the class folder; the
extensions in ``VIDEO_EXTENSIONS``); video id ``<class>/<path below it, no extension>``;
no splits.

``csv``: a list with columns ``path,label[,split]`` in ``--splits FILE`` or in ``--root FILE``
(``.csv``, or ``.parquet`` read through ``zsar.cache.tables``). Relative paths resolve
against the root folder (the list's folder when the root is the list itself) and must stay
inside it; listed files missing on disk are an error naming a few (a hand-made list is
expected to be right). ``split`` fills split1 (train/val/test/unused, or empty).
"""

from __future__ import annotations

import csv
from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.datasets.base import (
    DATASETS, VIDEO_EXTENSIONS, DatasetConfig, VideoDataset, VideoRecord, check_root, make_dataset,
    named_few, normalise_split, path_inside, videos_in)

LIST_COLUMNS = ("path", "label")
PARQUET_SUFFIXES = (".parquet", ".pq")


@DATASETS.register("folder", help="any ROOT/<class>/<video> tree; no splits")
def load_folder(config: DatasetConfig) -> VideoDataset:
    name = "folder"
    root = check_root(name, config.root)
    records = []
    classes = 0
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        videos = videos_in(folder, recursive=True)
        classes += bool(videos)
        for path in videos:
            stem = path.relative_to(folder).with_suffix("").as_posix()
            records.append(VideoRecord(video_id=f"{folder.name}/{stem}", path=path, label=folder.name))
    found = f"{classes} class folders, {len(records)} videos ({'/'.join(VIDEO_EXTENSIONS)}) under {root}"
    return make_dataset(name, records, found, root=root)


def read_list_rows(path: Path) -> list[dict[str, object]]:
    """The rows of a CSV or Parquet list file."""
    from zsar.cache.tables import read_table_rows  # pyarrow: only when a Parquet list is read

    if path.suffix.lower() in PARQUET_SUFFIXES:
        return read_table_rows(path)
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _list_file(config: DatasetConfig) -> tuple[Path, Path]:
    """(list file, root folder) from ``--splits FILE`` or ``--root FILE``."""
    if config.splits is not None:
        if not config.splits.is_file():
            raise ZsarError(f"csv: --splits {config.splits} is not a file; pass the CSV/Parquet list "
                            "(columns path,label[,split])")
        return config.splits, check_root("csv", config.root)
    root = check_root("csv", config.root, file_ok=True)
    if root.is_dir():
        raise ZsarError(f"csv: no list file given for root {root}; pass --splits LIST.csv (columns "
                        "path,label[,split]) or --root LIST.csv")
    return root, root.parent


@DATASETS.register("csv", help="a CSV/Parquet list with columns path,label[,split]")
def load_csv(config: DatasetConfig) -> VideoDataset:
    name = "csv"
    list_file, root = _list_file(config)
    rows = read_list_rows(list_file)
    columns = set(rows[0]) if rows else set()
    if rows and not all(c in columns for c in LIST_COLUMNS):
        raise ZsarError(f"csv: {list_file} has columns {sorted(columns)}; it needs path,label[,split]")
    records, missing = [], []
    for line, row in enumerate(rows, 2):
        entry, label = str(row["path"] or "").strip(), str(row["label"] or "").strip()
        path = path_inside(root, root, entry, list_file)
        if not label:
            raise ZsarError(f"csv: {list_file} row {line} ({entry!r}) has an empty label; fill it in")
        if not path.is_file():
            missing.append(entry)
            continue
        split = normalise_split(str(row.get("split") or ""), list_file)
        video_id = path.relative_to(root).with_suffix("").as_posix()
        records.append(VideoRecord(video_id=video_id, path=path, label=label, splits=(split, "", "")))
    if missing:
        raise ZsarError(f"csv: {len(missing)} files listed in {list_file} are missing under {root} "
                        f"({named_few(missing)}); fix the list or the root")
    found = f"{len({r.label for r in records})} classes, {len(records)} videos listed in {list_file}"
    return make_dataset(name, records, found, root=root)
