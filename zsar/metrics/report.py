"""Markdown tables of a metrics summary (the terminal output of ``zsar metrics``) and ``RUN/report.md``.

``format_tables`` reads the JSON-ready summary of ``evaluate_run`` or
``evaluate_features``; ``write_report`` adds the plots and writes ``RUN/report.md`` (which
shows them with the numbers) and ``RUN/report.json`` (the summary).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from zsar.runs.files import RunMetrics
from zsar.files import atomic_write_text
from zsar.metrics.measure import PROTOTYPES, VIDEOS, MeasuredRun
from zsar.metrics.plots import SETTING_TITLES, pooled_accuracy, write_plots

HUBNESS_COLUMNS = {"skewness": "skewness", "robinhood": "Robin Hood", "hub_occurrence": "hub occ. (N_k>=2k)",
                   "hub_occurrence_relative": "hub occ. (>=2 mean)", "antihub_rate": "anti-hub rate", "max_hub_share": "max hub share"}
TOP_CONFUSIONS = 10
ACCURACY_COLUMNS = {"top1": "top-1 %", "top5": "top-5 %", "mean_class_accuracy": "mean per-class %"}
GEOMETRY_COLUMNS = {"closeness": "closeness", "dispersion": "dispersion (min)", "dispersion_mean": "dispersion (mean)"}


def format_selected(values: dict[str, float] | None) -> str:
    """``{"lr": 0.01, "steps": 33}`` -> ``"lr 0.01, steps 33"`` (``-`` when selection did not run)."""
    return "-" if not values else ", ".join(f"{k} {v:g}" for k, v in values.items())


def format_run_metrics(metrics: RunMetrics) -> str:
    """The table ``zsar train-head`` prints: accuracies and selected values per split, then mean ± std."""
    extra = metrics.extra_accuracies()
    lines = [f"{'split':>8} {'top-1':>7} {'top-5':>7}" + "".join(f" {k:>12}" for k in extra) + "  selected"]
    for m in metrics.splits:
        values = [getattr(m, k) for k in extra]
        lines.append(f"{m.split:>8} {m.top1:7.2f} {m.top5:7.2f}" + "".join(f" {v:12.2f}" for v in values)
                     + f"  {format_selected(m.selected)}")
    cells = [f"{metrics.mean[k]:.2f} ± {metrics.std[k]:.2f}" for k in ("top1", "top5") + extra]
    lines.append(f"{'mean±std':>8} " + " ".join(cells))
    return "\n".join(lines)


HUBNESS_NOTE = (
    "`N_k` of a target counts the videos that have it among their k nearest. Against class "
    "prototypes the k nearest are the k best *final* scores (after any re-ranking), so `N_1` is "
    "the number of videos predicted as each class; videos against videos use exact cosine k-NN "
    "(FAISS `IndexFlatIP`), self excluded. Skewness 0 means no hubness; hub occurrence is the share of "
    "k-NN slots taken by hubs, targets with `N_k >= 2k` (scikit-hubness; against a few class "
    "prototypes nearly every class passes it), and, in the relative column, with `N_k` at least "
    "twice the mean."
)
GEOMETRY_NOTE = (
    "Distances are Euclidean on the unit sphere (`||a - b||` of L2-normalised vectors, in [0, 2]). "
    "A class centre is the normalised mean of its normalised embeddings. Closeness is the mean over "
    "classes of the mean distance of a class's embeddings to its centre (lower: tighter classes); "
    "dispersion is the smallest distance between two class centres (higher: classes further apart), "
    "with the mean over all pairs beside it."
)


def format_tables(summary: dict[str, Any]) -> str:
    """Markdown tables of every metric in ``summary`` (``mean ± std`` over splits for a run)."""
    std = summary.get("std", {})
    parts = [_heading(summary)]
    if "top1" in summary:
        parts.append(_accuracy_table(summary, std))
    if PROTOTYPES in summary or VIDEOS in summary:
        parts.append(_hubness_table(summary, std))
    if any(key in summary for key in GEOMETRY_COLUMNS):
        parts.append(_geometry_table(summary, std))
    if summary.get("notes"):
        parts.append("## Notes\n\n" + "\n".join(f"- {note}" for note in summary["notes"]))
    return "\n\n".join(parts) + "\n"


def write_report(metrics: MeasuredRun) -> Path:
    """Write ``RUN/plots/*.png``, ``RUN/report.md`` and ``RUN/report.json``; returns the report's path."""
    summary = metrics.summary()
    plots = write_plots(metrics, metrics.root / "plots")
    lines = [f"# zsar metrics: {metrics.root.name}", "", format_tables(summary),
             _confusions_table(*pooled_accuracy(metrics)), "", "## Plots", ""]
    for title, path in plots.items():
        lines += [f"### {title.capitalize()}", "", f"![{title}]({path.relative_to(metrics.root).as_posix()})", ""]
    lines += ["## Definitions", "", HUBNESS_NOTE, "", GEOMETRY_NOTE, ""]
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


def _cell(value: float, spread: float | None) -> str:
    return f"{value:.4g}" if spread is None else f"{value:.4g} ± {spread:.2g}"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _accuracy_table(summary: dict[str, Any], std: dict[str, Any]) -> str:
    rows = [["mean ± std"] + [_cell(summary[key], std.get(key)) for key in ACCURACY_COLUMNS]]
    for split in summary.get("per_split", []):
        rows.append([f"split {split['split']}"] + [f"{split[key]:.4g}" for key in ACCURACY_COLUMNS])
    return "## Accuracy\n\n" + _table(["", *ACCURACY_COLUMNS.values()], rows)


def _hubness_table(summary: dict[str, Any], std: dict[str, Any]) -> str:
    rows = []
    for setting in (PROTOTYPES, VIDEOS):
        for k, stats in summary.get(setting, {}).items():
            spread = std.get(setting, {}).get(k, {})
            rows.append([SETTING_TITLES[setting], k] + [_cell(stats[key], spread.get(key)) for key in HUBNESS_COLUMNS])
    return "## Hubness\n\n" + _table(["targets", "k", *HUBNESS_COLUMNS.values()], rows)


def _geometry_table(summary: dict[str, Any], std: dict[str, Any]) -> str:
    groups = [("test classes (test videos)" if "run" in summary else "all classes (all videos)", summary, std)]
    if "seen" in summary:
        groups.append(("seen classes (training videos)", summary["seen"], std.get("seen", {})))
    rows = [[name] + [_cell(values[key], spread.get(key)) if key in values else "-" for key in GEOMETRY_COLUMNS]
            for name, values, spread in groups]
    return ("## Closeness and dispersion (Euclidean distance on the unit sphere)\n\n"
            + _table(["classes", *GEOMETRY_COLUMNS.values()], rows))


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
    return "## Most frequent confusions (all splits pooled)\n\n" + _table(header, rows)

