"""Measure a run directory (every split) or a raw feature cache: the ``zsar metrics`` library API.

For a run, per split (``SplitResult``): the accuracy of the final ``scores`` (top-1, top-5,
mean per-class, confusion), then each registered measure asked (``MetricsConfig.measures``,
by default every ``default`` one: hubness, closeness, dispersion) and each measure the run's
protocol added (its ``metrics.json`` names them, e.g. ``base-novel``); see
``zsar.metrics.measures``. For a raw cache, the measures that can be taken on videos alone.

The run's summary holds the mean over splits of every number (each measure may summarise its
own keys, as base-to-novel's HM of the means), ``std`` (population standard deviation over
splits, same shape) and ``per_split``.

A run's files are checked as they are read (``zsar.runs.results.RunReader``): a damaged
``metrics.json``, ``predictions.parquet``, checkpoint or ``embeddings.h5`` is refused in one
line. The numbers ``metrics.json`` stores are then compared with those measured again
(``stored_disagreements``): a stored number that differs (an edited file whose checksum
file was edited too, or one from before checksum files) is a warning and a note; the
numbers shown are the ones measured now.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zsar.cache.features import load_features, load_text
from zsar.cache.layout import open_layout
from zsar.cache.text import list_text_files, read_text_embeddings
from zsar.errors import ZsarError
from zsar.metrics.accuracy import accuracy
from zsar.metrics.measures import FEATURES_K, MEASURES, RUN_K, MetricsConfig, SplitMetrics, merge, summarise
from zsar.runs.files import REDO, RunMetrics
from zsar.runs.results import RunReader, SplitResult
from zsar.vectors import l2_normalise

log = logging.getLogger(__name__)
ACCURACY_KEYS = ("top1", "top5", "mean_class_accuracy")
STORED_TOLERANCE = 1e-6  # percent: metrics.json holds full floats, computed the same way
DISAGREEMENTS_SHOWN = 3


@dataclass(frozen=True, kw_only=True)
class MetricsRequest:
    """What ``zsar metrics`` is asked, checked as it is built: a ``run`` or a raw cache (``features``), the
    ``measures`` named by their flags (none: the default ones), the hubness ``k`` text, and ``plots``."""

    run: Path | None = None
    features: Path | None = None
    text: str | None = None
    measures: tuple[str, ...] = ()
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
        ks = parse_k(self.k) if self.k is not None else RUN_K if self.run is not None else FEATURES_K
        return MetricsConfig(measures=self.measures or None, k=ks)


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
class MeasuredRun:
    """The measurements of every split of a run, and the measures taken (``measures``, in order)."""

    root: Path
    protocol: str
    head: str
    config: MetricsConfig
    splits: list[SplitMetrics]
    measures: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # about the run: from train-head's metrics.json, or unfinished

    def summary(self) -> dict[str, Any]:
        """The JSON object of ``zsar metrics RUN --json``: means over splits, ``std``, ``per_split``."""
        per_split = [s.to_json() for s in self.splits]
        mean, std = summarise(per_split, self.measures, ACCURACY_KEYS)
        notes = self.notes + sorted({note for s in self.splits for note in s.notes} - set(self.notes))
        return {"run": str(self.root), "protocol": self.protocol, "head": self.head,
                "n_splits": len(per_split), **mean, "std": std, "per_split": per_split,
                "measures": list(self.measures), **({"notes": notes} if notes else {})}


def measure_split(result: SplitResult, config: MetricsConfig, measures: list[str]) -> SplitMetrics:
    """Accuracy and each of ``measures`` on one split of a run."""
    labels = result.label_positions()
    names = [result.class_names[int(c)] for c in result.test_classes]
    metrics = SplitMetrics(split=result.split, class_names=names, accuracy=accuracy(result.scores, labels))
    for name in measures:
        merge(metrics.values, MEASURES.create(name).split(result, config, metrics))
    return metrics


def measure_run(run: Path | str | RunReader, config: MetricsConfig = MetricsConfig()) -> MeasuredRun:
    """Measure every split of the run directory ``run``: the asked measures and its protocol's."""
    reader = run if isinstance(run, RunReader) else RunReader(Path(run))
    notes = [] if reader.metrics is None else list(reader.metrics.notes)
    if reader.metrics is None:
        notes.append(f"{reader.root} has no metrics.json (`zsar train-head` did not finish): measured the "
                     f"splits on disk, {reader.split_ids()}")
        log.warning(notes[-1])
    reader.check_files()
    measures = config.names(() if reader.metrics is None else reader.metrics.measures)
    splits = []
    for result in reader.splits():
        _check_split(reader.root, result)
        log.info("measuring split %d of %s (%d test videos, %d classes)", result.split, reader.root,
                 len(result.test_labels), len(result.test_classes))
        splits.append(measure_split(result, config, measures))
    for note in dict.fromkeys(n for s in splits for n in s.notes):  # once per run, as the report lists them
        log.warning(note)
    differ = [] if reader.metrics is None else stored_disagreements(reader.metrics, splits)
    if differ:
        shown = "; ".join(differ[:DISAGREEMENTS_SHOWN]) + (f" and {len(differ) - DISAGREEMENTS_SHOWN} more"
                                                           if len(differ) > DISAGREEMENTS_SHOWN else "")
        notes.append(f"{reader.layout.metrics_path} disagrees with the numbers measured again from the run's splits "
                     f"({shown}); the numbers shown are measured now; {REDO} (writes metrics.json again)")
        log.warning(notes[-1])
    return MeasuredRun(root=reader.root, protocol=reader.config.protocol, head=reader.config.head, config=config,
                       splits=splits, measures=measures, notes=notes)


