"""``videos``: a user's own unlabelled videos (what ``zsar predict`` extracts), from a folder or a list file.

``--root`` is either

- a folder: every video below it, at any depth (the extensions in ``VIDEO_EXTENSIONS``);
- a list file: ``.txt`` with one path per line (blank lines and lines starting with ``#``
  skipped), or ``.csv`` / ``.parquet`` with a ``path`` column and, optionally, ``start`` and
  ``end`` columns (seconds; a window of the video, empty for the whole of it; other columns
  ignored). Relative paths resolve against the list's folder; a list may name videos
  anywhere, since it is the user's own list. Listed files missing on disk are an error
  naming a few.

It has no fixed video list (the ``PER_FILE`` tag, ``zsar.extract.per_file``): its cache is
keyed by the model setting alone, one cache for every call with that setting, and rows are
keyed per file. A video's id is its absolute path (POSIX form, ``%`` and ``#`` written
``%25`` and ``%23``) and, for a window, ``#t=START,END`` in seconds to the microsecond (a
media fragment), so the same file reached through a folder, a glob, a list or alone is one
row, a window is a row of its own, and a file's identity (size, modification time, content
digest) is what the manifest records of it. Every record has the one label ``UNLABELLED`` and no splits: the
class list, like the key, does not depend on the labels a user asks about, so new labels
reuse the extracted features.
"""

from __future__ import annotations

import math
import os
from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.datasets.base import (DATASETS, VIDEO_EXTENSIONS, DatasetConfig, VideoDataset, VideoRecord,
                                        check_root, is_video, make_dataset, named_few, videos_in)
from zsar.extract.datasets.custom import PARQUET_SUFFIXES, read_list_rows
from zsar.registry import PER_FILE

UNLABELLED = "unlabelled"
TEXT_LIST_SUFFIXES = (".txt", ".lst", ".list")
CSV_SUFFIXES = (".csv",) + PARQUET_SUFFIXES
LIST_SUFFIXES = TEXT_LIST_SUFFIXES + CSV_SUFFIXES
NAN = float("nan")


def video_id_of(path: Path | str, start: float = NAN, end: float = NAN) -> str:
    """The id of the video at ``path`` (or of its window ``[start, end]`` seconds): see the module doc."""
    posix = Path(os.path.abspath(path)).as_posix().replace("%", "%25").replace("#", "%23")
    if math.isnan(start) and math.isnan(end):
        return posix
    return f"{posix}#t={_seconds_text(start)},{_seconds_text(end)}"


def _seconds_text(seconds: float) -> str:
    """``55.0`` -> ``"55"``, ``2.5`` -> ``"2.5"``: to the microsecond, no trailing zeros (empty for NaN)."""
    return "" if math.isnan(seconds) else f"{seconds:.6f}".rstrip("0").rstrip(".")


def _seconds(value: object, column: str, list_file: Path, row: int) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return NAN
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except ValueError:
        raise ZsarError(f"videos: {list_file} row {row}: {column} {value!r} is not a number of seconds; write it "
                        "as e.g. 12.5, or leave it empty for the whole video") from None
    if not math.isnan(seconds) and seconds < 0:
        raise ZsarError(f"videos: {list_file} row {row}: {column} {seconds:g} is negative; windows start at 0 s")
    return seconds


def read_video_entries(list_file: Path) -> list[tuple[Path, float, float]]:
    """``(path, start, end)`` of each entry a ``.txt`` / ``.csv`` / ``.parquet`` list names, resolved against the
    list's folder, in order (NaN ``start``/``end``: the whole video)."""
    suffix = list_file.suffix.lower()
    if suffix not in LIST_SUFFIXES:
        raise ZsarError(f"videos: {list_file} is not a folder or a video list ({', '.join(LIST_SUFFIXES)}); "
                        "pass a folder of videos or a list with one path per line")
    if suffix in CSV_SUFFIXES:
        rows = read_list_rows(list_file)
        if rows and "path" not in rows[0]:
            raise ZsarError(f"videos: {list_file} has columns {sorted(rows[0])}; it needs a 'path' column")
        entries = [(str(row["path"] or "").strip(), _seconds(row.get("start"), "start", list_file, i),
                    _seconds(row.get("end"), "end", list_file, i)) for i, row in enumerate(rows, start=1)]
    else:
        try:
            lines = list_file.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as err:
            raise ZsarError(f"videos: {list_file} is not UTF-8 text ({err.reason} at byte {err.start}); "
                            "save the list as UTF-8") from None
        entries = [(line.strip(), NAN, NAN) for line in lines if line.strip() and not line.strip().startswith("#")]
    base = list_file.parent
    return [(Path(os.path.normpath(base / Path(entry).expanduser())), start, end)
            for entry, start, end in entries if entry]


def read_video_list(list_file: Path) -> list[Path]:
    """The paths a ``.txt`` / ``.csv`` / ``.parquet`` list names (``read_video_entries`` without the windows)."""
    return [path for path, _, _ in read_video_entries(list_file)]


def _records(entries: list[tuple[Path, float, float]]) -> list[VideoRecord]:
    return [VideoRecord(video_id=video_id_of(p, start, end), path=Path(os.path.abspath(p)), label=UNLABELLED,
                        start=start, end=end) for p, start, end in entries]


@DATASETS.register("videos", help="your own unlabelled videos: a folder (any depth) or a .txt/.csv/.parquet list "
                   "(optional start,end columns: windows); one cache per model setting, rows added per file",
                   tags=(PER_FILE,))
def load_videos(config: DatasetConfig) -> VideoDataset:
    name = "videos"
    root = check_root(name, config.root, file_ok=True)
    if root.is_dir():
        entries = [(p, NAN, NAN) for p in videos_in(root, recursive=True)]
        found = f"{len(entries)} videos ({'/'.join(VIDEO_EXTENSIONS)}) under {root}"
        if not entries:
            raise ZsarError(f"no videos found under {root} (looked for {'/'.join(VIDEO_EXTENSIONS)} at any depth); "
                            "pass a folder holding videos, video files or a glob")
    else:
        entries = read_video_entries(root)
        missing = [str(p) for p, _, _ in entries if not p.is_file()]
        if missing:
            raise ZsarError(f"videos: {len(missing)} files listed in {root} are missing ({named_few(missing)}); "
                            "fix the list")
        if not entries:
            raise ZsarError(f"no videos found: the list {root} names none; write one video path per line")
        others = [str(p) for p, _, _ in entries if not is_video(p)]
        found = f"{len(entries)} videos listed in {root}" + (f" ({len(others)} without a video extension)"
                                                               if others else "")
    return make_dataset(name, _records(entries), found, root=root if root.is_dir() else root.parent)
