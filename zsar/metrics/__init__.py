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
"""

from zsar.metrics.accuracy import Accuracy, accuracy, confusion_matrix
from zsar.metrics.geometry import ClassGeometry, class_geometry, closeness, dispersion
from zsar.metrics.hubness import HubnessStats, hubness_stats, k_occurrence, knn_search, score_occurrence
from zsar.metrics.measure import (MetricsConfig, MeasuredRun, SplitMetrics, evaluate_features, evaluate_run,
                                  measure_run)
from zsar.metrics.report import format_tables, write_report

__all__ = ["Accuracy", "ClassGeometry", "HubnessStats", "MetricsConfig", "MeasuredRun", "SplitMetrics",
           "accuracy", "class_geometry", "closeness", "confusion_matrix", "dispersion", "evaluate_features",
           "evaluate_run", "format_tables", "hubness_stats", "k_occurrence", "knn_search", "measure_run",
           "score_occurrence", "write_report"]
