"""What ``zsar predict`` returns and writes: a row per video (and per window) with its top-k labels.

``Predictions`` keeps the rows in the order the videos were given. Each row has a
``status``: ``ok``; ``partial``, a video that decoded only in part (its ``note`` says how
much: left out, with no labels, unless ``--allow-partial`` scores the frames that did
decode); or ``failed``, a video that could not be decoded (the decoder's message in
``error``). A row's top-k ``labels`` come with their ``probabilities`` (a softmax over every
label at the model's logit scale, ``zsar.heads.classifier.probabilities``: they sum to 1 over
all the labels, not only the top k), the ``margin`` of the first over the second, and the
model's raw ``scores`` (cosines to the label prototypes for most heads, CSLS values after
``--rerank``). With ``--window`` each video also has a timeline: a ``Window`` per window
(``start``, ``end`` in seconds, its own top-k).

``records()`` gives a dict per video (windows nested: what ``.jsonl`` holds), ``columns()``
a flat table, a row per video followed by a row per window of it (what ``.csv`` and
``.parquet`` hold; ``start``/``end`` empty on video rows), ``write(path)`` the file and
``format_table()`` the readable table the CLI prints (file names with control characters
shown escaped, as Python writes them).
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from zsar.errors import ZsarError
from zsar.files import atomic_write, write_error

OUT_SUFFIXES = (".jsonl", ".csv", ".parquet")
STATUS_OK, STATUS_PARTIAL, STATUS_FAILED = "ok", "partial", "failed"
LIST_SEPARATOR = "|"
SHOWN_LABELS = 3  # label columns of the terminal table
LABEL_WIDTH = 24
COLUMNS = ("video", "path", "status", "start", "end", "labels", "probabilities", "margin", "scores", "error", "note")


def escaped(name: str) -> str:
    """``name`` with every character that is not printable (a newline, a tab) written as Python escapes it."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in name)


@dataclass(frozen=True, kw_only=True)
class Scored:
    """Top-k ``labels`` (best first) with their ``probabilities``, the model's ``scores``, and the ``margin``."""

    labels: tuple[str, ...] = ()
    probabilities: tuple[float, ...] = ()
    scores: tuple[float, ...] = ()
    margin: float = math.nan   # probability of the first label minus that of the second


@dataclass(frozen=True, kw_only=True)
class Window(Scored):
    """One window ``[start, end]`` seconds of a video: its top-k, or the error that kept it from being decoded."""

    start: float
    end: float
    error: str = ""


@dataclass(frozen=True, kw_only=True)
class Prediction(Scored):
    """One video: status, its top-k (empty unless scored), the decoder's ``error``, a ``note``, its ``windows``."""

    video: str
    path: str
    status: str
    error: str = ""
    note: str = ""
    windows: tuple[Window, ...] = ()

    @property
    def scored(self) -> bool:
        return bool(self.labels)

    def record(self) -> dict[str, Any]:
        """The JSON-ready dict of this video, its windows nested (``records()``)."""
        return {"video": self.video, "path": self.path, "status": self.status, **_scored(self), "error": self.error,
                "note": self.note, "windows": [{"start": w.start, "end": w.end, **_scored(w), "error": w.error}
                                               for w in self.windows]}

    def flat(self) -> list[dict[str, Any]]:
        """The table rows of this video: its own (no start, end), then one per window."""
        rows = [{"video": self.video, "path": self.path, "status": self.status, "start": None, "end": None,
                 **_scored(self), "error": self.error, "note": self.note}]
        for w in self.windows:
            status = STATUS_FAILED if w.error else self.status
            rows.append({"video": self.video, "path": self.path, "status": status, "start": w.start, "end": w.end,
                         **_scored(w), "error": w.error, "note": self.note})
        return rows


