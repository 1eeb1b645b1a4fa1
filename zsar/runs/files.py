"""The typed files of a run directory: where they live (``RunLayout``), what they hold, one writer and one reader each.

::

    RUN/config.json                 RunConfig: the training config, protocol and the caches it read
    RUN/metrics.json                RunMetrics: accuracy per split (SplitRecord), mean and std (percent)
    RUN/log.jsonl                   one LogRecord per epoch and split (loss, lr, seconds)
    RUN/split-<i>/selection.json    SelectionRecord: what model selection chose and its validation curves
    RUN/split-<i>/checkpoint.pt     head weights and CheckpointMeta (``zsar.runs.checkpoints``)

Each record is a frozen dataclass with a ``schema_version``, written with
``zsar.cache.records.render_record`` and read with ``parse_record``: a damaged or foreign
file is one ``RunFileError`` naming it and the repair. Files of the release before typed
run files (no ``schema_version``) read as this version.

Each of these JSON files (like ``predictions.parquet``, ``checkpoint.pt`` and
``embeddings.h5``) has a checksum file beside it, ``<name>.sha256`` (``zsar.cache.checksums``):
a changed byte is refused before the file is parsed (``sidecar_problem``). One written before
run files had checksum files is checked by parsing it, and ``zsar metrics`` compares the
numbers of ``metrics.json`` with those it measures again from the splits
(``zsar.metrics.measure``). ``log.jsonl`` is appended to line by line and has none: a line
that does not parse is skipped.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from zsar.cache.checksums import checksum_path, commit_with_checksum, file_problem
from zsar.cache.records import load_json_text, parse_record, record_json, render_record
from zsar.errors import ZsarError
from zsar.files import atomic_write, write_error

RUN_SCHEMA_VERSION = 1
METRICS_SCHEMA_VERSION = 2  # metrics.json: the protocol's accuracies moved into SplitRecord.accuracies
CONFIG_NAME = "config.json"
METRICS_NAME = "metrics.json"
LOG_NAME = "log.jsonl"
PREDICTIONS_NAME = "predictions.parquet"
SELECTION_NAME = "selection.json"
EMBEDDINGS_NAME = "embeddings.h5"
CHECKPOINT_NAME = "checkpoint.pt"
REDO = "re-run the same `zsar train-head` command (same --out) to redo it"
NEW_RUN = "train the run again with a new --out"


class RunFileError(ZsarError):
    """A run file is missing, damaged or written by another schema version."""


@dataclass(frozen=True)
class RunLayout:
    """Paths inside one run directory (beside ``zsar.cache.layout.CacheLayout``)."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    @property
    def config_path(self) -> Path:
        return self.root / CONFIG_NAME

    @property
    def metrics_path(self) -> Path:
        return self.root / METRICS_NAME

    @property
    def log_path(self) -> Path:
        return self.root / LOG_NAME

    @property
    def predictions_path(self) -> Path:
        return self.root / PREDICTIONS_NAME

    def split_dir(self, split: int) -> Path:
        return self.root / f"split-{split}"

    def checkpoint_path(self, split: int) -> Path:
        return self.split_dir(split) / CHECKPOINT_NAME

    def embeddings_path(self, split: int) -> Path:
        return self.split_dir(split) / EMBEDDINGS_NAME

    def selection_path(self, split: int) -> Path:
        return self.split_dir(split) / SELECTION_NAME


@dataclass(frozen=True, kw_only=True)
class CacheRecord:
    """A cache a run read: its folder, key, label-text file (stem, key, encoder) and video/split digests."""

    path: str
    key: str
    text: str
    text_key: str
    text_encoder: str
    videos: str
    videos_splits: str


@dataclass(frozen=True)
class FilterTextRecord:
    """The text a cross protocol's overlap filter compared (file stem, key, encoder)."""

    text: str
    text_key: str
    text_encoder: str


@dataclass(frozen=True)
class OverlapRecord:
    """An ``--overlap-with`` cache's label text (file stem, key) and how many classes it holds."""

    text: str
    text_key: str
    n_classes: int


