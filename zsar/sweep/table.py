"""The rows of a sweep, its one table and its ``report.md``.

A ``SweepRow`` is one grid point (head, head options, generator, transfer, re-ranking):
the mean ± std over splits of the test classes' top-1, the chance level (100 / number of
candidate classes), its top-1 as a multiple of the baseline's (the ``ridge`` head with
nothing added) and on how many splits it beat the baseline's top-1 on the same split (the
splits share their classes, so this paired count is what a std over splits cannot show),
the values model selection chose (range over splits), its top-1 as a multiple of the
training-free ``frozen`` head's (the ``x frozen`` column, whenever a frozen row ran: the
features and the label text share one space), then the columns of each measure taken
(``Measure.columns``, ``zsar.metrics.measures``: the N_1 skewness of the videos against the
class prototypes, the closeness and dispersion of the test embeddings, a protocol's own
accuracies, a plugin's measure). Grid points a head cannot run (the class generator on a
head without visual centres) are rows of ``-``.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

from zsar.files import atomic_write_text
from zsar.heads.base import SHARED_SPACE_BASELINE, baseline_head
from zsar.metrics import MeasuredRun, measure_run, write_report
from zsar.metrics.measures import MEASURES
from zsar.metrics.report import definitions
from zsar.metrics.significance import format_p, paired_p
from zsar.runs.results import RunReader

GENERATOR_MODE = "interpolate"  # "generator on": AURL's released mixing, weights in [0, 1)
FROZEN_COLUMN = "x frozen"
MISSING = "-"
P_COLUMN = "p vs ridge"  # the paired test of the per-split top-1s (zsar.metrics.significance)
NUMBER_COLUMNS = ("top-1 %", "chance %", "x ridge", "> ridge", P_COLUMN, "selected")
DEFINITIONS = (
    "Top-1: percent of test videos whose best-scoring candidate class is their class, mean ± "
    "population std over splits (in `within-half` the candidates are the unseen classes only). "
    "Chance: 100 / number of candidate classes. x ridge: top-1 over the baseline's (the `ridge` "
    "head, closed-form, with no generator, transfer or re-ranking). > ridge: on how many of the "
    "splits the row's top-1 is above the baseline's on that same split (same seen and unseen "
    "classes). p vs ridge: the exact two-sided Wilcoxon signed-rank test of those per-split pairs "
    "(ties dropped; 1 for a row equal to the baseline; with n splits it cannot go below 2 / 2^n, "
    "0.25 for 3). x frozen (when the features and the text share one space, e.g. CLIP's): top-1 over the "
    "training-free `frozen` head's (the backbone's own zero-shot, no training), the first check of any "
    "trained head there. Selected: the values model selection chose on validation classes held out of "
    "each split's seen classes (range over "
    "splits; the test classes are never read). N_1 skewness: skewness of how often each class is "
    "the top-1 prediction (0: spread evenly; large: a few hub classes take most videos). Closeness "
    "and dispersion are of the test embeddings; semantic transfer changes only the unseen class "
    "prototypes, so they are the same with and without it. The other columns are the measures' "
    "own (see Definitions)."
)


@dataclass(frozen=True)
class Variant:
    """A head's options in a sweep: ``((key, value string), ...)`` (empty: the defaults)."""

    items: tuple[tuple[str, str], ...] = ()

    @property
    def label(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.items) or MISSING

    @property
    def slug(self) -> str:
        return "".join(f"-{k}-{v}" for k, v in self.items)


