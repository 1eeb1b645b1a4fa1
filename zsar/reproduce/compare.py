"""Ours beside the published number: a verdict per number, a paired test per row, the comparison table and report.

For each published number of a row, ``compare`` reads the row's run (``metrics.json``:
the mean over splits) and says where ours lands against the band (the published ± where
the source gives one, else the row's stated band): ``within the band``, ``above`` or
``below``; ``not run`` when the run has not finished. A row with a ``baseline`` (another
row on the same splits: the same test videos and classes) also gets the paired test of
its per-split values against the baseline's (``zsar.metrics.significance``, Wilcoxon
signed-rank, exact, two-sided) beside how many splits it is above on, when both runs
exist. The table and report say what the rows are, not how good zsar is: a head trained
on frozen features that lands below a fine-tuned paper's band is the expected outcome.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from zsar.files import atomic_write_text
from zsar.metrics.significance import format_p, paired_p
from zsar.reproduce.rows import METRIC_NAMES, RUN_METRICS, Number, PublishedRow
from zsar.runs.files import RunMetrics, SplitRecord
from zsar.runs.results import RunReader

WITHIN, ABOVE, BELOW, NOT_RUN = "within the band", "above", "below", "not run"
COLUMNS = ("row", "metric", "published", "band", "ours", "verdict", "baseline", "> baseline", "p vs baseline")


@dataclass(frozen=True, kw_only=True)
class Outcome:
    """One published number against ours: the ``verdict``, and the row's paired test against its baseline."""

    row: PublishedRow
    number: Number
    ours: float | None
    ours_std: float | None
    verdict: str
    wins: str = "-"
    p: str = "-"


def verdict(number: Number, ours: float | None) -> str:
    """Where ``ours`` lands against ``number``'s band (rounded as the paper rounds: to 0.1)."""
    if ours is None:
        return NOT_RUN
    assert number.band is not None, f"a reproducible number has a band: {number}"
    gap = round(ours - number.value, 1)
    return WITHIN if abs(gap) <= number.band + 1e-9 else ABOVE if gap > 0 else BELOW


def finished(run: Path) -> RunMetrics | None:
    """The run's ``metrics.json``, or None when the folder holds no finished run."""
    if not (run / "config.json").is_file():
        return None
    return RunReader(run).metrics


def per_split(metrics: RunMetrics, metric: str) -> dict[int, float]:
    """``{split: value}`` of ``metric`` (``top1``, ``hm``, ...) in the per-split records."""
    key = RUN_METRICS[metric]
    values = {s.split: _split_value(s, key) for s in metrics.splits}
    return {split: float(value) for split, value in values.items() if value is not None}


def _split_value(record: SplitRecord, key: str) -> float | None:
    """A split's ``top1`` / ``top5``, or an accuracy its protocol adds (``hm``, ...), ``None`` where it has none."""
    return getattr(record, key) if key in ("top1", "top5") else record.accuracies.get(key)


def _paired(row: PublishedRow, metrics: RunMetrics | None, runs: Path) -> tuple[str, str]:
    base = finished(runs / row.baseline) if row.baseline else None
    if metrics is None or base is None:
        return "-", "-"
    mine, theirs = per_split(metrics, row.primary), per_split(base, row.primary)
    test = paired_p(mine, theirs)
    wins = "-" if test is None else f"{test.wins}/{len(mine)}"
    return wins, format_p(test)


def compare(rows: list[PublishedRow], runs: Path) -> list[Outcome]:
    """Every published number of ``rows`` against the runs in ``runs/<row id>``."""
    outcomes = []
    for row in rows:
        metrics = finished(runs / row.id)
        wins, p = _paired(row, metrics, runs)
        for number in row.numbers:
            key = RUN_METRICS[number.metric]
            ours = None if metrics is None else metrics.mean.get(key)
            std = None if metrics is None else metrics.std.get(key)
            paired = number.metric == row.primary
            outcomes.append(Outcome(row=row, number=number, ours=ours, ours_std=std, verdict=verdict(number, ours),
                                    wins=wins if paired else "-", p=p if paired else "-"))
    return outcomes


def _cells(o: Outcome) -> list[str]:
    ours = "-" if o.ours is None else f"{o.ours:.1f}" + ("" if o.ours_std is None else f" ± {o.ours_std:.1f}")
    return [o.row.id, METRIC_NAMES[o.number.metric], o.number.text, o.number.band_text, ours, o.verdict,
            o.row.baseline or "-", o.wins, o.p]


def format_comparison(outcomes: list[Outcome]) -> str:
    """One Markdown table, padded to read on a terminal."""
    body = [list(COLUMNS)] + [_cells(o) for o in outcomes]
    widths = [max(len(line[i]) for line in body) for i in range(len(COLUMNS))]
    fmt = lambda line: "| " + " | ".join(c.ljust(w) for c, w in zip(line, widths)) + " |"  # noqa: E731
    return "\n".join([fmt(body[0]), "|" + "|".join("-" * (w + 2) for w in widths) + "|", *map(fmt, body[1:])])


def summary_line(outcomes: list[Outcome]) -> str:
    """``3 numbers: 1 within the band, 2 below`` (the verdicts counted)."""
    counts = {v: sum(o.verdict == v for o in outcomes) for v in (WITHIN, ABOVE, BELOW, NOT_RUN)}
    return f"{len(outcomes)} number(s): " + ", ".join(f"{n} {v}" for v, n in counts.items() if n)


DEFINITIONS = (
    "Published: the number as the source prints it (± where it gives one: the std over its splits). "
    "Band: the published ± around the number where the source gives one, otherwise the band the row "
    "states (`zsar reproduce list`; docs/clip-era.md says why each). Ours: the mean ± population std "
    "over the run's splits (seeds for base-to-novel). Verdict: ours within the band, above it or below "
    "it. > baseline and p vs baseline: on how many splits the row is above its baseline row on the same "
    "splits, and the exact two-sided Wilcoxon signed-rank p of those pairs (top-1; HM for "
    "base-to-novel); with 3 splits no paired test goes below 0.25."
)


def _row_notes(rows: list[PublishedRow], runs: dict[str, Path]) -> list[str]:
    lines = []
    for row in rows:
        lines += [f"### {row.id}", "", f"- Published: {row.paper}, {row.table} ({row.source}); "
                  f"{'confirmed in' if row.is_verified else 'not confirmed by'} a released README or code: "
                  f"{row.checked}.", f"- Recipe: {row.recipe()}; protocol {row.protocol} ({row.lists}).",
                  f"- Band: {row.band_why}.", f"- Still different in zsar's run: {row.differences or 'nothing known'}.",
                  f"- Run folder: `{runs[row.id]}`.", ""]
    return lines


def write_reproduce_report(path: Path, outcomes: list[Outcome], runs: dict[str, Path], commands: list[str],
                           about: str = "") -> Path:
    """Write the Markdown report: the table, the verdict counts, each row's recipe and source, the commands."""
    rows = list(dict.fromkeys(o.row for o in outcomes))
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines = ["# zsar reproduce", "", f"{about} ({when})" if about else when, "", format_comparison(outcomes), "",
             summary_line(outcomes) + ".", "", DEFINITIONS, "", "## The rows", "", *_row_notes(rows, runs),
             "## The commands", "", "```bash", *commands, "```", ""]
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, "\n".join(lines))
    return path
