"""The run directory that ``zsar train-head`` writes and ``zsar metrics`` reads.

::

    RUN/config.json               the training config, protocol and the cache keys it read (RunConfig)
    RUN/metrics.json              accuracy per split, mean and std (percent) (RunMetrics), and its .sha256
    RUN/predictions.parquet       per test video: split, true class, top-5 classes and scores, and its .sha256
    RUN/log.jsonl                 one JSON object per epoch and split (loss, lr, seconds)
    RUN/split-<i>/checkpoint.pt   head weights (a plain state dict; loads with weights_only=True), and its .sha256
    RUN/split-<i>/embeddings.h5   the arrays of ``SplitResult`` below (and its ``.sha256`` checksum file)

Accuracies are stored in percent, as the field reports them.

One ``zsar train-head`` at a time writes a run (``zsar.runs.lock.RunLock``). A run
started again with the same config keeps the splits that finished (a sound checkpoint and
a sound ``embeddings.h5``, each matching its checksum file) and redoes the others;
``log.jsonl`` keeps only the lines of the kept splits, so a kill and a re-run leave no
duplicate lines. A run folder that holds only a failed start (no finished split) is
started again by any config. ``RunReader`` refuses a run whose ``metrics.json`` lists a
split that is missing or damaged, checkpoint included, naming it and the repair.

Every run file but ``log.jsonl`` has a checksum file (the JSON files: ``zsar.runs.files``).
``RunReader.check_files`` refuses a finished run whose ``predictions.parquet`` is damaged or
missing (``read_run_metrics`` refuses a damaged ``metrics.json`` as it reads it); a resumed
run says which of the two is damaged and writes both again from its splits, and redoes a
split whose ``selection.json`` is damaged.

A checkpoint or ``predictions.parquet`` written before run files had checksum files is
checked by loading it. The JSON files are typed records (``zsar.runs.files``); paths come
from ``RunLayout``.
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, fields
from functools import cached_property
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zsar.runs.checkpoints import checkpoint_problem, split_dir
from zsar.cache.checksums import checksum_path, commit_with_checksum, file_problem
from zsar.cache.layout import CacheLayout, config_differences
from zsar.runs.files import (CHECKPOINT_NAME, EMBEDDINGS_NAME, PREDICTIONS_NAME, REDO, LogRecord, RunConfig,
                             RunLayout, RunMetrics, SelectionRecord, read_log, read_run_config,
                             read_run_metrics, read_selection, sidecar_problem, write_run_config)
from zsar.errors import ZsarError
from zsar.files import atomic_write, atomic_write_text, write_error
from zsar.vectors import TOP_K, positions, top_k

log = logging.getLogger(__name__)
_STR = h5py.string_dtype()


@dataclass(kw_only=True)
class SplitResult:
    """What one split of a protocol produced, for ``zsar metrics``.

    Class indices refer to ``class_names`` (every class the split involves).
    ``seen[c]`` is True for training classes. ``test_classes`` ``(Ct,)`` are the candidate
    classes at test time and ``prototypes`` ``(Ct, D)`` their (L2-normalised) prototypes
    after any semantic transfer; ``scores`` ``(N, Ct)`` the final scores (after any
    re-ranking) from which predictions were taken. ``test_embeddings`` ``(N, D)`` and
    ``train_embeddings`` ``(M, D)`` are L2-normalised video embeddings.
    """

    split: int
    class_names: list[str]
    seen: np.ndarray
    test_classes: np.ndarray
    prototypes: np.ndarray
    test_embeddings: np.ndarray
    test_labels: np.ndarray
    test_video_ids: list[str]
    scores: np.ndarray
    train_embeddings: np.ndarray | None = None
    train_labels: np.ndarray | None = None

    def predictions(self, k: int = TOP_K) -> np.ndarray:
        """``(N, k)`` indices into ``class_names`` of the top-k classes by score (``zsar.vectors.top_k``)."""
        return self.test_classes[top_k(self.scores, k)]

    def label_positions(self) -> np.ndarray:
        """``test_labels`` (indices into ``class_names``) as positions in ``test_classes`` (score columns)."""
        found = positions(self.test_labels, self.test_classes)
        if (found < 0).any():
            missing = int(np.asarray(self.test_labels)[found < 0].min())
            raise ZsarError(f"split {self.split}: test videos of class {self.class_names[missing]!r} "
                            "are not among its test_classes; the run is inconsistent, re-run `zsar train-head`")
        return found


_STRING_FIELDS = ("class_names", "test_video_ids")


def write_split_result(run: Path, result: SplitResult) -> Path:
    """Write ``result`` to ``RUN/split-<i>/embeddings.h5`` atomically, with its checksum file."""
    folder = split_dir(run, result.split)
    path = folder / EMBEDDINGS_NAME
    with atomic_write(path, commit=commit_with_checksum) as tmp:  # a full disk, a read-only folder
        folder.mkdir(parents=True, exist_ok=True)
        _write_split(result, tmp)
    return path


def _write_split(result: SplitResult, tmp: Path) -> None:
    with h5py.File(tmp, "w") as f:
        f.attrs["split"] = result.split
        for fld in fields(SplitResult):
            value = getattr(result, fld.name)
            if fld.name == "split" or value is None:
                continue
            if fld.name in _STRING_FIELDS:
                f.create_dataset(fld.name, data=np.array(value, dtype=object), dtype=_STR)
            else:
                f.create_dataset(fld.name, data=np.asarray(value))


def read_split_result(path: Path) -> SplitResult:
    """One split's ``embeddings.h5``, checked against its checksum file; damage is a ``ZsarError`` naming it."""
    path = Path(path)
    problem = file_problem(path, path.parent.parent)
    if problem is not None:
        raise ZsarError(f"run {path.parent.parent}: {problem}; {REDO}")
    try:
        with h5py.File(path, "r") as f:
            values: dict[str, Any] = {"split": int(f.attrs["split"])}
            for fld in fields(SplitResult):
                if fld.name == "split" or fld.name not in f:
                    continue
                data = f[fld.name][()]
                if fld.name in _STRING_FIELDS:
                    data = [s.decode() if isinstance(s, bytes) else s for s in data]
                values[fld.name] = data
        return SplitResult(**values)
    except (OSError, KeyError, TypeError) as err:
        raise ZsarError(f"run {path.parent.parent}: {path.parent.name}/{path.name} cannot be read ({err}); "
                        f"{REDO}") from None