@dataclass(kw_only=True)
class SweepRow:
    """One grid point's numbers (``None`` where it did not run); percentages for top-1 and chance."""

    head: str
    generator: bool
    transfer: str
    rerank: str = "none"
    variant: Variant = Variant()
    runnable: bool = True
    top1: float | None = None
    top1_std: float | None = None
    split_top1: tuple[tuple[int, float], ...] = ()  # (split, top-1 %) per split
    chance: float | None = None
    selected: str = MISSING
    measures: tuple[str, ...] = ()  # the measures taken, whose columns the row fills
    cells: dict[str, str] = field(default_factory=dict)  # measure column title -> its formatted value
    details: dict[str, str] = field(default_factory=dict)  # the same for the report's second table
    seconds: float | None = None
    run: Path | None = None

    @property
    def name(self) -> str:
        """The run folder's name."""
        rerank = "" if self.rerank == "none" else f"-rerank-{self.rerank}"
        return (f"{self.head}{self.variant.slug}-generator-{'on' if self.generator else 'off'}"
                f"-transfer-{self.transfer}{rerank}")

    @property
    def is_baseline(self) -> bool:
        return self.head == baseline_head() and self.plain

    @property
    def is_frozen(self) -> bool:
        """The training-free baseline row: ``frozen`` with nothing added."""
        return self.head == baseline_head(SHARED_SPACE_BASELINE) and self.plain

    @property
    def plain(self) -> bool:
        """Default options, no generator, transfer or re-ranking."""
        return not self.variant.items and not self.generator and self.transfer == "none" and self.rerank == "none"

    @property
    def ran(self) -> bool:
        return self.top1 is not None

    @property
    def label(self) -> str:
        parts = [self.head] + ([self.variant.label] if self.variant.items else [])
        parts += [f"generator {'on' if self.generator else 'off'}", f"transfer {self.transfer}"]
        return ", ".join(parts + ([f"re-rank {self.rerank}"] if self.rerank != "none" else []))

    def measured(self, measured: MeasuredRun, seconds: float) -> "SweepRow":
        """This row with the numbers of its measured run (``measure_run`` with hubness k = 1, 5)."""
        summary = measured.summary()
        chance = sum(100.0 / len(s.class_names) for s in measured.splits) / len(measured.splits)
        splits = RunReader(measured.root).finished_metrics().splits
        selected = [s.selected for s in splits]
        cells, details = {}, {}
        for name in measured.measures:
            measure = MEASURES.get(name)
            cells.update({title: _number(_at(summary, path), measure.digits) for title, path in measure.columns.items()})
            details.update({title: _number(_at(summary, path), measure.digits)
                            for title, path in measure.details.items()})
        return replace(self, top1=summary["top1"], top1_std=summary["std"]["top1"],
                       split_top1=tuple((s.split, s.top1) for s in splits), chance=chance,
                       selected=summarise_selected(selected), measures=tuple(measured.measures), cells=cells,
                       details=details, seconds=seconds, run=measured.root)


def _at(summary: dict[str, Any], path: str) -> float | None:
    """The value at the dotted ``path`` of ``summary`` (``hubness.1.skewness``), None where there is none."""
    value: Any = summary
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value if isinstance(value, (int, float)) else None


def summarise_selected(per_split: list[dict[str, float] | None]) -> str:
    """``[{"lr": 0.01, "steps": 33}, {"lr": 0.003, "steps": 150}]`` -> ``"lr 0.003-0.01, steps 33-150"``."""
    chosen = [s for s in per_split if s]
    if not chosen:
        return MISSING
    parts = []
    for key in chosen[0]:
        values = sorted({float(s[key]) for s in chosen if key in s})
        low, high = f"{values[0]:g}", f"{values[-1]:g}"
        parts.append(f"{key} {low}" if low == high else f"{key} {low}-{high}")
    return ", ".join(parts)


def paired_wins(row: SweepRow, baseline: SweepRow | None) -> str:
    """``"k/n"``: on k of the n splits ``row``'s top-1 is above ``baseline``'s on the same split.

    ``-`` for the baseline itself, or when the two did not run the same splits.
    """
    if baseline is None or row.is_baseline or not row.split_top1:
        return MISSING
    mine, theirs = dict(row.split_top1), dict(baseline.split_top1)
    if mine.keys() != theirs.keys():
        return MISSING
    return f"{sum(mine[split] > theirs[split] for split in mine)}/{len(mine)}"