@dataclass(frozen=True, kw_only=True)
class RunConfig:
    """``RUN/config.json``: everything that decides a run's numbers; two runs with equal configs are the same run.

    ``head_config``, ``train``, ``selection``, ``transfer`` and ``protocol_options`` are the
    JSON of the heads' config dataclasses (``zsar.cache`` does not import ``zsar.heads``).
    The cross protocols add the source cache, ``tau`` and the overlap filter's record.
    ``config_hash`` is ``cache_key`` of the rest.
    """

    zsar: str
    head: str
    head_config: dict[str, Any]
    protocol: str
    splits: int
    train: dict[str, Any]
    selection: dict[str, Any]
    transfer: dict[str, Any]
    rerank: str
    features: CacheRecord
    protocol_options: dict[str, Any] | None = None
    source_features: CacheRecord | None = None
    tau: float | None = None
    filter_text: FilterTextRecord | None = None
    overlap_with: tuple[OverlapRecord, ...] = ()
    source_classes: tuple[str, ...] = ()
    config_hash: str = ""
    schema_version: int = RUN_SCHEMA_VERSION

    def settings(self) -> dict[str, Any]:
        """Every setting by dotted name (``train.lr``), so that a difference between two configs names it."""
        return _flatten(record_json(self))


def _flatten(values: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


@dataclass(frozen=True, kw_only=True)
class SplitRecord:
    """One split's accuracies (percent) in ``metrics.json`` and the values model selection chose there.

    ``accuracies``: the values of the measures the protocol adds (``RunMetrics.measures``),
    e.g. GZSL's ``seen_top1``/``unseen_top1``/``harmonic``, base-to-novel's
    ``base_top1``/``novel_top1``/``hm``; ``None`` where a split has no test video of a group.
    """

    split: int
    top1: float
    top5: float
    n_test: int
    n_classes: int
    accuracies: dict[str, float | None] = field(default_factory=dict)
    selected: dict[str, float] | None = None


@dataclass(frozen=True, kw_only=True)
class RunMetrics:
    """``RUN/metrics.json``: per-split records, the mean and (population) std over splits, notes on the run.

    ``measures``: the registered measures (``zsar.metrics.measures``) the protocol added to each
    split's ``accuracies``, so ``zsar metrics`` and the reports show them. Version 2 moved
    those values from the split record itself into ``accuracies`` (``upgrade_metrics`` reads version 1).
    """

    protocol: str
    head: str
    splits: tuple[SplitRecord, ...]
    mean: dict[str, float]
    std: dict[str, float]
    measures: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()
    schema_version: int = METRICS_SCHEMA_VERSION

    def split_ids(self) -> list[int]:
        return [s.split for s in self.splits]


# Version 1 stored a protocol's accuracies as fields of the split record; these measures named them.
_VERSION_1_MEASURES = {"seen-unseen": ("seen_top1", "unseen_top1", "harmonic"),
                       "base-novel": ("base_top1", "novel_top1", "hm")}


def upgrade_metrics(raw: Any) -> Any:
    """A version-1 (or unversioned) ``metrics.json`` object as version 2: split accuracies under ``accuracies``."""
    if not isinstance(raw, dict) or raw.get("schema_version", 1) != 1 or not isinstance(raw.get("splits"), list):
        return raw
    measures, splits = [], []
    for split in raw["splits"]:
        if not isinstance(split, dict):
            return raw
        split, accuracies = dict(split), {}
        for name, keys in _VERSION_1_MEASURES.items():
            if any(split.get(key) is not None for key in keys) and name not in measures:
                measures.append(name)
            accuracies.update({key: split.pop(key) for key in keys if split.get(key) is not None})
            for key in keys:
                split.pop(key, None)
        splits.append({**split, "accuracies": accuracies})
    return {**raw, "splits": splits, "measures": measures, "schema_version": METRICS_SCHEMA_VERSION}


@dataclass(frozen=True, kw_only=True)
class SelectionRecord:
    """``split-<i>/selection.json``: the chosen values, their validation top-1, every curve, what was held out."""

    chosen: dict[str, float]
    top1: float
    curves: tuple[dict[str, Any], ...]
    validation_classes: tuple[str, ...]
    n_train: int
    n_validation: int
    config: dict[str, Any] = field(default_factory=dict)
    schema_version: int = RUN_SCHEMA_VERSION

    def describe(self) -> str:
        values = ", ".join(f"{k} {v:g}" for k, v in self.chosen.items())
        return (f"{values} (validation top-1 {self.top1:.1f} % on {len(self.validation_classes)} held-out "
                f"seen classes, {self.n_validation} videos)")


@dataclass(frozen=True, kw_only=True)
class CheckpointMeta:
    """The ``meta`` beside a checkpoint's state dict: head kind, dims and config, the split's training settings."""

    head: str
    dims: dict[str, Any]
    config: dict[str, Any]
    split: int
    config_hash: str
    train: dict[str, Any]
    selected: dict[str, float] | None
    train_classes: tuple[str, ...]
    schema_version: int = RUN_SCHEMA_VERSION


@dataclass(frozen=True, kw_only=True)
class LogRecord:
    """One line of ``log.jsonl``: a split's epoch (closed-form heads: step 0, the residual as loss)."""

    split: int
    epoch: int
    step: int
    loss: float
    lr: float
    seconds: float


def write_record(path: Path, record: Any) -> None:
    """Write ``record`` to ``path`` atomically with its checksum file (its folder is made)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(path.parent, err, "choose a writable --out") from None
    with atomic_write(path, commit=commit_with_checksum) as tmp:
        tmp.write_text(render_record(record))


def sidecar_problem(path: Path, root: Path) -> str | None:
    """Why the run file ``path`` does not match its checksum file (named relative to ``root``), or ``None``.

    A file without a checksum file was written before run files had them: ``None``, and its
    reader checks it by parsing it.
    """
    if path.is_file() and not checksum_path(path).is_file():
        return None
    return file_problem(path, root)


def read_record(cls: type, path: Path, what: str, fix: str, upgrade: Callable[[Any], Any] = lambda raw: raw,
                root: Path | None = None) -> Any:
    """The ``cls`` in the JSON file ``path``; missing, unreadable or damaged is one ``RunFileError`` naming it.

    The file is checked against its checksum file first (``sidecar_problem``; ``root``, the run
    folder, names it). ``upgrade`` turns the parsed JSON of an older schema version into the current one.
    """
    root = Path(path).parent if root is None else root
    problem = sidecar_problem(Path(path), root) if Path(path).is_file() else None
    if problem is not None:
        raise RunFileError(f"run {root}: {problem}; {fix}")
    where = f"{what} {path}"
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        raise RunFileError(f"{where} is missing; {fix}") from None
    except UnicodeDecodeError as err:
        raise RunFileError(f"{where} is damaged: not valid JSON ({err}); {fix}") from None
    except OSError as err:
        raise RunFileError(f"cannot read {where} ({err.strerror}); {fix}") from None
    return parse_record(cls, upgrade(load_json_text(text, where, fix, RunFileError)), where, fix, RunFileError)


def write_run_config(layout: RunLayout, config: RunConfig) -> None:
    write_record(layout.config_path, config)


def read_run_config(layout: RunLayout, fix: str = NEW_RUN) -> RunConfig:
    return read_record(RunConfig, layout.config_path, "run config", fix)


def write_run_metrics(layout: RunLayout, metrics: RunMetrics) -> None:
    write_record(layout.metrics_path, metrics)


def read_run_metrics(layout: RunLayout) -> RunMetrics:
    return read_record(RunMetrics, layout.metrics_path, "run metrics", REDO, upgrade=upgrade_metrics)


def write_selection(layout: RunLayout, split: int, selection: SelectionRecord) -> None:
    write_record(layout.selection_path(split), selection)


def read_selection(layout: RunLayout, split: int) -> SelectionRecord | None:
    """What selection chose for ``split`` (None if it did not run there)."""
    path = layout.selection_path(split)
    if not path.is_file():
        return None
    return read_record(SelectionRecord, path, "model selection", REDO, root=layout.root)


def append_log(layout: RunLayout, record: LogRecord) -> None:
    """Append one line to ``log.jsonl``."""
    try:
        with open(layout.log_path, "a") as f:
            f.write(json.dumps(record_json(record)) + "\n")
    except OSError as err:
        raise write_error(layout.log_path, err) from None


def read_log(layout: RunLayout) -> list[tuple[str, LogRecord]]:
    """``(line, record)`` of each sound line of ``log.jsonl`` (half a line from a kill is skipped)."""
    if not layout.log_path.is_file():
        return []
    out = []
    for line in layout.log_path.read_text(errors="replace").splitlines():
        try:
            out.append((line, parse_record(LogRecord, json.loads(line), "log line", REDO, RunFileError)))
        except (json.JSONDecodeError, RunFileError):
            continue
    return out
