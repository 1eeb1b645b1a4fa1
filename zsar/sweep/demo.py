"""``zsar demo``: the whole pipeline on the synthetic action set, offline, in one call.

``run_demo(DemoConfig(...), echo)`` does four steps, reporting each through ``echo``:

1. render the synthetic stick-figure set (``zsar synth``) into ``OUT/synthetic-<C>x<N>``;
2. extract it into ``OUT/cache`` with the real offline weights (``efficientnet-lite0``
   frames at 112 px, ``minilm`` label text);
3. ``within-half`` zero-shot runs, each a ``zsar train-head`` run with train-head's *default*
   settings (model selection on held-out seen classes included) in ``OUT/runs/<preset>/<run>``,
   measured by ``zsar metrics``: the ``ridge`` baseline, every other head once with its own
   defaults, one head with AURL's class generator added and one with ResT's semantic transfer
   added (``demo_rows``). ``--full`` runs the whole grid instead (``zsar sweep``: every head x
   generator off/on x transfer none/semantic, ResT in both modes);
4. write ``OUT/report.md`` (the table, what selection chose, the best run's plots) and, when
   asked (``page``), the table and timings into a section of a Markdown page (``docs/demo.md``).

Running it again into the same ``OUT`` reuses what is there: the rendered clips, the cache
(extraction resumes) and every finished run whose settings did not change. Sizes are
explained beside ``PRESETS``, threads and workers in ``DemoConfig``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import platform
import resource
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator

from zsar.devices import process_cores, torch_threads
from zsar.doc_sections import write_section
from zsar.errors import ZsarError
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.sampling import SamplingConfig
from zsar.heads.base import head_class, head_config, heads_in_order
from zsar.heads.generator import NO_GENERATOR
from zsar.heads.protocols import WITHIN_HALF
from zsar.heads.train import TrainConfig
from zsar.synth import SynthConfig, generate_dataset
from zsar.sweep.grid import SweepConfig, run_sweep
from zsar.sweep.table import SweepRow, best_line, best_row

log = logging.getLogger(__name__)

# Presets. All 39 actions in both: the unseen half then holds 19 classes (chance 5.3 %), and
# the compositions ("jump and clap") among them relate unseen label texts to seen motions.
# The default renders 6 clips per action and runs 3 splits, so the paired "> ridge" column
# counts 3 splits; every head's default budget (at least 150 steps) and model selection then
# take about 300 CPU seconds in all (docs/demo.md). "full" is the 24-row grid on 20 clips per
# action and 5 splits (21.5 minutes on 2 cores, two runs at a time; 33 as one process).
# Neither sets training options: every run takes train-head's.
PRESETS: dict[str, dict[str, object]] = {
    "full": dict(classes=39, per_class=20, splits=5),
    "demo": dict(classes=39, per_class=6, splits=3),
}
MAX_JOBS = 4  # runs at once (one process and one torch thread each), at most one per core
# --full's grid compares ResT's joint cross-modal encoder (its default) with the dual model.
FULL_HEAD_GRID: dict[str, dict[str, tuple[str, ...]]] = {"rest": {"mode": ("joint", "dual")}}
# Beyond each head's defaults (AURL's has its class generator on, ResT's its semantic transfer):
# the baseline with ResT's semantic transfer, and AURL without its generator, so that each of
# the two ideas reads off a pair of rows that differ in it alone.
ADDED_ROWS: tuple[tuple[str, str], ...] = (("ridge", "transfer"), ("aurl", "generator"))
NOT_IN_DEMO = {
    "frozen": "the `frozen` baseline scores label text against the raw video features, with no training, "
              "which needs video and text in one space, such as CLIP's; the demo's ImageNet EfficientNet "
              "frames and MiniLM sentences are not",
}
STAGE_LOGGERS = ("zsar.extract", "zsar.heads", "zsar.metrics", "zsar.cache", "zsar.sweep")
ABOUT = (
    "The demo renders a synthetic stick-figure action set, extracts it with real offline weights "
    "(an ImageNet EfficientNet-Lite0 on frames, MiniLM on the label text) and runs `within-half` "
    "zero-shot with `zsar train-head`'s default settings: train on the videos of half the classes, "
    "classify the videos of the other half among those unseen classes only. The `ridge` head, a "
    "closed-form regression into the label-text space, is the baseline every other head must beat; "
    "every other head runs once with its own defaults, and two rows switch one idea: ResT's semantic "
    "transfer on the baseline, and AURL without its class generator (on by default). Learning rate and "
    "steps (ridge: its regulariser) are chosen on validation classes held out of each split's seen "
    "classes, never on the unseen ones. There is no `frozen` row: " + NOT_IN_DEMO["frozen"]
    + ". The demo shows that the whole pipeline runs offline and how the heads compare with the baseline "
    "on the same splits. It does not show real-world accuracy: stick figures are not people, the "
    "backbone was never trained on motion, and the unseen classes are few; real numbers need real "
    "datasets (HMDB51, UCF101, Kinetics) and CLIP weights."
)
ABOUT_FULL = (
    "`zsar demo --full`: the same pipeline on 20 clips per action and 5 splits, and the whole grid "
    "(`zsar sweep`): every head with the class generator off and on (heads with visual centres only; "
    "the others get a `-` row) and semantic transfer off and on, ResT in its joint and dual mode, "
    "each with `zsar train-head`'s default settings. There is no `frozen` row: "
    + NOT_IN_DEMO["frozen"] + "."
)


@dataclass(frozen=True, kw_only=True)
class DemoConfig:
    """What the demo renders, extracts and trains. ``None`` fields take the preset's values.

    ``full``: the whole grid on the larger set (``PRESETS["full"]``). ``heads``: ``None`` for
    every registered head the demo can run. ``steps``: ``None`` for train-head's default budget
    (tests set a few steps to run fast). ``threads``: torch threads for the backbone and the
    heads (``None``: torch's default, one per core; on a machine busy with other work
    ``threads=1`` can be faster). ``workers``: decoding processes (``None``: ``zsar extract``'s
    default). ``page``: a Markdown page whose demo section (default or full) gets the table and
    timings (``None``: none). ``jobs``: runs trained at once, each in its own process with one
    torch thread (``None``: one per core, at most ``MAX_JOBS``; on 2 cores two single-threaded
    runs finish sooner than one with two threads, and far sooner when other work shares the
    cores). Tests override the backbone, text encoder and sizes.
    """

    out: Path = Path("zsar-demo")
    full: bool = False
    classes: int | None = None
    per_class: int | None = None
    splits: int | None = None
    steps: int | None = None
    heads: tuple[str, ...] | None = None
    backbone: str = "efficientnet-lite0"
    text_encoder: str = "minilm"
    resolution: int = 112
    frames: int = 8
    clip_frames: int = 32
    video_size: int = 112
    threads: int | None = None
    workers: int | None = None
    extract_batch: int = 8
    seed: int = 0
    page: Path | None = None
    jobs: int | None = None

    def __post_init__(self) -> None:
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        object.__setattr__(self, "out", Path(self.out))
        if self.splits < 1 or (self.steps is not None and self.steps < 1):
            raise ZsarError(f"demo splits {self.splits} and steps {self.steps} must be at least 1")
        if self.threads is not None and self.threads < 1:
            raise ZsarError(f"demo threads {self.threads}: must be at least 1")
        if self.jobs is None:
            object.__setattr__(self, "jobs", min(MAX_JOBS, process_cores()))
        if self.jobs < 1:
            raise ZsarError(f"demo jobs {self.jobs}: must be at least 1")

    @property
    def preset(self) -> str:
        return "full" if self.full else "demo"

    @property
    def synth(self) -> SynthConfig:
        return SynthConfig(classes=self.classes, per_class=self.per_class, frames=self.clip_frames,
                           width=self.video_size, height=self.video_size, seed=self.seed)

    @property
    def data_dir(self) -> Path:
        return self.out / f"synthetic-{self.classes}x{self.per_class}"

    @property
    def runs_dir(self) -> Path:
        return self.out / "runs" / self.preset

    @property
    def demo_heads(self) -> list[str]:
        """The heads to run, baseline first (``NOT_IN_DEMO`` heads left out)."""
        order = heads_in_order()  # the registry's: baselines first
        names = [h for h in order if h not in NOT_IN_DEMO] if self.heads is None else list(self.heads)
        return sorted(names, key=lambda h: (order.index(h) if h in order else len(order), h))

    def settings(self) -> dict[str, object]:
        """The config as JSON-ready primitives (for the report)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: str(v) if isinstance(v, Path) else v for name, v in values.items()}


