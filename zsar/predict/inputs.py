"""What ``zsar predict`` is asked about: the videos (paths, a folder, a glob, a list) and the labels.

Videos: each argument is a video file, a folder (every video below it), a glob pattern
(``clips/*.mp4``, ``**`` allowed) or a list file (``.txt`` one path per line, ``.csv`` /
``.parquet`` with a ``path`` column). They are expanded in the order given, each file once.

Labels: ``--labels "a, b, c"`` (comma-separated) or ``--labels-file FILE`` (UTF-8, one
label per line, blank lines and ``#`` lines skipped). A line ``label<TAB>description``
keeps ``label`` as the name shown and encodes ``description`` instead of it (e.g.
``jj<TAB>a person doing jumping jacks``). Labels are shown as given and encoded as given:
free text, not dataset class names.
"""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from zsar.errors import ZsarError
from zsar.extract.datasets.base import VIDEO_EXTENSIONS, is_video, named_few, videos_in
from zsar.extract.datasets.unlabelled import LIST_SUFFIXES, read_video_list, video_id_of

GLOB_CHARACTERS = "*?["


@dataclass(frozen=True)
class Labels:
    """The label list: ``names`` shown in the output and ``texts`` encoded (the description, else the name)."""

    names: tuple[str, ...]
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.names)


@dataclass(frozen=True)
class VideoInput:
    """One video asked about: ``path`` (absolute), ``video_id`` (its key in the cache) and ``shown`` (as given)."""

    path: Path
    video_id: str
    shown: str


def check_labels(names: list[str], texts: list[str], where: str) -> Labels:
    for i, (name, text) in enumerate(zip(names, texts), start=1):
        if not name or not text:
            raise ZsarError(f"{where}: label {i} is empty; give every label some text (e.g. --labels 'wave hand, "
                            "jump')")
    seen: dict[str, int] = {}
    for i, name in enumerate(names, start=1):
        if name.casefold() in seen:
            raise ZsarError(f"{where}: label {name!r} appears twice (labels {seen[name.casefold()]} and {i}); "
                            "keep each label once")
        seen[name.casefold()] = i
    if len(names) < 2:
        raise ZsarError(f"{where}: {len(names)} label(s); give at least two to choose between, e.g. "
                        "--labels 'wave hand, jump'")
    return Labels(tuple(names), tuple(texts))


def parse_labels(text: str) -> Labels:
    """``"a, b, c"`` -> the labels ``a``, ``b``, ``c`` (an empty or repeated label is an error)."""
    names = [part.strip() for part in text.split(",")]
    if len(names) == 1 and not names[0]:
        names = []
    return check_labels(names, list(names), f"--labels {text!r}")


def read_labels_file(path: Path) -> Labels:
    """Labels from a UTF-8 file: one per line, optionally ``label<TAB>description``."""
    path = Path(path).expanduser()
    if not path.is_file():
        raise ZsarError(f"--labels-file {path} does not exist; pass a text file with one label per line")
    try:
        lines = path.read_bytes().decode("utf-8-sig").splitlines()
    except UnicodeDecodeError as err:
        raise ZsarError(f"--labels-file {path} is not UTF-8 text (byte 0x{err.object[err.start]:02x} at offset "
                        f"{err.start}); save it as UTF-8 (e.g. `iconv -f latin1 -t utf-8`)") from None
    names, texts = [], []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name, _, description = line.partition("\t")
        names.append(name.strip())
        texts.append(description.strip() if description.strip() else name.strip())
    return check_labels(names, texts, f"--labels-file {path}")


def _is_glob(item: str) -> bool:
    return any(c in item for c in GLOB_CHARACTERS) and not Path(item).exists()


def _expand(item: str) -> list[Path]:
    """The video files one argument stands for (may be empty: the caller says what was not found)."""
    if _is_glob(item):
        matches = sorted(Path(p) for p in glob.glob(os.path.expanduser(item), recursive=True))
        return [p for p in matches if p.is_file() and is_video(p)]
    path = Path(item).expanduser()
    if path.is_dir():
        return videos_in(path, recursive=True)
    if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
        listed = read_video_list(path)
        missing = [str(p) for p in listed if not p.is_file()]
        if missing:
            raise ZsarError(f"no videos found for {len(missing)} entries of the list {item} ({named_few(missing)}); "
                            "fix the list")
        return listed
    if path.is_file():
        return [path]
    raise ZsarError(f"no videos found: {item} does not exist; pass video files, a folder, a glob or a list file")


def resolve_videos(items: Sequence[str | Path] | str | Path) -> list[VideoInput]:
    """The videos of every argument, in order, each once; nothing found is an error naming what was looked at."""
    if isinstance(items, (str, Path)):
        items = [items]
    found: dict[str, VideoInput] = {}
    empty: list[str] = []
    for item in items:
        paths = _expand(str(item))
        if not paths:
            empty.append(str(item))
        for path in paths:
            absolute = Path(os.path.abspath(path))
            shown = str(path) if not Path(item).is_dir() else os.path.join(str(item), path.relative_to(item).as_posix())
            found.setdefault(str(absolute), VideoInput(absolute, video_id_of(absolute), shown))
    if not found:
        looked = ", ".join(empty) or "(no arguments)"
        raise ZsarError(f"no videos found in {looked} (video extensions: {'/'.join(VIDEO_EXTENSIONS)}); "
                        "pass video files, a folder, a glob such as 'clips/*.mp4' or a list file")
    return list(found.values())

