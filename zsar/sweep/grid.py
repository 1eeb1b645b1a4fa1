"""``zsar sweep``: one protocol over a grid of heads and options on a cache, one table, one report.

The grid is heads x generator (off/on; only heads with visual centres run "on") x semantic
transfer x re-ranking x ``--head-opt`` values (``HEAD.KEY=V1,V2``: one run per value, the
product over keys of one head). Each combination is a ``zsar train-head`` run in
``OUT/<run name>`` measured by ``zsar metrics`` (hubness k = 1, 5, closeness, dispersion);
a run folder that already holds the same run is reused, one with other settings is
redone. The table has the baseline rows first: the training-free ``frozen`` head when the
features and the label text share one space (CLIP features with CLIP text; every head is
then also shown as a multiple of it, ``x frozen``; on other caches the default grid leaves
it out), then the ``ridge`` head with nothing added; chance, and each run's top-1 as a
multiple of the ridge's; the report adds the
values that model selection chose for every split and the best run's plots.

``zsar demo`` is render + extract + a short list of such runs (``--full``: this grid over every head).
"""

from __future__ import annotations

import itertools
import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import torch

from zsar.cache.features import load_text
from zsar.cache.config import read_cache_config
from zsar.cache.layout import open_layout
from zsar.errors import ZsarError
from zsar.heads.base import SHARED_SPACE_BASELINE, baseline_head, head_class, heads_in_order
from zsar.heads.experiment import TrainHeadConfig, train_head
from zsar.heads.objects import objects_ready
from zsar.heads.options import parse_head_options
from zsar.heads.protocols import DEFAULT_PROTOCOL
from zsar.heads.selection import SelectionConfig
from zsar.heads.train import TrainConfig
from zsar.heads.transfer import TransferConfig
from zsar.metrics import MetricsConfig, measure_run
from zsar.registry import load_plugins
from zsar.sweep.table import GENERATOR_MODE, MISSING, SweepRow, Variant, best_row, format_table, write_sweep_report

METRIC_K = (1, 5)


