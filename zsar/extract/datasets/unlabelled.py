"""``videos``: a user's own unlabelled videos (what ``zsar predict`` extracts), from a folder or a list file.

``--root`` is either

- a folder: every video below it, at any depth (the extensions in ``VIDEO_EXTENSIONS``);
- a list file: ``.txt`` with one path per line (blank lines and lines starting with ``#``
  skipped), or ``.csv`` / ``.parquet`` with a ``path`` column (other columns ignored).
  Relative paths resolve against the list's folder; a list may name videos anywhere,
  since it is the user's own list. Listed files missing on disk are an error naming a few.

The video id is the video's absolute path (POSIX form) and its file's size and
modification time (``/data/a.mp4@1234-1733450000000000000``), so the cache key, which covers
the ids, tells two folders holding files of the same names apart, a file rewritten in place
gets extracted again instead of keeping stale features, and the same videos reached
through a folder, a glob or a list share one cache. Every record has the one
label ``UNLABELLED`` and no splits: the class list, and with it the cache key, does not
depend on the labels a user asks about, so new labels reuse the extracted features.
"""

from __future__ import annotations

import os
from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.datasets.base import (DATASETS, VIDEO_EXTENSIONS, DatasetConfig, VideoDataset, VideoRecord,
                                        check_root, is_video, make_dataset, named_few, videos_in)
from zsar.extract.datasets.custom import PARQUET_SUFFIXES, read_list_rows

UNLABELLED = "unlabelled"
TEXT_LIST_SUFFIXES = (".txt", ".lst", ".list")
CSV_SUFFIXES = (".csv",) + PARQUET_SUFFIXES
LIST_SUFFIXES = TEXT_LIST_SUFFIXES + CSV_SUFFIXES


def video_id_of(path: Path) -> str:
    """The id of the video at ``path``: its absolute, lexically normalised POSIX path, ``@size-mtime_ns``."""
    path = Path(os.path.abspath(path))
    stat = path.stat()
    return f"{path.as_posix()}@{stat.st_size}-{stat.st_mtime_ns}"


def read_video_list(list_file: Path) -> list[Path]:
    """The paths a ``.txt`` / ``.csv`` / ``.parquet`` list names, resolved against the list's folder, in order."""
    suffix = list_file.suffix.lower()
    if suffix not in LIST_SUFFIXES:
        raise ZsarError(f"videos: {list_file} is not a folder or a video list ({', '.join(LIST_SUFFIXES)}); "
                        "pass a folder of videos or a list with one path per line")
    if suffix in CSV_SUFFIXES:
        rows = read_list_rows(list_file)
        if rows and "path" not in rows[0]:
            raise ZsarError(f"videos: {list_file} has columns {sorted(rows[0])}; it needs a 'path' column")
        entries = [str(row["path"] or "").strip() for row in rows]
    else:
        try:
            lines = list_file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise ZsarError(f"videos: {list_file} is not UTF-8 text ({err.reason} at byte {err.start}); "
                            "save the list as UTF-8") from None
        entries = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    base = list_file.parent
    return [Path(os.path.normpath(base / Path(entry).expanduser())) for entry in entries if entry]


def _records(paths: list[Path]) -> list[VideoRecord]:
    return [VideoRecord(video_id=video_id_of(p), path=Path(os.path.abspath(p)), label=UNLABELLED) for p in paths]


@DATASETS.register("videos", help="your own unlabelled videos: a folder (any depth) or a .txt/.csv/.parquet list")
def load_videos(config: DatasetConfig) -> VideoDataset:
    name = "videos"
    root = check_root(name, config.root, file_ok=True)
    if root.is_dir():
        paths = videos_in(root, recursive=True)
        found = f"{len(paths)} videos ({'/'.join(VIDEO_EXTENSIONS)}) under {root}"
        if not paths:
            raise ZsarError(f"no videos found under {root} (looked for {'/'.join(VIDEO_EXTENSIONS)} at any depth); "
                            "pass a folder holding videos, video files or a glob")
    else:
        paths = read_video_list(root)
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise ZsarError(f"videos: {len(missing)} files listed in {root} are missing ({named_few(missing)}); "
                            "fix the list")
        if not paths:
            raise ZsarError(f"no videos found: the list {root} names none; write one video path per line")
        others = [str(p) for p in paths if not is_video(p)]
        found = f"{len(paths)} videos listed in {root}" + (f" ({len(others)} without a video extension)"
                                                             if others else "")
    return make_dataset(name, _records(paths), found, root=root if root.is_dir() else root.parent)