@dataclass(kw_only=True)
class DemoResult:
    """What the demo produced: one row per run, the table, the report, step times (wall and CPU seconds)."""

    rows: list[SweepRow]
    table: str
    report: Path
    cache_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0

    @property
    def best(self) -> SweepRow:
        return best_row(self.rows)


def default_row(head: str) -> SweepRow:
    """``head`` as train-head runs it with no options: its own generator and transfer defaults."""
    cls = head_class(head)
    generator = cls.has_centres and getattr(head_config(head), "generator", NO_GENERATOR) != NO_GENERATOR
    return SweepRow(head=head, generator=generator, transfer=cls.default_transfer)


def demo_rows(heads: list[str]) -> list[SweepRow]:
    """Each head with its defaults, each followed by its ``ADDED_ROWS`` (the generator or transfer switched)."""
    rows = []
    for head in heads:
        row = default_row(head)
        rows.append(row)
        for added in (a for h, a in ADDED_ROWS if h == head):
            if added == "generator" and head_class(head).has_centres:
                rows.append(SweepRow(head=head, generator=not row.generator, transfer=row.transfer))
            elif added == "transfer":
                rows.append(SweepRow(head=head, generator=row.generator,
                                     transfer="none" if row.transfer == "semantic" else "semantic"))
    return rows