def prepare_run_dir(run: Path, config: RunConfig, replace: bool = False) -> list[int]:
    """Create ``run`` with ``config.json``; returns the splits already finished there.

    An existing non-empty ``run`` is accepted only if it holds a run with the same
    config (then its finished splits are kept, ``log.jsonl`` is cut to their lines and the
    rest is redone); anything else is refused, so nothing is overwritten. With ``replace``
    a zsar run with other settings is emptied and started again (``zsar sweep`` owns its
    run folders); other content is still refused. Call it while holding the run's ``RunLock``.
    """
    layout = RunLayout(run)
    run = layout.root
    if run.exists() and not run.is_dir():
        raise ZsarError(f"--out {run} is a file, not a folder; choose a new folder for the run")
    if run.exists() and any(run.iterdir()):
        if not layout.config_path.is_file():
            raise ZsarError(f"--out {run} exists and is not a zsar run; choose another --out or empty it")
        old = read_run_config(layout, "choose another --out (or delete that run to redo it)")
        diffs = config_differences(old.settings(), config.settings(), ignore=("config_hash",))
        if diffs and (replace or _failed_start(run)):
            for child in run.iterdir():  # the folder itself stays: the caller's RunLock is on it
                shutil.rmtree(child) if child.is_dir() and not child.is_symlink() else child.unlink()
            return prepare_run_dir(run, config)
        if diffs:
            shown = "; ".join(diffs[:3]) + (f" and {len(diffs) - 3} more" if len(diffs) > 3 else "")
            why = ("; the split files of its cache changed since it ran" if any(".videos_splits:" in d for d in diffs)
                   else "")
            raise ZsarError(f"--out {run} holds a run with other settings ({shown}){why}; choose another --out "
                            "(or delete that run to redo it)")
        done = [i for i in RunReader(run).split_ids() if _finished(run, i)]
        _keep_log_lines(layout, done)
        _note_damaged_summary(layout)
        return done
    try:
        run.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(run, err, "choose a writable --out") from None
    write_run_config(layout, config)
    return []