@dataclass(frozen=True, kw_only=True)
class SweepConfig:
    """The cache(s), the protocol and the grid. ``heads`` ``None``: every registered head that the cache
    allows (``frozen`` only in a shared space), baselines first.

    ``head_grid``: ``{head: {option: (value strings, ...)}}`` (typed by the head's config);
    ``protocol_options``: the protocol's options by name (e.g. ``tau``), as train-head's.
    ``train`` / ``selection`` apply to every run (their defaults are train-head's).
    """

    features: Path
    out: Path
    protocol: str = DEFAULT_PROTOCOL
    source_features: Path | None = None
    text: str | None = None
    splits: int | None = None
    protocol_options: dict[str, Any] = field(default_factory=dict)
    filter_text: str | None = None
    heads: tuple[str, ...] | None = None
    generators: tuple[bool, ...] = (False, True)
    transfers: tuple[str, ...] = ("none", "semantic")
    reranks: tuple[str, ...] = ("none",)
    head_grid: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    train: TrainConfig = field(default_factory=TrainConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    title: str = "zsar sweep"
    about: str = ""
    report: Path | None = None  # None: OUT/report.md
    settings: dict[str, object] = field(default_factory=dict)  # extra rows for the report's settings table


@dataclass
class SweepResult:
    """One row per grid point (``-`` rows where a head cannot run it), the table, the report."""

    rows: list[SweepRow]
    table: str
    report: Path

    @property
    def best(self) -> SweepRow:
        return best_row(self.rows)

    @property
    def baseline(self) -> SweepRow | None:
        return next((r for r in self.rows if r.is_baseline and r.ran), None)


def parse_head_grid(items: list[str]) -> dict[str, dict[str, tuple[str, ...]]]:
    """``["actionclip.fusion=mean,transformer", ...]`` -> ``{"actionclip": {"fusion": ("mean", "transformer")}}``."""
    grid: dict[str, dict[str, tuple[str, ...]]] = {}
    for item in items:
        name, dot, rest = item.partition(".")
        key, eq, values = rest.partition("=")
        if not dot or not eq or not key or not values:
            raise ZsarError(f"--head-opt {item!r}: write HEAD.KEY=VALUE[,VALUE...], e.g. actionclip.fusion=mean,transformer")
        head_class(name)  # an unknown head lists the valid ones
        grid.setdefault(name, {})[key] = tuple(v.strip() for v in values.split(","))
        for value in grid[name][key]:
            parse_head_options(name, [f"{key}={value}"])  # a bad key or value fails before any run
    return grid


def _variants(head: str, grid: dict[str, tuple[str, ...]]) -> Iterator[Variant]:
    keys = sorted(grid)
    for values in itertools.product(*(grid[k] for k in keys)):
        yield Variant(tuple(zip(keys, values)))


def plan_rows(config: SweepConfig) -> Iterator[SweepRow]:
    """Every grid point in table order (baseline first), marked runnable or not."""
    heads = list(config.heads) if config.heads is not None else default_heads(config)
    for head in heads:
        for variant in _variants(head, config.head_grid.get(head, {})):
            for generator, transfer, rerank in itertools.product(config.generators, config.transfers, config.reranks):
                runnable = head_class(head).has_centres or not generator
                yield SweepRow(head=head, generator=generator, transfer=transfer, rerank=rerank, variant=variant,
                               runnable=runnable)


def default_heads(config: SweepConfig) -> list[str]:
    """Every registered head, baselines first; heads that need a shared space only when the cache has one, and
    heads that need an object vocabulary (``objects``) only when the cache has one for its text."""
    shared, objects = shares_space(config), objects_ready(config.features, config.text)
    return [h for h in heads_in_order() if (shared or not head_class(h).needs_shared_space)
            and (objects or not head_class(h).needs_objects)]


def shares_space(config: SweepConfig) -> bool:
    """Whether the target cache's features and its (``--text``) label text come from one joint space."""
    space = read_cache_config(open_layout(config.features)).space
    try:
        return bool(space) and load_text(config.features, config.text).space == space
    except ZsarError:  # no text, or several and no --text: each run says so itself
        return False


def train_config_for(config: SweepConfig, row: SweepRow) -> TrainHeadConfig:
    """The ``TrainHeadConfig`` of one grid point; its run folder is ``config.out / row.name``."""
    has_centres = head_class(row.head).has_centres
    generator = GENERATOR_MODE if row.generator else ("none" if has_centres else None)
    options = parse_head_options(row.head, [f"{k}={v}" for k, v in row.variant.items])
    return TrainHeadConfig(features=config.features, out=config.out / row.name, head=row.head,
                           protocol=config.protocol, text=config.text, source_features=config.source_features,
                           splits=config.splits, protocol_options=config.protocol_options,
                           filter_text=config.filter_text,
                           generator=generator, transfer=TransferConfig(row.transfer),
                           rerank=row.rerank, train=config.train, selection=config.selection, head_options=options,
                           replace_other_run=True)


def run_row(config: SweepConfig, row: SweepRow) -> SweepRow:
    """Train, evaluate and measure one grid point; the row with its numbers."""
    started = time.perf_counter()
    train_config = train_config_for(config, row)
    train_head(train_config)
    measured = measure_run(train_config.out, MetricsConfig(k=METRIC_K))
    return row.measured(measured, time.perf_counter() - started)


# fork where there is one: a job starts at once with zsar imported (as DataLoader workers do);
# a spawned one imports torch and zsar again, which took minutes on a loaded 2-core machine.
_START_METHOD = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"


def _start_job() -> None:
    """A sweep job process: one torch thread, and the ``ZSAR_PLUGINS`` the parent loaded."""
    torch.set_num_threads(1)
    load_plugins()


def run_sweep(config: SweepConfig, echo: Callable[[str], None], plan: list[SweepRow] | None = None,
              jobs: int = 1) -> SweepResult:
    """Run every grid point (or the rows of ``plan``), print a line per run and the table, write ``OUT/report.md``.

    ``jobs`` > 1 runs that many rows at once, each in its own process with one torch thread
    (on a machine with that many idle cores, faster than one process with several threads).
    """
    baseline_head(), baseline_head(SHARED_SPACE_BASELINE)  # two heads tagged as one baseline fail before any run
    plan = list(plan_rows(config)) if plan is None else list(plan)
    width = max(len(r.name) for r in plan)
    report_row = lambda row: echo(f"      {row.name:{width}s}  top-1 {row.top1:5.1f} ± {row.top1_std:4.1f} % "  # noqa: E731
                                  f"(chance {row.chance:.1f} %)  {row.seconds:4.0f} s")
    rows = list(plan)
    todo = [i for i, row in enumerate(plan) if row.runnable]
    if jobs <= 1:
        for i in todo:
            rows[i] = run_row(config, plan[i])
            report_row(rows[i])
    else:
        # The costly heads' runs (``Head.costly``) start first and the short ones fill the other cores; each run is
        # reported as it finishes, the table keeps the plan's order.
        first = sorted(todo, key=lambda i: not head_class(plan[i].head).costly)
        context = multiprocessing.get_context(_START_METHOD)
        with ProcessPoolExecutor(jobs, mp_context=context, initializer=_start_job) as pool:
            futures = {pool.submit(run_row, config, plan[i]): i for i in first}
            try:
                for future in as_completed(futures):
                    rows[futures[future]] = future.result()
                    report_row(rows[futures[future]])
            except BaseException:  # a failed run (or Ctrl-C) stops the sweep; runs not started are dropped
                pool.shutdown(wait=True, cancel_futures=True)
                raise
    table = format_table(rows)
    report = write_sweep_report(config.report or config.out / "report.md", rows, config.title, config.about,
                                {**_settings(config), **config.settings})
    return SweepResult(rows, table, report)


def _settings(config: SweepConfig) -> dict[str, object]:
    grid = "; ".join(f"{h}.{k}={','.join(v)}" for h, opts in config.head_grid.items() for k, v in opts.items())
    return {"features": config.features, "source features": config.source_features or MISSING,
            "protocol": config.protocol, "splits": config.splits or "the protocol's default",
            **({"filter text": config.filter_text or "default"} if config.source_features else {}),
            **{f"protocol option {k}": v for k, v in config.protocol_options.items()},
            "head options": grid or MISSING, "training": config.train, "selection": config.selection}
