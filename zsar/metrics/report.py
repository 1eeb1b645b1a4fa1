"""Markdown tables of a metrics summary (the terminal output of ``zsar metrics``) and ``RUN/report.md``.

``format_tables`` reads the JSON-ready summary of ``evaluate_run`` or ``evaluate_features``:
the accuracy table, then each measure's own section (``Measure.report``, in the order the
summary lists them); ``write_report`` adds the plots and writes ``RUN/report.md`` (which
shows them with the numbers, and each measure's definition) and ``RUN/report.json`` (the summary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from zsar.files import atomic_write_text
from zsar.metrics.measure import ACCURACY_KEYS, MeasuredRun
from zsar.metrics.measures import MEASURES, cell, markdown_table, measure_keys
from zsar.metrics.plots import pooled_accuracy, write_plots
from zsar.runs.files import RunMetrics

TOP_CONFUSIONS = 10
ACCURACY_COLUMNS = {"top1": "top-1 %", "top5": "top-5 %", "mean_class_accuracy": "mean per-class %"}


def format_selected(values: dict[str, float] | None) -> str:
    """``{"lr": 0.01, "steps": 33}`` -> ``"lr 0.01, steps 33"`` (``-`` when selection did not run)."""
    return "-" if not values else ", ".join(f"{k} {v:g}" for k, v in values.items())


def format_run_metrics(metrics: RunMetrics) -> str:
    """The table ``zsar train-head`` prints: accuracies (the protocol's measures too) and selected values per
    split, then mean ± std (``-`` where a split has no value)."""
    extra = measure_keys(metrics.measures)
    number = lambda v, width: f"{'-':>{width}}" if v is None else f"{v:{width}.2f}"  # noqa: E731
    lines = [f"{'split':>8} {'top-1':>7} {'top-5':>7}" + "".join(f" {k:>12}" for k in extra) + "  selected"]
    for m in metrics.splits:
        lines.append(f"{m.split:>8} {m.top1:7.2f} {m.top5:7.2f}"
                     + "".join(f" {number(m.accuracies.get(k), 12)}" for k in extra)
                     + f"  {format_selected(m.selected)}")
    cells = [f"{metrics.mean[k]:.2f} ± {metrics.std[k]:.2f}" if k in metrics.mean else "-"
             for k in ("top1", "top5") + extra]
    lines.append(f"{'mean±std':>8} " + " ".join(cells))
    return "\n".join(lines)


def format_tables(summary: dict[str, Any]) -> str:
    """Markdown tables of every metric in ``summary`` (``mean ± std`` over splits for a run)."""
    std = summary.get("std", {})
    parts = [_heading(summary)]
    if "top1" in summary:
        parts.append(_accuracy_table(summary, std))
    for name in summary.get("measures", []):
        section = MEASURES.create(name).report(summary)
        if section is not None:
            parts.append(section)
    if summary.get("notes"):
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in summary["notes"]))
    return "\n\n".join(parts) + "\n"


def definitions(names: list[str]) -> list[str]:
    """The definitions of the measures ``names`` (each once, in order)."""
    return list(dict.fromkeys(MEASURES.get(name).definition for name in names if MEASURES.get(name).definition))


def write_report(metrics: MeasuredRun) -> Path:
    """Write ``RUN/plots/*.png``, ``RUN/report.md`` and ``RUN/report.json``; returns the report's path."""
    summary = metrics.summary()
    plots = write_plots(metrics, metrics.root / "plots")
    lines = [f"# zsar metrics: {metrics.root.name}", "", format_tables(summary),
             _confusions_table(*pooled_accuracy(metrics)), "", "## Plots", ""]
    for title, path in plots.items():
        lines += [f"### {title.capitalize()}", "", f"![{title}]({path.relative_to(metrics.root).as_posix()})", ""]
    lines += ["## Definitions", ""] + [line for text in definitions(metrics.measures) for line in (text, "")]
    report = metrics.root / "report.md"
    atomic_write_text(report, "\n".join(lines))
    atomic_write_text(metrics.root / "report.json", json.dumps(summary, indent=2) + "\n")
    return report


def _heading(summary: dict[str, Any]) -> str:
    if "run" in summary:
        return (f"run {summary['run']}: head {summary['head'] or '?'}, protocol {summary['protocol'] or '?'}, "
                f"{summary['n_splits']} split(s); values are mean ± std over splits")
    space = f", space {summary['space']!r}" if summary.get("space") else ""
    return f"features {summary['features']}: {summary['n_videos']} videos, {summary['n_classes']} classes{space}"


def _accuracy_table(summary: dict[str, Any], std: dict[str, Any]) -> str:
    rows = [["mean ± std"] + [cell(summary[key], std.get(key)) for key in ACCURACY_KEYS]]
    for split in summary.get("per_split", []):
        rows.append([f"split {split['split']}"] + [f"{split[key]:.4g}" for key in ACCURACY_KEYS])
    return "## Accuracy\n\n" + markdown_table(["", *ACCURACY_COLUMNS.values()], rows)


def _confusions_table(names: list[str], per_class: np.ndarray, confusion: np.ndarray) -> str:
    """The most frequent (true, predicted) mistakes over all splits, largest first."""
    mistakes = confusion.copy()
    np.fill_diagonal(mistakes, 0)
    rows = []
    for flat in np.argsort(-mistakes, axis=None, kind="stable")[:TOP_CONFUSIONS]:
        true, predicted = divmod(int(flat), len(names))
        if mistakes[true, predicted] == 0:
            break
        share = 100.0 * mistakes[true, predicted] / confusion[true].sum()
        rows.append([names[true], names[predicted], str(mistakes[true, predicted]), f"{share:.0f}",
                     f"{per_class[true]:.0f}"])
    header = ["true class", "predicted as", "videos", "% of the true class", "its top-1 %"]
    return "## Most frequent confusions (all splits pooled)\n\n" + markdown_table(header, rows)