def _failed_start(run: Path) -> bool:
    """Whether ``run`` holds only a failed start: no metrics and no split with results (nothing finished to lose)."""
    if RunLayout(run).metrics_path.exists() or RunReader(run).split_ids():
        return False
    log.warning("%s holds only a failed start (no finished split); starting it again with these settings", run)
    return True


def _finished(run: Path, split: int) -> bool:
    """A split is kept if it has a sound checkpoint, a sound ``embeddings.h5`` and, when it has one, a sound
    ``selection.json``; a damaged one is redone."""
    problem = checkpoint_problem(split_dir(run, split) / CHECKPOINT_NAME)
    if problem is not None:
        if (split_dir(run, split) / EMBEDDINGS_NAME).is_file():
            log.warning("run %s: %s; redoing split %d", run, problem, split)
        return False
    try:
        read_split_result(split_dir(run, split) / EMBEDDINGS_NAME)
    except ZsarError as err:
        log.warning("%s; redoing split %d", str(err).split("; ")[0], split)
        return False
    selection = RunLayout(run).selection_path(split)
    problem = sidecar_problem(selection, RunLayout(run).root) if selection.is_file() else None
    if problem is not None:
        log.warning("run %s: %s; redoing split %d", run, problem, split)
        return False
    return True




def _note_damaged_summary(layout: RunLayout) -> None:
    """Say which of a resumed run's ``metrics.json`` and ``predictions.parquet`` are damaged: both are written again."""
    problems = [sidecar_problem(layout.metrics_path, layout.root) if layout.metrics_path.is_file() else None,
                predictions_problem(layout) if layout.predictions_path.is_file() else None]
    for problem in filter(None, problems):
        log.warning("run %s: %s; writing it again from the finished splits", layout.root, problem)


def _keep_log_lines(layout: RunLayout, splits: list[int]) -> None:
    """Cut ``log.jsonl`` to the sound lines of ``splits`` (the others are logged again when redone)."""
    if layout.log_path.is_file():
        kept = [line for line, record in read_log(layout) if record.split in splits]
        atomic_write_text(layout.log_path, "".join(f"{line}\n" for line in kept))


def write_predictions(run: Path, results: list[SplitResult]) -> Path:
    """``predictions.parquet``: a row per test video and split with the top-5 classes and scores."""
    columns: dict[str, list] = {"video_id": [], "split": [], "true_class": [], "pred_classes": [],
                                "pred_scores": [], "correct": []}
    for r in results:
        order = top_k(r.scores)
        top = r.test_classes[order]
        scores = np.take_along_axis(r.scores, order, axis=1)
        for i, vid in enumerate(r.test_video_ids):
            true = r.class_names[int(r.test_labels[i])]
            predicted = [r.class_names[int(c)] for c in top[i]]
            columns["video_id"].append(vid)
            columns["split"].append(r.split)
            columns["true_class"].append(true)
            columns["pred_classes"].append(predicted)
            columns["pred_scores"].append([float(s) for s in scores[i]])
            columns["correct"].append(predicted[0] == true)
    path = RunLayout(run).predictions_path
    with atomic_write(path, commit=commit_with_checksum) as tmp:
        pq.write_table(pa.Table.from_pydict(columns), tmp)
    return path


