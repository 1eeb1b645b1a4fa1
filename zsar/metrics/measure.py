"""Measure a run directory (every split) or a raw feature cache: the ``zsar metrics`` library API.

For a run, per split (``SplitResult``):

- accuracy of the final ``scores`` (top-1, top-5, mean per-class, confusion);
- ``hubness``: videos against the test-class prototypes. ``N_k(c)`` counts the videos
  whose k best *final scores* include class c -- the scores the predictions were taken
  from, after any re-ranking (CSLS, inverted softmax) -- so ``N_1(c)`` is exactly how many
  videos were predicted as c and a re-ranker's effect on hubness is visible. With plain
  cosine scores this is the exact cosine k-NN of the test embeddings among the prototypes;
- ``hubness_videos``: test videos against test videos by exact FAISS cosine k-NN, self
  excluded;
- ``closeness``/``dispersion``/``dispersion_mean`` of the test embeddings by true class
  (the unseen classes in zero-shot protocols) and, under ``seen``, of the training
  embeddings of the seen classes when the run stored them.

The run's summary holds the mean over splits of every number, ``std`` (population standard
deviation over splits, same shape) and ``per_split``. A k that is not below the number of
candidates of a setting is left out of that setting with a note (``N_k`` would be constant).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zsar.metrics.accuracy import Accuracy, accuracy, mean_std
from zsar.cache import RunReader, SplitResult, load_features, load_text, open_layout
from zsar.cache.text import list_text_files, read_text_embeddings
from zsar.errors import ZsarError
from zsar.metrics.geometry import ClassGeometry, class_geometry
from zsar.metrics.hubness import BATCH_SIZE, hubness_stats, k_occurrence, score_occurrence
from zsar.vectors import l2_normalise

log = logging.getLogger(__name__)

RUN_K = (1, 5, 10)
FEATURES_K = (10,)
PROTOTYPES, VIDEOS = "hubness", "hubness_videos"


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """What to measure: accuracy is always measured for a run; ``k`` are the hubness k values."""

    hubness: bool = True
    closeness: bool = True
    dispersion: bool = True
    k: tuple[int, ...] = RUN_K
    batch_size: int = BATCH_SIZE

    def __post_init__(self) -> None:
        if not self.k or min(self.k) < 1:
            raise ZsarError(f"hubness k values {self.k} must be positive integers, e.g. --k 1,5,10")


@dataclass(frozen=True, kw_only=True)
class MetricsRequest:
    """What ``zsar metrics`` is asked, checked as it is built: a ``run`` or a raw cache (``features``), what to
    measure (none of hubness, closeness, dispersion: all three), the hubness ``k`` text, and ``plots``."""

    run: Path | None = None
    features: Path | None = None
    text: str | None = None
    hubness: bool = False
    closeness: bool = False
    dispersion: bool = False
    k: str | None = None
    plots: bool = False

    def __post_init__(self) -> None:
        if (self.run is None) == (self.features is None):
            raise ZsarError("give either a run directory or --features CACHE, e.g. `zsar metrics runs/rest`")
        if self.features is not None and self.plots:
            raise ZsarError("--plots needs a run directory; drop --plots when measuring --features")
        if self.run is not None and self.text is not None:
            raise ZsarError("--text applies to --features only; a run already holds its class prototypes")

    def config(self) -> MetricsConfig:
        everything = not (self.hubness or self.closeness or self.dispersion)
        ks = parse_k(self.k) if self.k is not None else RUN_K if self.run is not None else FEATURES_K
        return MetricsConfig(hubness=self.hubness or everything, closeness=self.closeness or everything,
                             dispersion=self.dispersion or everything, k=ks)


def parse_k(text: str) -> tuple[int, ...]:
    """``"1,5,10"`` -> ``(1, 5, 10)``; anything but positive integers is refused."""
    try:
        ks = tuple(int(part) for part in text.split(","))
    except ValueError:
        ks = ()
    if not ks or min(ks) < 1:
        raise ZsarError(f"--k {text!r}: write positive integers separated by commas, e.g. --k 1,5,10")
    return ks


@dataclass(kw_only=True)
class SplitMetrics:
    """Everything measured on one split; ``occurrence[setting][k]`` is ``N_k`` of that setting."""

    split: int
    class_names: list[str]
    accuracy: Accuracy | None = None
    occurrence: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    geometry: dict[str, ClassGeometry] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self, config: MetricsConfig) -> dict[str, Any]:
        out: dict[str, Any] = {"split": self.split}
        if self.accuracy is not None:
            out.update(top1=self.accuracy.top1, top5=self.accuracy.top5,
                       mean_class_accuracy=self.accuracy.mean_class)
        for setting, by_k in self.occurrence.items():
            out[setting] = {str(k): hubness_stats(n_k, k).to_json() for k, n_k in by_k.items()}
        for name, geometry in self.geometry.items():
            values = _geometry_json(geometry, config)
            if name == "seen":
                out["seen"] = values
            else:
                out.update(values)
        return out


@dataclass(kw_only=True)
class MeasuredRun:
    """The measurements of every split of a run."""

    root: Path
    protocol: str
    head: str
    config: MetricsConfig
    splits: list[SplitMetrics]
    notes: list[str] = field(default_factory=list)  # about the run: from train-head's metrics.json, or unfinished

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``zsar metrics RUN --json``: means over splits, ``std``, ``per_split``."""
        per_split = [s.to_json(self.config) for s in self.splits]
        mean, std = mean_std(per_split)
        notes = self.notes + sorted({note for s in self.splits for note in s.notes} - set(self.notes))
        return {"run": str(self.root), "protocol": self.protocol, "head": self.head,
                "n_splits": len(per_split), **mean, "std": std, "per_split": per_split,
                **({"notes": notes} if notes else {})}