def stored_disagreements(stored: RunMetrics, splits: list[SplitMetrics]) -> list[str]:
    """Each number of ``stored`` (``metrics.json``) that differs from its measurement in ``splits``, worded.

    Per split: top-1, top-5, the test videos and classes, and the protocol's accuracies that
    were measured again; over splits: the mean and std of top-1 and top-5.
    """
    measured = {m.split: m for m in splits}
    differ = []

    def compare(what: str, kept: float | None, now: float | None) -> None:
        if kept is not None and now is not None and not abs(float(kept) - float(now)) <= STORED_TOLERANCE:
            differ.append(f"{what}: {kept:g} stored, {now:g} measured")

    for record in stored.splits:
        m = measured.get(record.split)
        if m is None or m.accuracy is None:
            continue
        compare(f"split {record.split} top1", record.top1, m.accuracy.top1)
        compare(f"split {record.split} top5", record.top5, m.accuracy.top5)
        compare(f"split {record.split} test videos", record.n_test, len(m.accuracy.correct))
        compare(f"split {record.split} classes", record.n_classes, len(m.class_names))
        for key, value in record.accuracies.items():
            now = m.values.get(key)
            compare(f"split {record.split} {key}", value, now if isinstance(now, (int, float)) else None)
    mine = [measured[r.split] for r in stored.splits if r.split in measured and measured[r.split].accuracy]
    if len(mine) == len(stored.splits) and mine:
        for key in ("top1", "top5"):
            values = np.array([getattr(m.accuracy, key) for m in mine])
            compare(f"mean {key}", stored.mean.get(key), float(values.mean()))
            compare(f"std {key}", stored.std.get(key), float(values.std()))
    return differ


def evaluate_run(run: Path | str | RunReader, config: MetricsConfig = MetricsConfig()) -> dict[str, Any]:
    """``measure_run(run, config).summary()``: the run's metrics as a JSON-ready dict."""
    return measure_run(run, config).summary()


def evaluate_features(cache: Path | str, text: str | None = None,
                      config: MetricsConfig = MetricsConfig(k=FEATURES_K)) -> dict[str, Any]:
    """Metrics of a raw feature cache, no head: the JSON object of ``zsar metrics --features``.

    Videos are the mean over clips and frames of their features, L2-normalised. A measure
    that compares videos with class prototypes (``uses_prototypes``, hubness) gets the
    class text prototypes only when the text embeddings share the backbone's space (the
    cache's and the text file's ``space`` are equal and non-empty, e.g. CLIP); otherwise a
    note says why they were skipped. ``text`` names the text file (else the one in the
    backbone's space). Closeness and dispersion are of the videos by class.
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
    names = config.names()
    prototypes = None
    if any(MEASURES.get(name).uses_prototypes for name in names):
        prototypes = _text_prototypes(features.cache_dir, features.config.space, features.class_names, text,
                                      metrics.notes)
    for name in names:
        values = MEASURES.create(name).features(videos, features.labels, prototypes, config, metrics)
        merge(metrics.values, values or {})
    for note in metrics.notes[logged:]:  # what the measures noted, said once
        log.warning(note)
    out = metrics.to_json()
    del out["split"]
    return {"features": str(features.cache_dir), "space": features.config.space,
            "n_videos": len(features), "n_classes": len(features.class_names), **out, "measures": names,
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
