"""The demo's rows, its one table and ``OUT/report.md``.

A ``DemoRow`` is one (head, generator, transfer) combination: the mean ± std over splits
of unseen-class top-1, the chance level (100 / number of unseen classes), the N_1
skewness of the videos against the class prototypes, and the closeness and dispersion of
the unseen test embeddings (``zsar.metrics``). Combinations a head cannot run (the class
generator on a head without visual centres) are rows of ``-``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from zsar.cache.layout import atomic_write_text
from zsar.cache.runs import RunReader
from zsar.metrics import RunMetrics, measure_run, write_report
from zsar.metrics.evaluate import PROTOTYPES
from zsar.metrics.report import GEOMETRY_NOTE, HUBNESS_NOTE

GENERATOR_MODE = "interpolate"  # "generator on": AURL's released mixing, weights in [0, 1)
COLUMNS = ("head", "generator", "transfer", "unseen top-1 %", "chance %", "N_1 skewness", "closeness", "dispersion")
MISSING = "-"
ABOUT = (
    "The demo renders a synthetic stick-figure action set, extracts it with real offline weights "
    "(an ImageNet EfficientNet-Lite0 on frames, MiniLM on the label text) and runs `within-half` "
    "zero-shot for every head: train on the videos of half the classes, classify the videos of the "
    "other half among those unseen classes only. It shows that the whole pipeline runs offline, "
    "that each head learns a video-to-text mapping that transfers to unseen classes better than "
    "chance, and how the generator, semantic transfer and the heads change hubness and the "
    "geometry of the embeddings. It does not show real-world accuracy: stick figures are not "
    "people, the backbone was never trained on motion, and the unseen classes are few; real "
    "numbers need real datasets (HMDB51, UCF101, Kinetics) and CLIP weights."
)
DEFINITIONS = (
    "Unseen top-1: percent of test videos whose best-scoring unseen class is their class, mean ± "
    "population std over splits. Chance: 100 / number of unseen classes. N_1 skewness: skewness of "
    "how often each unseen class is the top-1 prediction (0: predictions spread evenly; large: a few "
    "hub classes take most videos). Closeness and dispersion are of the unseen test embeddings; "
    "semantic transfer changes only the unseen class prototypes, so they are the same with and "
    "without it."
)


@dataclass
class DemoRow:
    """One combination's numbers (``None`` where it did not run); percentages for top-1 and chance."""

    head: str
    generator: bool
    transfer: str
    top1: float | None = None
    top1_std: float | None = None
    chance: float | None = None
    skewness: float | None = None
    skewness_k5: float | None = None
    closeness: float | None = None
    dispersion: float | None = None
    seconds: float | None = None
    run: Path | None = None

    @classmethod
    def not_applicable(cls, head: str, generator: bool, transfer: str) -> "DemoRow":
        return cls(head, generator, transfer)

    @classmethod
    def from_run(cls, head: str, generator: bool, transfer: str, measured: RunMetrics, seconds: float) -> "DemoRow":
        """The row of a measured run (``measure_run`` with hubness k = 1, 5)."""
        summary = measured.summary()
        hubness = summary.get(PROTOTYPES, {})
        chance = sum(100.0 / len(s.class_names) for s in measured.splits) / len(measured.splits)
        skew = lambda k: hubness[k]["skewness"] if k in hubness else None  # noqa: E731 (k may be skipped)
        return cls(head, generator, transfer, top1=summary["top1"], top1_std=summary["std"]["top1"], chance=chance,
                   skewness=skew("1"), skewness_k5=skew("5"), closeness=summary.get("closeness"),
                   dispersion=summary.get("dispersion"), seconds=seconds, run=measured.root)

    @property
    def ran(self) -> bool:
        return self.top1 is not None

    @property
    def label(self) -> str:
        return f"{self.head}, generator {'on' if self.generator else 'off'}, transfer {self.transfer}"

    def cells(self) -> list[str]:
        """The row as table cells, in ``COLUMNS`` order."""
        names = [self.head, "on" if self.generator else "off", self.transfer]
        if not self.ran:
            return names + [MISSING] * (len(COLUMNS) - len(names))
        return names + [f"{self.top1:.1f} ± {self.top1_std:.1f}", f"{self.chance:.1f}", _number(self.skewness),
                        _number(self.closeness, 3), _number(self.dispersion, 3)]