def _measure_split(result: SplitResult, config: MetricsConfig) -> SplitMetrics:
    """Measure one split of a run (see the module docstring)."""
    labels = result.label_positions()
    names = [result.class_names[int(c)] for c in result.test_classes]
    metrics = SplitMetrics(split=result.split, class_names=names, accuracy=accuracy(result.scores, labels))
    if config.hubness:
        ks = _usable_k(config.k, len(names), "class prototypes", metrics.notes)
        if ks:
            metrics.occurrence[PROTOTYPES] = score_occurrence(result.scores, ks, config.batch_size)
        _add_video_hubness(metrics, result.test_embeddings, config)
    if config.closeness or config.dispersion:
        _add_geometry(metrics, "test", result.test_embeddings, result.test_labels, config)
        if result.train_embeddings is not None and result.train_labels is not None:
            _add_geometry(metrics, "seen", result.train_embeddings, result.train_labels, config)
    return metrics


def measure_run(run: Path | str | RunReader, config: MetricsConfig = MetricsConfig()) -> MeasuredRun:
    """Measure every split of the run directory ``run``."""
    reader = run if isinstance(run, RunReader) else RunReader(Path(run))
    notes = [] if reader.metrics is None else list(reader.metrics.notes)
    if reader.metrics is None:
        notes.append(f"{reader.root} has no metrics.json (`zsar train-head` did not finish): measured the "
                     f"splits on disk, {reader.split_ids()}")
        log.warning(notes[-1])
    splits = []
    for result in reader.splits():
        _check_split(reader.root, result)
        log.info("measuring split %d of %s (%d test videos, %d classes)", result.split, reader.root,
                 len(result.test_labels), len(result.test_classes))
        splits.append(_measure_split(result, config))
    for note in dict.fromkeys(n for s in splits for n in s.notes):  # once per run, as the report lists them
        log.warning(note)
    return MeasuredRun(root=reader.root, protocol=reader.config.protocol, head=reader.config.head, config=config,
                       splits=splits, notes=notes)


def evaluate_run(run: Path | str | RunReader, config: MetricsConfig = MetricsConfig()) -> dict[str, Any]:
    """``measure_run(run, config).summary()``: the run's metrics as a JSON-ready dict."""
    return measure_run(run, config).summary()


def evaluate_features(cache: Path | str, text: str | None = None,
                      config: MetricsConfig = MetricsConfig(k=FEATURES_K)) -> dict[str, Any]:
    """Metrics of a raw feature cache, no head: the JSON object of ``zsar metrics --features``.

    Videos are the mean over clips and frames of their features, L2-normalised.
    ``hubness_videos``: videos against videos (self excluded). ``hubness``: videos against
    the class text prototypes, only when the text embeddings share the backbone's space
    (the cache's and the text file's ``space`` are equal and non-empty, e.g. CLIP);
    otherwise a note says why it was skipped. ``text`` names the text file (else the one
    in the backbone's space). Closeness and dispersion are of the videos by class.
    """
    features = load_features(cache)
    features.check_finite()
    videos = l2_normalise(features.features.mean(axis=(1, 2), dtype=np.float32))
    metrics = SplitMetrics(split=0, class_names=features.class_names)
    partial = features.partial_note()
    if partial is not None:
        log.warning(partial)
        metrics.notes.append(f"{partial}; measured the {len(features)} video(s) it has")
    lost = features.loss_note()
    if lost is not None:
        log.warning(lost)
        metrics.notes.append(lost)
    log.info("measuring %d videos of %s (%d-d)", len(features), features.cache_dir, videos.shape[1])
    logged = len(metrics.notes)
    if config.hubness:
        prototypes = _text_prototypes(features.cache_dir, features.config.space,
                                      features.class_names, text, metrics.notes)
        ks = [] if prototypes is None else _usable_k(config.k, len(prototypes), "class prototypes", metrics.notes)
        if ks:
            metrics.occurrence[PROTOTYPES] = k_occurrence(videos, prototypes, ks, batch_size=config.batch_size)
        _add_video_hubness(metrics, videos, config)
    if config.closeness or config.dispersion:
        _add_geometry(metrics, "test", videos, features.labels, config)
    for note in metrics.notes[logged:]:
        log.warning(note)
    out = metrics.to_json(config)
    del out["split"]
    return {"features": str(features.cache_dir), "space": features.config.space,
            "n_videos": len(features), "n_classes": len(features.class_names), **out,
            **({"notes": metrics.notes} if metrics.notes else {})}