def predictions_problem(layout: RunLayout) -> str | None:
    """Why ``predictions.parquet`` cannot be trusted (named relative to the run), or ``None``.

    It must match its checksum file; one written before run files had them must parse.
    """
    path = layout.predictions_path
    problem = sidecar_problem(path, layout.root)
    if problem is None and not checksum_path(path).is_file():
        try:
            pq.read_table(path)
        except (OSError, pa.ArrowException) as err:
            problem = f"{PREDICTIONS_NAME} cannot be read ({' '.join(str(err).split())[:120]})"
    return problem


class RunReader:
    """Read a run directory written by ``zsar train-head``; its config and metrics are read once, typed."""

    def __init__(self, root: Path) -> None:
        self.layout = RunLayout(root)
        self.root = self.layout.root
        if CacheLayout(self.root).looks_like_cache():
            raise ZsarError(f"{self.root} is a feature cache, not a run; measure it with "
                            f"`zsar metrics --features {self.root}`, or pass the --out folder of `zsar train-head`")
        if not self.layout.config_path.is_file():
            raise ZsarError(f"{self.root} is not a zsar run directory (no config.json); "
                            "pass the --out folder of `zsar train-head`")

    @cached_property
    def config(self) -> RunConfig:
        return read_run_config(self.layout)

    @cached_property
    def metrics(self) -> RunMetrics | None:
        """``metrics.json``, or None when ``zsar train-head`` did not finish."""
        return read_run_metrics(self.layout) if self.layout.metrics_path.is_file() else None

    def finished_metrics(self) -> RunMetrics:
        """``metrics.json``, which a finished run has (a ``ZsarError`` naming the repair without one)."""
        if self.metrics is None:
            raise ZsarError(f"run {self.root} has no metrics.json (`zsar train-head` did not finish); {REDO}")
        return self.metrics

    def check_files(self) -> None:
        """Refuse a finished run whose ``predictions.parquet`` is damaged or missing, in one line (``metrics.json``
        is checked as it is read)."""
        if self.metrics is None:
            return
        problem = predictions_problem(self.layout)
        if problem is not None:
            raise ZsarError(f"run {self.root}: {problem}; {REDO}")

    def listed_splits(self) -> list[int] | None:
        """The splits ``metrics.json`` lists (what ``zsar train-head`` finished), ``None`` without one."""
        return None if self.metrics is None else self.metrics.split_ids()

    def split_ids(self) -> list[int]:
        """The splits with an ``embeddings.h5`` on disk."""
        ids = []
        for d in self.root.glob("split-*"):
            if (d / EMBEDDINGS_NAME).is_file():
                ids.append(int(d.name.split("-", 1)[1]))
        return sorted(ids)

    def split(self, split: int) -> SplitResult:
        """Split ``split``'s results, checked; its checkpoint too when it has one (or its checksum file)."""
        path = self.layout.embeddings_path(split)
        if not path.is_file():
            raise ZsarError(f"run {self.root} has no split {split} (split-{split}/{EMBEDDINGS_NAME} is missing; "
                            f"it has {self.split_ids()}); {REDO}")
        checkpoint = self.layout.checkpoint_path(split)
        if checkpoint.is_file() or checksum_path(checkpoint).is_file():
            problem = checkpoint_problem(checkpoint)
            if problem is not None:
                raise ZsarError(f"run {self.root}: {problem}; {REDO}")
        return read_split_result(path)

    def splits(self) -> list[SplitResult]:
        """Every split ``metrics.json`` lists (each must be there and sound), else every split on disk."""
        ids = self.listed_splits()
        if ids is None:
            ids = self.split_ids()
        if not ids:
            raise ZsarError(f"run {self.root} has no finished split; did `zsar train-head` complete?")
        return [self.split(i) for i in ids]

    def selection(self, split: int) -> SelectionRecord | None:
        """What model selection chose for ``split`` (None where it did not run)."""
        return read_selection(self.layout, split)

    def log(self) -> list[LogRecord]:
        return [record for _, record in read_log(self.layout)]