def _scored(s: Scored) -> dict[str, Any]:
    return {"labels": list(s.labels), "probabilities": list(s.probabilities),
            "margin": None if math.isnan(s.margin) else s.margin, "scores": list(s.scores)}


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

    def with_status(self, status: str) -> list[Prediction]:
        return [r for r in self.rows if r.status == status]

    @property
    def failed(self) -> list[Prediction]:
        return self.with_status(STATUS_FAILED)

    @property
    def partial(self) -> list[Prediction]:
        return self.with_status(STATUS_PARTIAL)

    def records(self) -> list[dict[str, Any]]:
        """A dict per video: ``video, path, status, labels, probabilities, margin, scores, error, note, windows``."""
        return [r.record() for r in self.rows]

    def columns(self) -> dict[str, list[Any]]:
        """The flat table (``COLUMNS``; a row per video, then per window) as columns for a data frame."""
        flat = [row for r in self.rows for row in r.flat()]
        return {name: [row[name] for row in flat] for name in COLUMNS}

    def summary(self) -> str:
        """``"8 video(s): 6 ok, 1 partly decoded (left out ...), 1 failed; ..."``: the counts the CLI prints."""
        counts = [f"{len(self.with_status(STATUS_OK))} ok"]
        partial = self.partial
        if partial:
            scored = sum(r.scored for r in partial)
            how = ("scored on the frames that decoded" if scored == len(partial) else
                   "left out; --allow-partial scores the frames that decoded" if not scored else
                   f"{scored} scored on the frames that decoded")
            counts.append(f"{len(partial)} partly decoded ({how})")
        counts.append(f"{len(self.failed)} failed")
        windows = sum(len(r.windows) for r in self.rows)
        timeline = f" and {windows} window(s)" if windows else ""
        return (f"{len(self)} video(s){timeline}: {', '.join(counts)}; {self.decoded} decoded now, {self.reused} from "
                f"the cache {self.cache_dir}; {self.model}")

    def write(self, path: Path) -> Path:
        """Write the rows to ``path`` (``.jsonl``: ``records()``; ``.csv``, ``.parquet``: ``columns()``)."""
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
            from zsar.cache.tables import write_table_columns

            write_table_columns(path, self.columns())
            return path
        with atomic_write(path, "choose a writable --out") as tmp, open(tmp, "w", newline="", encoding="utf-8") as f:
            if suffix == ".jsonl":
                for record in self.records():
                    f.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                writer = csv.writer(f)
                writer.writerow(COLUMNS)
                columns = self.columns()
                for i in range(len(columns["video"])):
                    writer.writerow([_cell(columns[name][i]) for name in COLUMNS])
        return path

    def format_table(self) -> str:
        """The terminal table: a line per video (and, indented, per window) with its best labels and probabilities."""
        width = max([len("video")] + [len(escaped(r.video)) for r in self.rows])
        shown = min(SHOWN_LABELS, max([len(r.labels) for r in self.rows] + [1]))
        header = f"{'video':<{width}}  " + "  ".join(f"{'#' + str(i + 1) + ' label':<{LABEL_WIDTH}} {'prob':>5}"
                                                     for i in range(shown)) + f"  {'margin':>6}"
        lines = [header, "-" * len(header)]
        for r in self.rows:
            name = f"{escaped(r.video):<{width}}  "
            if not r.scored:
                lines.append(name + (f"failed: {r.error}" if r.status == STATUS_FAILED else r.note))
                continue
            lines.append(name + _cells(r, shown))
            if r.note:
                lines.append(f"{'':<{width}}  note: {r.note}")
            for w in r.windows:
                span = f"{_clock(w.start)}-{_clock(w.end)}"
                lines.append(f"{span:>{width}}  " + (_cells(w, shown) if w.labels else f"failed: {w.error}"))
        return "\n".join(lines)


def _cells(s: Scored, shown: int) -> str:
    cells = [f"{_clip(label):<{LABEL_WIDTH}} {p:5.2f}" for label, p in zip(s.labels[:shown], s.probabilities)]
    cells += [" " * (LABEL_WIDTH + 6)] * (shown - len(cells))
    return "  ".join(cells) + (f"  {s.margin:6.2f}" if not math.isnan(s.margin) else "")


def _clock(seconds: float) -> str:
    """``75.5`` -> ``"1:15.5"``: minutes and seconds."""
    minutes, rest = divmod(seconds, 60)
    text = f"{rest:04.1f}" if rest != int(rest) else f"{int(rest):02d}"
    return f"{int(minutes)}:{text}"


def _cell(value: Any) -> str:
    """A CSV cell: lists joined with ``|`` (numbers with 6 significant digits), None empty."""
    if value is None:
        return ""
    if isinstance(value, list):
        return LIST_SEPARATOR.join(f"{v:.6g}" if isinstance(v, float) else str(v) for v in value)
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _clip(text: str, width: int = LABEL_WIDTH) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"