def _number(value: float | None, digits: int = 2) -> str:
    return MISSING if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def best_row(rows: list[DemoRow]) -> DemoRow:
    """The row with the highest mean unseen top-1 (the first of equals)."""
    ran = [r for r in rows if r.ran]
    if not ran:
        raise ValueError("no demo run finished")
    return max(ran, key=lambda r: r.top1)


def format_table(rows: list[DemoRow]) -> str:
    """One Markdown table (columns padded so it also reads on a terminal)."""
    body = [list(COLUMNS)] + [r.cells() for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    right = set(range(3, len(COLUMNS)))
    fmt = lambda line: "| " + " | ".join(  # noqa: E731
        cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))) + " |"
    rule = "|" + "|".join("-" * (w + 1) + (":" if i in right else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([fmt(body[0]), rule] + [fmt(line) for line in body[1:]])


def write_demo_report(path: Path, rows: list[DemoRow], settings: dict[str, Any], seconds: dict[str, float],
                      cache: Path) -> Path:
    """Write ``path`` (``OUT/report.md``): what the demo shows, settings, the table, the best run's plots."""
    best = best_row(rows)
    assert best.run is not None
    best_report = write_report(measure_run(best.run))
    folder = path.parent
    rel = lambda p: Path(os.path.relpath(p, folder)).as_posix()  # noqa: E731
    plots = sorted((best.run / "plots").glob("*.png"), key=_plot_order)
    lines = ["# zsar demo", "", ABOUT, "", "## Results", "", format_table(rows), "",
             f"Best: **{best.label}**, {best.top1:.1f} ± {best.top1_std:.1f} % unseen top-1, "
             f"{best.top1 / best.chance:.1f}x chance ({best.chance:.1f} %).", "", DEFINITIONS, "",
             "## N_5 skewness and training time per run", "", _extra_table(rows, rel), "",
             f"## The best run: {best.label}", "",
             f"Its full metrics report: [{rel(best_report)}]({rel(best_report)}).", ""]
    for plot in plots:
        title = plot.stem.replace("_", " ")
        lines += [f"### {title}", "", f"![{title}]({rel(plot)})", ""]
    lines += ["## Settings", "", "| setting | value |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in settings.items()]
    lines += [f"| cache | {cache} |"] + [f"| {step} (s) | {s:.0f} |" for step, s in seconds.items()]
    lines += ["", "## Definitions", "", HUBNESS_NOTE, "", GEOMETRY_NOTE, ""]
    atomic_write_text(path, "\n".join(lines))
    return path


def _extra_table(rows: list[DemoRow], rel: Callable[[Path], str]) -> str:
    lines = ["| run | N_5 skewness | training s (all splits) | run folder |", "|---|---:|---:|---|"]
    for r in rows:
        if r.ran:
            assert r.run is not None
            trained = sum(record.get("seconds", 0.0) for record in RunReader(r.run).log())
            lines.append(f"| {r.label} | {_number(r.skewness_k5)} | {trained:.0f} | [{rel(r.run)}]({rel(r.run)}) |")
    return "\n".join(lines)


def _plot_order(path: Path) -> tuple[int, int, str]:
    """Accuracy plots first, then the N_k histograms by k."""
    order = ("accuracy_per_split", "per_class_accuracy", "confusion_matrix")
    if path.stem in order:
        return (order.index(path.stem), 0, path.stem)
    digits = "".join(c for c in path.stem if c.isdigit())
    return (len(order), int(digits or 0), path.stem)