def _text_prototypes(cache: Path, space: str, class_names: list[str], name: str | None,
                     notes: list[str]) -> np.ndarray | None:
    """Class text prototypes ``(C, D)`` in the backbone's ``space``, or ``None`` with a note saying why not."""
    if name:
        candidates = [load_text(cache, name)]
    else:
        candidates = [read_text_embeddings(p) for p in list_text_files(open_layout(cache))]
    have = ", ".join(f"{t.file_stem} (space {t.space!r})" for t in candidates) or "none"
    matching = [t for t in candidates if space and t.space == space]
    if len(matching) != 1:
        why = ("the cache's backbone has no joint text space" if not space else
               f"several text embeddings are in space {space!r}; choose one with --text" if matching else
               f"no text embeddings in the backbone's space {space!r}")
        notes.append(f"hubness against class text prototypes skipped: {why} (text: {have})")
        return None
    return matching[0].subset(class_names).mean


def _add_video_hubness(metrics: SplitMetrics, videos: np.ndarray, config: MetricsConfig) -> None:
    ks = _usable_k(config.k, len(videos) - 1, "other test videos", metrics.notes)
    if ks:
        metrics.occurrence[VIDEOS] = k_occurrence(videos, videos, ks, exclude_self=True,
                                                  batch_size=config.batch_size)


def _usable_k(ks: tuple[int, ...], candidates: int, what: str, notes: list[str]) -> list[int]:
    """The k values below ``candidates``; the others are noted (and logged once per run), not silently dropped."""
    usable = sorted(k for k in set(ks) if k < candidates)
    for k in sorted(set(ks) - set(usable)):
        notes.append(f"hubness k={k} against {what} skipped: there are only {candidates}, N_k would be constant")
    return usable


def _add_geometry(metrics: SplitMetrics, name: str, embeddings: np.ndarray, labels: np.ndarray,
                  config: MetricsConfig) -> None:
    """Closeness and dispersion of one set; a set of one class has no dispersion, and a note says so."""
    geometry = class_geometry(embeddings, labels)
    if config.dispersion and geometry.dispersion is None:
        metrics.notes.append(f"dispersion of the {name} embeddings skipped: they hold {geometry.n_classes} class")
    metrics.geometry[name] = geometry


def _geometry_json(geometry: ClassGeometry, config: MetricsConfig) -> dict[str, float]:
    out = {}
    if config.closeness:
        out["closeness"] = geometry.closeness
    if config.dispersion and geometry.dispersion is not None:
        out.update(dispersion=geometry.dispersion, dispersion_mean=geometry.dispersion_mean)
    return out


def _check_split(root: Path, r: SplitResult) -> None:
    """Refuse a split whose arrays disagree in shape or hold NaN/inf, naming what is wrong."""
    n, n_classes = len(r.test_labels), len(r.test_classes)
    dim = r.test_embeddings.shape[1]
    expected = {"scores": (n, n_classes), "test_embeddings": (n, r.prototypes.shape[1]),
                "prototypes": (n_classes, dim)}
    if r.train_embeddings is not None and r.train_labels is not None:
        expected["train_embeddings"] = (len(r.train_labels), dim)
    for name, shape in expected.items():
        value = getattr(r, name)
        if value.shape != shape:
            raise ZsarError(f"{root} split {r.split}: {name} has shape {value.shape}, expected {shape}; "
                            "the run is incomplete or corrupt, re-run `zsar train-head`")
        if not np.isfinite(value).all():
            raise ZsarError(f"{root} split {r.split}: {name} holds NaN or inf; the head diverged, "
                            "re-run `zsar train-head` (e.g. with a lower learning rate)")