# --------------------------------------------------------------------------- steps


def render(config: DemoConfig, echo: Callable[[str], None]) -> Path:
    """Step 1: the synthetic set in ``config.data_dir`` (finished clips are kept)."""
    synth = config.synth
    echo(f"[1/4] rendering {synth.classes} actions x {synth.per_class} clips ({synth.frames} frames, "
         f"{synth.width}x{synth.height}) into {config.data_dir}")
    generate_dataset(synth, config.data_dir)
    return config.data_dir


def extract_features(config: DemoConfig, data: Path, echo: Callable[[str], None]) -> Path:
    """Step 2: extract ``data`` into ``OUT/cache`` (resumes); returns the cache folder."""
    echo(f"[2/4] extracting {config.backbone} features ({config.frames} frames per clip at "
         f"{config.resolution} px) and {config.text_encoder} label text into {config.out / 'cache'}")
    result = extract(ExtractConfig(
        dataset="synthetic", root=data, backbone=config.backbone, text_encoder=config.text_encoder,
        sampling=SamplingConfig(frames=config.frames), resolution=config.resolution, cache=config.out / "cache",
        batch_size=config.extract_batch, workers=config.workers, threads=config.threads, seed=config.seed))
    if result.total_failed:
        raise ZsarError(f"{result.total_failed} synthetic clip(s) failed to decode; see the manifest in "
                        f"{result.cache_dir}, or delete {data} to render it again")
    echo(f"      {result.ok} clip(s) extracted, {result.skipped} already in the cache, "
         f"{result.seconds:.0f} s: {result.cache_dir}")
    return result.cache_dir


def sweep_config(config: DemoConfig, cache: Path) -> SweepConfig:
    """The demo's runs: ``within-half``, train-head's defaults; ``--full``: every head x generator x transfer."""
    train = TrainConfig(seed=config.seed, **({} if config.steps is None else {"steps": config.steps}))
    heads = tuple(config.demo_heads)
    grid = {h: options for h, options in FULL_HEAD_GRID.items() if h in heads} if config.full else {}
    return SweepConfig(features=cache, out=config.runs_dir, protocol=WITHIN_HALF, splits=config.splits,
                       heads=heads, head_grid=grid, train=train, title="zsar demo" + (" --full" if config.full else ""),
                       about=ABOUT if not config.full else ABOUT_FULL, report=config.out / "report.md",
                       settings=config.settings())


