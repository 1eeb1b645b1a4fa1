"""The run directory that ``zsar train-head`` writes and ``zsar metrics`` reads.

::

    RUN/config.json               the training config, protocol and the cache keys it read
    RUN/metrics.json              accuracy per split, mean and std (percent)
    RUN/predictions.parquet       per test video: split, true class, top-5 classes and scores
    RUN/log.jsonl                 one JSON object per epoch and split (loss, lr, seconds)
    RUN/split-<i>/checkpoint.pt   head weights (a plain state dict; loads with weights_only=True)
    RUN/split-<i>/embeddings.h5   the arrays of ``SplitResult`` below

Accuracies are stored in percent, as the field reports them.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from zsar.cache.layout import atomic_write_text, config_differences
from zsar.errors import ZsarError

_STR = h5py.string_dtype()
TOP_K = 5
CHECKPOINT_NAME = "checkpoint.pt"


@dataclass
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
        """``(N, k)`` indices into ``class_names`` of the top-k classes by score."""
        k = min(k, self.scores.shape[1])
        top = np.argsort(-self.scores, axis=1, kind="stable")[:, :k]
        return self.test_classes[top]


_STRING_FIELDS = ("class_names", "test_video_ids")


def split_dir(run: Path, split: int) -> Path:
    return Path(run) / f"split-{split}"


def write_split_result(run: Path, result: SplitResult) -> Path:
    """Write ``result`` to ``RUN/split-<i>/embeddings.h5`` atomically."""
    folder = split_dir(run, result.split)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "embeddings.h5"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
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
    os.replace(tmp, path)
    return path


def read_split_result(path: Path) -> SplitResult:
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


def write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_text(Path(path), json.dumps(payload, indent=2, sort_keys=False, default=_json_default) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)


def prepare_run_dir(run: Path, config: dict[str, Any], replace: bool = False) -> list[int]:
    """Create ``run`` with ``config.json``; returns the splits already finished there.

    An existing non-empty ``run`` is accepted only if it holds a run with the same
    config (then its finished splits are kept and the rest is redone); anything else is
    refused, so nothing is overwritten. With ``replace`` a zsar run with other settings is
    deleted and started again (``zsar sweep`` owns its run folders); other content is
    still refused.
    """
    run = Path(run)
    config = json.loads(json.dumps(config, default=_json_default))
    if run.exists() and not run.is_dir():
        raise ZsarError(f"--out {run} is a file, not a folder; choose a new folder for the run")
    if run.exists() and any(run.iterdir()):
        if not (run / "config.json").is_file():
            raise ZsarError(f"--out {run} exists and is not a zsar run; choose another --out or empty it")
        old = json.loads((run / "config.json").read_text())
        diffs = config_differences(_flatten(old), _flatten(config), ignore=("config_hash",))
        if diffs and replace:
            shutil.rmtree(run)
            return prepare_run_dir(run, config)
        if diffs:
            shown = "; ".join(diffs[:3]) + (f" and {len(diffs) - 3} more" if len(diffs) > 3 else "")
            raise ZsarError(f"--out {run} holds a run with other settings ({shown}); choose another --out "
                            "(or delete that run to redo it)")
        return [i for i in RunReader(run).split_ids() if (split_dir(run, i) / CHECKPOINT_NAME).is_file()]
    run.mkdir(parents=True, exist_ok=True)
    write_json(run / "config.json", config)
    return []


def _flatten(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"train": {"lr": 1}}`` -> ``{"train.lr": 1}``, so differences name the setting."""
    flat: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{prefix}{key}."))
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def write_checkpoint(run: Path, split: int, state_dict: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Save ``RUN/split-<i>/checkpoint.pt``: a plain state dict and a dict of primitives (``weights_only`` loads it)."""
    import torch

    folder = split_dir(run, split)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_NAME
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}, "meta": meta}, tmp)
    os.replace(tmp, path)
    return path


def link_checkpoint(run: Path, from_split: int, to_split: int) -> Path:
    """Give split ``to_split`` the checkpoint of ``from_split`` (splits sharing one model): a hard link, or a copy."""
    source = split_dir(run, from_split) / CHECKPOINT_NAME
    folder = split_dir(run, to_split)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_NAME
    path.unlink(missing_ok=True)
    try:
        os.link(source, path)
    except OSError:  # a file system without hard links
        shutil.copyfile(source, path)
    return path


def read_checkpoint(path: Path) -> dict[str, Any]:
    """``{"state_dict", "meta"}`` of a checkpoint written by ``write_checkpoint`` (safe: ``weights_only``)."""
    import torch

    return torch.load(Path(path), map_location="cpu", weights_only=True)


def append_log(run: Path, record: dict[str, Any]) -> None:
    """Append one JSON line to ``RUN/log.jsonl`` (loss per epoch)."""
    with open(Path(run) / "log.jsonl", "a") as f:
        f.write(json.dumps(record, default=_json_default) + "\n")


def write_predictions(run: Path, results: list[SplitResult]) -> Path:
    """``predictions.parquet``: a row per test video and split with the top-5 classes and scores."""
    columns: dict[str, list] = {"video_id": [], "split": [], "true_class": [], "pred_classes": [],
                                "pred_scores": [], "correct": []}
    for r in results:
        top = r.predictions()
        order = np.argsort(-r.scores, axis=1, kind="stable")[:, : top.shape[1]]
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
    path = Path(run) / "predictions.parquet"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    pq.write_table(pa.Table.from_pydict(columns), tmp)
    os.replace(tmp, path)
    return path


@dataclass
class RunReader:
    """Read a run directory written by ``zsar train-head``."""

    root: Path

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        if not (self.root / "config.json").is_file():
            raise ZsarError(f"{self.root} is not a zsar run directory (no config.json); "
                            "pass the --out folder of `zsar train-head`")

    @property
    def config(self) -> dict[str, Any]:
        return json.loads((self.root / "config.json").read_text())

    @property
    def metrics(self) -> dict[str, Any]:
        path = self.root / "metrics.json"
        return json.loads(path.read_text()) if path.is_file() else {}

    def split_ids(self) -> list[int]:
        ids = []
        for d in self.root.glob("split-*"):
            if (d / "embeddings.h5").is_file():
                ids.append(int(d.name.split("-", 1)[1]))
        return sorted(ids)

    def split(self, split: int) -> SplitResult:
        path = split_dir(self.root, split) / "embeddings.h5"
        if not path.is_file():
            raise ZsarError(f"run {self.root} has no split {split} (it has {self.split_ids()})")
        return read_split_result(path)

    def splits(self) -> list[SplitResult]:
        ids = self.split_ids()
        if not ids:
            raise ZsarError(f"run {self.root} has no finished split; did `zsar train-head` complete?")
        return [self.split(i) for i in ids]

    def log(self) -> list[dict[str, Any]]:
        path = self.root / "log.jsonl"
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