def paired_p_value(row: SweepRow, baseline: SweepRow | None) -> str:
    """The Wilcoxon signed-rank p of ``row``'s per-split top-1 against ``baseline``'s on the same splits (``-``:
    the baseline itself, or no shared splits)."""
    if baseline is None or row.is_baseline:
        return MISSING
    return format_p(paired_p(dict(row.split_top1), dict(baseline.split_top1)))


def _number(value: float | None, digits: int = 2) -> str:
    return MISSING if value is None or not math.isfinite(value) else f"{value:.{digits}f}"


def best_row(rows: list[SweepRow]) -> SweepRow:
    """The row with the highest mean top-1 (the first of equals)."""
    ran = [r for r in rows if r.ran]
    if not ran:
        raise ValueError("no sweep run finished")
    return max(ran, key=lambda r: r.top1)


def baselines(rows: list[SweepRow]) -> tuple[SweepRow | None, SweepRow | None]:
    """The ``ridge`` and ``frozen`` baseline rows that ran (None where there is none)."""
    return (next((r for r in rows if r.is_baseline and r.ran), None),
            next((r for r in rows if r.is_frozen and r.ran), None))


def _ratio(row: SweepRow, baseline: SweepRow | None) -> float | None:
    return row.top1 / baseline.top1 if row.top1 is not None and baseline is not None and baseline.top1 else None


def measure_columns(rows: list[SweepRow], details: bool = False) -> list[str]:
    """The titles of the measure columns the rows filled, in the order the measures were taken."""
    return list(dict.fromkeys(title for r in rows for title in (r.details if details else r.cells)))


def _columns(rows: list[SweepRow]) -> list[str]:
    names = ["head"] + (["options"] if any(r.variant.items for r in rows) else [])
    names += ["generator", "transfer"] + (["re-rank"] if any(r.rerank != "none" for r in rows) else [])
    numbers = list(NUMBER_COLUMNS)
    if baselines(rows)[1] is not None:
        numbers.insert(numbers.index(P_COLUMN) + 1, FROZEN_COLUMN)
    return names + numbers + measure_columns(rows)


def _cells(row: SweepRow, columns: list[str], baseline: SweepRow | None, frozen: SweepRow | None) -> list[str]:
    text = {"head": row.head, "options": row.variant.label, "generator": "on" if row.generator else "off",
            "transfer": row.transfer, "re-rank": row.rerank}
    if not row.ran:
        return [text.get(c, MISSING) for c in columns]
    text.update({"top-1 %": f"{row.top1:.1f} ± {row.top1_std:.1f}", "chance %": f"{row.chance:.1f}",
                 "x ridge": _number(_ratio(row, baseline)), "> ridge": paired_wins(row, baseline),
                 P_COLUMN: paired_p_value(row, baseline),
                 FROZEN_COLUMN: _number(_ratio(row, frozen)), "selected": row.selected, **row.cells})
    return [text.get(c, MISSING) for c in columns]


def format_table(rows: list[SweepRow]) -> str:
    """One Markdown table (columns padded so it also reads on a terminal)."""
    columns = _columns(rows)
    baseline, frozen = baselines(rows)
    body = [columns] + [_cells(r, columns, baseline, frozen) for r in rows]
    widths = [max(len(line[i]) for line in body) for i in range(len(columns))]
    numbers = (*NUMBER_COLUMNS, FROZEN_COLUMN, *measure_columns(rows))
    right = {i for i, c in enumerate(columns) if c in numbers and c != "selected"}
    fmt = lambda line: "| " + " | ".join(  # noqa: E731
        cell.rjust(w) if i in right else cell.ljust(w) for i, (cell, w) in enumerate(zip(line, widths))) + " |"
    rule = "|" + "|".join("-" * (w + 1) + (":" if i in right else "-") for i, w in enumerate(widths)) + "|"
    return "\n".join([fmt(body[0]), rule] + [fmt(line) for line in body[1:]])