def run_heads(config: DemoConfig, cache: Path, echo: Callable[[str], None]) -> tuple[list[SweepRow], str, Path]:
    """Steps 3 and 4: the runs (their rows, table and report)."""
    sweep = sweep_config(config, cache)
    if config.full:
        echo(f"[3/4] within-half zero-shot, {config.splits} splits: every head (ridge, the closed-form baseline, "
             "first) x generator off/on x transfer none/semantic, ResT in joint and dual mode; the grid points a "
             "head cannot run (the generator on a head without visual centres) are rows of '-'")
        result = run_sweep(sweep, echo, jobs=config.jobs)
    else:
        echo(f"[3/4] within-half zero-shot, {config.splits} splits, {config.jobs} run(s) at once: ridge (the "
             "closed-form baseline) with and without ResT's semantic transfer, every other head with its defaults, "
             "AURL also without its class generator; train-head's defaults, model selection on held-out seen "
             "classes included")
        echo(f"      no frozen row: {NOT_IN_DEMO['frozen']}")
        result = run_sweep(sweep, echo, plan=demo_rows(list(sweep.heads or ())), jobs=config.jobs)
    echo(f"[4/4] wrote {result.report} with the best run's plots")
    return result.rows, result.table, result.report


@contextlib.contextmanager
def _stage_logs_quiet() -> Iterator[None]:
    """The stages' INFO lines go quiet while the demo reports its own progress (``zsar -v demo`` keeps them)."""
    loggers = [logging.getLogger(name) for name in STAGE_LOGGERS]
    before = [lg.level for lg in loggers]
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for lg in loggers:
            lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, before):
            lg.setLevel(level)


def run_demo(config: DemoConfig, echo: Callable[[str], None]) -> DemoResult:
    """Run the four steps and write ``OUT/report.md``; progress and the final table go through ``echo``."""
    seconds: dict[str, float] = {}
    load_before = _load_average()
    cpu, clock = _cpu_seconds(), time.perf_counter()
    with _stage_logs_quiet(), torch_threads(config.threads):
        data = render(config, echo)
        seconds["render"], clock = time.perf_counter() - clock, time.perf_counter()
        cache = extract_features(config, data, echo)
        seconds["extract"], clock = time.perf_counter() - clock, time.perf_counter()
        rows, table, report = run_heads(config, cache, echo)
        seconds["train + metrics"] = time.perf_counter() - clock
    result = DemoResult(rows=rows, table=table, report=report, cache_dir=cache, seconds=seconds,
                        cpu_seconds=_cpu_seconds() - cpu)
    echo("")
    echo(table)
    echo(f"\n{best_line(rows)}; report: {report}")
    echo(f"{_timing_line(result)}")
    if config.page is not None:
        write_section(config.page, config.preset, demo_page_section(config, result, (load_before, _load_average())))
        echo(f"wrote the table and timings into {config.page}")
    return result


# --------------------------------------------------------------------------- the docs page


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (decoding workers, the runs' jobs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def _load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except OSError:  # not on every platform
        return None


def _timing_line(result: DemoResult) -> str:
    steps = ", ".join(f"{name} {s:.0f} s" for name, s in result.seconds.items())
    total = sum(result.seconds.values())
    return (f"time: {total:.0f} s ({total / 60:.1f} min; {steps}), CPU time {result.cpu_seconds:.0f} s "
            "(this process and its jobs)")


def demo_page_section(config: DemoConfig, result: DemoResult, load: tuple[float | None, float | None]) -> str:
    """The Markdown that ``zsar demo --page`` writes between its markers: command, machine, times, table."""
    command = "zsar demo --full" if config.full else "zsar demo"
    loads = " and ".join("unknown" if v is None else f"{v:.1f}" for v in load)
    machine = f"{os.cpu_count()} CPU core(s), {platform.machine()}, load average {loads} at the start and end"
    rows = "\n".join(f"| {r.label} | {r.seconds:.0f} |" for r in result.rows if r.ran and r.seconds is not None)
    return "\n".join([
        f"`{command}` ({config.classes} actions x {config.per_class} clips, {config.splits} splits), "
        f"written by the run itself on {machine}:", "", "```", _timing_line(result), "```", "",
        result.table, "", best_line(result.rows) + ".", "",
        "<details><summary>Seconds per run (training with model selection, testing, metrics)</summary>", "",
        "| run | s |", "|---|---:|", rows, "", "</details>"])
