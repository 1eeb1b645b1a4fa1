"""Metrics of a run or a raw feature cache: accuracy, the registered measures, plots, report.

Each measure (hubness, closeness, dispersion, a protocol's accuracies, a plugin's) is a class
registered in ``MEASURES`` (``zsar.metrics.measures``) that gives its flag, JSON keys, report
section and sweep columns.

Library API (what ``zsar metrics`` and the demo call)::

    from zsar.metrics import MetricsConfig, evaluate_run, measure_run, write_report

    summary = evaluate_run("runs/rest", MetricsConfig(k=(1, 5, 10)))   # JSON-ready dict
    report = write_report(measure_run("runs/rest"))                     # RUN/plots/*.png, RUN/report.md

The array-level functions (``k_occurrence``, ``hubness_stats``, ``closeness``,
``dispersion``, ``accuracy``) take plain NumPy arrays; ``accuracy`` and the summaries over
splits are ``zsar.metrics.accuracy``'s, the same that ``zsar train-head`` writes into ``metrics.json``.

The names below are imported on first use (``__getattr__``), but for accuracy's (light):
the registered measures' modules import this package's light modules without FAISS, h5py
or matplotlib, so ``zsar metrics --help`` lists the measures' flags cheaply.
"""

import importlib
from typing import Any

# Imported now: ``accuracy`` is also the name of its submodule, which importing it would bind here instead.
from zsar.metrics.accuracy import Accuracy, accuracy, confusion_matrix

_FROM = {**dict.fromkeys(("ClassGeometry", "class_geometry", "closeness", "dispersion"), "zsar.metrics.geometry"),
         **dict.fromkeys(("HubnessStats", "hubness_stats", "k_occurrence", "knn_search", "score_occurrence"),
                         "zsar.metrics.hubness"),
         **dict.fromkeys(("MetricsConfig", "MeasuredRun", "SplitMetrics", "evaluate_features", "evaluate_run",
                          "measure_run"), "zsar.metrics.measure"),
         **dict.fromkeys(("format_tables", "write_report"), "zsar.metrics.report")}

__all__ = sorted([*_FROM, "Accuracy", "accuracy", "confusion_matrix"])


def __getattr__(name: str) -> Any:
    if name in _FROM:
        return getattr(importlib.import_module(_FROM[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