def best_line(rows: list[SweepRow]) -> str:
    """``best: <label> at X % top-1, Yx chance, Zx ridge`` (and ``, Wx frozen`` when a frozen row ran)."""
    best = best_row(rows)
    names = (baseline_head(), baseline_head(SHARED_SPACE_BASELINE))
    versus = "".join(f", {ratio:.2f}x {name}" for name, ratio in zip(names, (_ratio(best, b) for b in baselines(rows)))
                     if ratio is not None)
    return f"best: {best.label} at {best.top1:.1f} % top-1, {best.top1 / best.chance:.1f}x chance{versus}"


def write_sweep_report(path: Path, rows: list[SweepRow], title: str, about: str,
                       settings: dict[str, Any] | None = None) -> Path:
    """Write ``path``: what the sweep shows, the table, selections, times, the best run's plots, settings."""
    best = best_row(rows)
    assert best.run is not None
    best_report = write_report(measure_run(best.run))
    folder = path.parent
    rel = lambda p: Path(os.path.relpath(p, folder)).as_posix()  # noqa: E731
    plots = sorted((best.run / "plots").glob("*.png"), key=_plot_order)
    lines = [f"# {title}", ""] + ([about, ""] if about else [])
    lines += ["## Results", "", format_table(rows), "", best_line(rows) + ".", "", DEFINITIONS, "",
              "## What selection chose, per split", "", _selection_table(rows), "",
              "## " + " and ".join([*measure_columns(rows, details=True), "training time"]) + " per run", "",
              _extra_table(rows, rel), "",
              f"## The best run: {best.label}", "", f"Its full metrics report: [{rel(best_report)}]({rel(best_report)}).", ""]
    for plot in plots:
        title_ = plot.stem.replace("_", " ")
        lines += [f"### {title_}", "", f"![{title_}]({rel(plot)})", ""]
    if settings:
        lines += ["## Settings", "", "| setting | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in settings.items()]
    taken = list(dict.fromkeys(name for r in rows for name in r.measures))
    lines += ["", "## Definitions", ""] + [line for text in definitions(taken) for line in (text, "")]
    atomic_write_text(path, "\n".join(lines))
    return path


def _selection_table(rows: list[SweepRow]) -> str:
    lines = ["| run | split | chosen |", "|---|---:|---|"]
    for r in rows:
        if r.ran:
            assert r.run is not None
            for split in RunReader(r.run).finished_metrics().splits:
                lines.append(f"| {r.label} | {split.split} | {summarise_selected([split.selected])} |")
    return "\n".join(lines)


def _extra_table(rows: list[SweepRow], rel: Callable[[Path], str]) -> str:
    details = measure_columns(rows, details=True)
    lines = ["| run | " + "".join(f"{title} | " for title in details) + "training s (all splits) | run folder |",
             "|---|" + "---:|" * (len(details) + 1) + "---|"]
    for r in rows:
        if r.ran:
            assert r.run is not None
            trained = sum(record.seconds for record in RunReader(r.run).log())
            cells = "".join(f"{r.details.get(title, MISSING)} | " for title in details)
            lines.append(f"| {r.label} | {cells}{trained:.0f} | [{rel(r.run)}]({rel(r.run)}) |")
    return "\n".join(lines)


def _plot_order(path: Path) -> tuple[int, int, str]:
    """Accuracy plots first, then the N_k histograms by k."""
    order = ("accuracy_per_split", "per_class_accuracy", "confusion_matrix")
    if path.stem in order:
        return (order.index(path.stem), 0, path.stem)
    digits = "".join(c for c in path.stem if c.isdigit())
    return (len(order), int(digits or 0), path.stem)
