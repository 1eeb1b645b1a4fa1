"""What ``zsar predict`` returns and writes: a row per video with its top-k labels and scores.

``Predictions`` keeps the rows in the order the videos were given. A video that could
not be decoded has ``status == "failed"``, no labels, and the decoder's message in
``error``. ``records()`` gives plain dicts (a notebook's table), ``columns()`` the same as
columns, ``write(path)`` a ``.jsonl``, ``.csv`` or ``.parquet`` file and ``format_table()``
the readable table the CLI prints.

File columns: ``video`` (as given), ``path`` (absolute), ``status``, ``labels`` and
``scores`` (best first; CSV joins them with ``|``), ``error``. Scores are the model's:
cosines to the label prototypes for most heads (ActionCLIP: probabilities), after any
re-ranking.
"""

from __future__ import annotations

import csv
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from zsar.cache.tables import write_table_columns
from zsar.errors import ZsarError
from zsar.files import atomic_write, write_error

OUT_SUFFIXES = (".jsonl", ".csv", ".parquet")
STATUS_OK, STATUS_FAILED = "ok", "failed"
LIST_SEPARATOR = "|"
SHOWN_LABELS = 3  # label columns of the terminal table
LABEL_WIDTH = 24


@dataclass(frozen=True, kw_only=True)
class Prediction:
    """One video: its top-k ``labels`` and ``scores`` (best first), or a ``failed`` status and the decoder's error."""

    video: str
    path: str
    status: str
    labels: tuple[str, ...] = ()
    scores: tuple[float, ...] = ()
    error: str = ""

    def record(self) -> dict[str, Any]:
        values = asdict(self)
        return {**values, "labels": list(self.labels), "scores": list(self.scores)}


@dataclass(kw_only=True)
class Predictions:
    """A row per video (in the order given), what made them, and where the features are cached."""

    rows: list[Prediction]
    label_names: tuple[str, ...]
    model: str
    cache_dir: Path | None = None
    decoded: int = 0
    reused: int = 0
    notes: list[str] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[Prediction]:
        return iter(self.rows)

    @property
    def failed(self) -> list[Prediction]:
        return [r for r in self.rows if r.status == STATUS_FAILED]

    def records(self) -> list[dict[str, Any]]:
        """A dict per video: ``video, path, status, labels, scores, error``."""
        return [r.record() for r in self.rows]

    def columns(self) -> dict[str, list[Any]]:
        """The records as columns (``pandas.DataFrame(predictions.columns())`` makes a data frame)."""
        names = ("video", "path", "status", "labels", "scores", "error")
        records = self.records()
        return {n: [r[n] for r in records] for n in names}

    def write(self, path: Path) -> Path:
        """Write the rows to ``path`` (``.jsonl``, ``.csv`` or ``.parquet``, by its suffix)."""
        path = Path(path).expanduser()
        suffix = path.suffix.lower()
        if suffix not in OUT_SUFFIXES:
            raise ZsarError(f"--out {path}: write .jsonl, .csv or .parquet (by the file's suffix)")
        if path.parent and not path.parent.exists():
            try:
                path.parent.mkdir(parents=True)
            except OSError as err:
                raise write_error(path.parent, err, "choose a writable --out") from None
        if suffix == ".parquet":
            write_table_columns(path, self.columns())
            return path
        with atomic_write(path, "choose a writable --out") as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            if suffix == ".jsonl":
                for record in self.records():
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                writer = csv.writer(f)
                writer.writerow(["video", "path", "status", "labels", "scores", "error"])
                for r in self.rows:
                    writer.writerow([r.video, r.path, r.status, LIST_SEPARATOR.join(r.labels),
                                     LIST_SEPARATOR.join(f"{s:.6g}" for s in r.scores), r.error])
        return path

    def format_table(self) -> str:
        """The terminal table: a line per video with its best labels and scores (failed videos: the error)."""
        width = max([len("video")] + [len(r.video) for r in self.rows])
        shown = min(SHOWN_LABELS, max([len(r.labels) for r in self.rows] + [1]))
        header = f"{'video':<{width}}  " + "  ".join(f"{'#' + str(i + 1) + ' label':<{LABEL_WIDTH}} {'score':>6}"
                                                     for i in range(shown))
        lines = [header.rstrip(), "-" * len(header.rstrip())]
        for r in self.rows:
            if r.status == STATUS_FAILED:
                lines.append(f"{r.video:<{width}}  failed: {r.error}")
                continue
            cells = [f"{_clip(label):<{LABEL_WIDTH}} {score:6.3f}" for label, score in
                     zip(r.labels[:shown], r.scores[:shown])]
            lines.append(f"{r.video:<{width}}  " + "  ".join(cells))
        return "\n".join(lines)


def _clip(text: str, width: int = LABEL_WIDTH) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
