"""Registered measures (``MEASURES``): each one is a class that says everything about itself.

A measure is what ``zsar metrics`` can be asked for (``--hubness``, ``--closeness``,
``--dispersion``, a plugin's own) or what a protocol adds to each split's accuracy (GZSL's
seen / unseen / harmonic top-1, base-to-novel's base / novel / HM). Its class gives:

- ``keys``: the JSON keys it adds to each split's object and to the summary;
- ``split(result, config, out)``: those values on one split of a run (``SplitResult``);
  ``out`` (``SplitMetrics``) takes notes and raw arrays for the plots;
- ``features(videos, labels, prototypes, config, out)``: the same on a raw cache
  (``zsar metrics --features``; ``None``: not measured there);
- ``summary(per_split)``: mean and population std over splits of its keys (a measure may
  define its own, e.g. the HM of the mean base and novel top-1);
- ``report(summary)``: its Markdown section of ``report.md`` and of the terminal tables;
- ``columns`` / ``details``: the sweep table's columns (title -> dotted path in the
  summary) and those of the sweep report's second table, with ``digits`` decimals;
- ``flag``: whether ``zsar metrics`` has a ``--NAME`` flag for it; ``default``: measured when
  no flag is given; ``definition``: the paragraph the reports add under "Definitions".

Adding a measure is one registered class; ``zsar metrics``, ``report.md`` and the sweep
table follow the registry. A protocol names the accuracy measures it adds (``Protocol.measures``),
and a run's ``metrics.json`` records their names, so ``zsar metrics`` finds them from the run.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from zsar.errors import ZsarError
from zsar.metrics.accuracy import Accuracy, harmonic_mean, mean_std
from zsar.registry import Registry

if TYPE_CHECKING:
    from zsar.runs.results import SplitResult

# The modules that register the built-in measures; the registry imports them on first use.
MEASURE_MODULES = ("zsar.metrics.hubness_measure", "zsar.metrics.geometry_measures", "zsar.metrics.groups")
MEASURES: Registry[type["Measure"]] = Registry("measure", modules=MEASURE_MODULES)
RUN_K = (1, 5, 10)
FEATURES_K = (10,)
BATCH_SIZE = 8192  # queries per FAISS search


@dataclass(frozen=True, kw_only=True)
class MetricsConfig:
    """What to measure: ``measures`` by name (None: every ``default`` measure), the hubness ``k`` values.

    Accuracy is always measured for a run, and so are the measures its protocol added.
    """

    measures: tuple[str, ...] | None = None
    k: tuple[int, ...] = RUN_K
    batch_size: int = BATCH_SIZE

    def __post_init__(self) -> None:
        if not self.k or min(self.k) < 1:
            raise ZsarError(f"hubness k values {self.k} must be positive integers, e.g. --k 1,5,10")
        for name in self.measures or ():
            MEASURES.entry(name)  # an unknown name lists the valid ones

    def names(self, also: tuple[str, ...] = ()) -> list[str]:
        """The measures to run: the asked (or default) ones, then ``also`` (a run's protocol measures)."""
        asked = list(self.measures) if self.measures is not None else default_measures()
        return asked + [name for name in also if name not in asked]


@dataclass(kw_only=True)
class SplitMetrics:
    """Everything measured on one split: ``values`` (JSON-ready, by measure key), ``occurrence[setting][k]``
    (``N_k`` arrays, for the plots) and the notes."""

    split: int
    class_names: list[str]
    accuracy: Accuracy | None = None
    values: dict[str, Any] = field(default_factory=dict)
    occurrence: dict[str, dict[int, np.ndarray]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"split": self.split}
        if self.accuracy is not None:
            out.update(top1=self.accuracy.top1, top5=self.accuracy.top5,
                       mean_class_accuracy=self.accuracy.mean_class)
        return merge(out, self.values)


class Measure(abc.ABC):
    """Base of the registered measures; see the module docstring."""

    keys: ClassVar[tuple[str, ...]] = ()
    flag: ClassVar[bool] = True
    default: ClassVar[bool] = False
    columns: ClassVar[dict[str, str]] = {}
    details: ClassVar[dict[str, str]] = {}
    digits: ClassVar[int] = 2  # decimals of its sweep columns
    uses_prototypes: ClassVar[bool] = False  # on a raw cache, compares the videos with class text prototypes
    definition: ClassVar[str] = ""

    @abc.abstractmethod
    def split(self, result: "SplitResult", config: MetricsConfig, out: SplitMetrics) -> dict[str, Any]:
        """This measure's values on one split of a run."""

    def features(self, videos: np.ndarray, labels: np.ndarray, prototypes: np.ndarray | None,
                 config: MetricsConfig, out: SplitMetrics) -> dict[str, Any] | None:
        """This measure's values on a raw cache's videos ``(N, D)`` (``prototypes`` ``(C, D)`` or None); None: not measured."""
        return None

    def summary(self, per_split: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        """Mean and population std over splits of this measure's keys."""
        return mean_std([{k: s[k] for k in self.keys if k in s} for s in per_split])

    def report(self, summary: dict[str, Any]) -> str | None:
        """Its Markdown section (a ``##`` heading and a table) of ``summary``, or None when it has no value there."""
        return None


def default_measures() -> list[str]:
    """The measures ``zsar metrics`` runs when no measure flag is given, in registration order."""
    return [entry.name for entry in MEASURES.in_order() if entry.obj.default]


def flag_measures() -> list[str]:
    """The measures that have a ``zsar metrics --NAME`` flag, in registration order."""
    return [entry.name for entry in MEASURES.in_order() if entry.obj.flag]


def measure_keys(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The JSON keys the measures ``names`` add, in order."""
    return tuple(key for name in names for key in MEASURES.get(name).keys)


def summarise(per_split: list[dict[str, Any]], names: list[str] | tuple[str, ...],
              base_keys: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Mean and std over splits: of ``base_keys`` (plain means), then of each measure's keys (its own summary)."""
    mean, std = mean_std([{k: s[k] for k in base_keys if k in s} for s in per_split])
    for name in names:
        m, s = MEASURES.get(name)().summary(per_split)
        mean.update(m)
        std.update(s)
    return mean, std


def merge(into: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    """``values`` added to ``into``, nested objects merged (two measures may add to one group, e.g. ``seen``)."""
    for key, value in values.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = value
    return into


@dataclass
class GroupAccuracy:
    """Top-1 (percent) on two groups of a split's test videos, and their harmonic mean; None for an empty group."""

    first: float | None
    second: float | None
    notes: list[str] = field(default_factory=list)

    @property
    def harmonic(self) -> float | None:
        return None if self.first is None or self.second is None else harmonic_mean(self.first, self.second)


def group_accuracy(result: "SplitResult", correct: np.ndarray, words: tuple[str, str]) -> GroupAccuracy:
    """Top-1 on the test videos of seen classes and on those of unseen ones; a group with no video is None and noted."""
    on_seen = np.asarray(result.seen)[np.asarray(result.test_labels)]
    values, notes = [], []
    for word, mask in zip(words, (on_seen, ~on_seen)):
        if mask.any():
            values.append(100 * float(correct[mask].mean()))
        else:
            values.append(None)
            notes.append(f"split {result.split} holds out no test video of a {word} class: its {word} top-1 and "
                         "the harmonic mean are not defined there (left out of the means)")
    return GroupAccuracy(values[0], values[1], notes)


def cell(value: float | None, spread: float | None = None) -> str:
    """A report cell: ``value`` to 4 significant digits, ``± spread`` to 2 (``-`` for no value)."""
    if value is None:
        return "-"
    return f"{value:.4g}" if spread is None else f"{value:.4g} ± {spread:.2g}"


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    """A Markdown table of ``rows`` under ``header``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])
