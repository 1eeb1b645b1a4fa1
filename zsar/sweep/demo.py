"""``zsar demo``: the whole pipeline on the synthetic action set, offline, in one call.

``run_demo(DemoConfig(...), echo)`` does four steps, reporting each through ``echo``:

1. render the synthetic stick-figure set (``zsar synth``) into ``OUT/synthetic-<C>x<N>``;
2. extract it into ``OUT/cache`` with the real offline weights (``efficientnet-lite0``
   frames at 112 px, ``minilm`` label text), and the object vocabulary of the ``objects``
   head when the backbone has a classifier (``zsar.extract.objects``);
3. ``within-half`` zero-shot runs, each a ``zsar train-head`` run with train-head's *default*
   settings (model selection on held-out seen classes included) in ``OUT/runs/<preset>/<run>``,
   measured by ``zsar metrics``: the ``ridge`` baseline, every other head once with its own
   defaults (the training-free ``objects`` among them), one head with AURL's class generator
   added and one with ResT's semantic transfer added (``demo_rows``). ``--full`` runs the
   whole grid instead (``zsar sweep``: every head x generator off/on x transfer
   none/semantic, ResT in both modes); each run prints one line as it finishes;
4. write ``OUT/report.md`` (the table, what selection chose, the best run's plots) and
   ``OUT/page-<preset>.md``: the section of ``docs/demo.md`` (command, machine, load, times,
   table) that ``make docs`` copies there. The demo itself writes nothing outside ``OUT``.

Running it again into the same ``OUT`` reuses what is there: the rendered clips, the cache
(extraction resumes) and every finished run whose settings did not change. A run that
computed nothing says so and claims no time: ``OUT/page-<preset>.md`` keeps the times of
the run that did the work. Sizes are explained beside ``PRESETS``, threads and workers in
``DemoConfig``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator

from zsar.devices import process_cores, torch_threads
from zsar.errors import ZsarError
from zsar.extract.extractor import ExtractConfig, ExtractResult, extract
from zsar.extract.models.hf import offline_mode
from zsar.extract.objects import add_object_vocabulary, classifier_backbones
from zsar.extract.sampling import SamplingConfig
from zsar.files import atomic_write_text
from zsar.heads.base import head_class, head_config, heads_in_order
from zsar.heads.generator import NO_GENERATOR
from zsar.heads.protocols import WITHIN_HALF
from zsar.heads.train import TrainConfig
from zsar.synth import SynthConfig, generate_dataset
from zsar.sweep.demo_page import DemoClock, demo_page_section, timing_line
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
OBJECTS_ROW = (
    "`objects` is training-free: EfficientNet-Lite0's own ImageNet classifier names the objects in each "
    "frame, and each unseen label is scored by the objects whose names' text is closest to it (Objects2action); "
    "stick figures show no ImageNet object, so on this set it is near chance, while on real footage it names "
    "actions by their objects (docs/predict.md)")
ABOUT = (
    "The demo renders a synthetic stick-figure action set, extracts it with real offline weights "
    "(an ImageNet EfficientNet-Lite0 on frames, MiniLM on the label text) and runs `within-half` "
    "zero-shot with `zsar train-head`'s default settings: train on the videos of half the classes, "
    "classify the videos of the other half among those unseen classes only. The `ridge` head, a "
    "closed-form regression into the label-text space, is the baseline every other head must beat; "
    "every other head runs once with its own defaults, and two rows switch one idea: ResT's semantic "
    "transfer on the baseline, and AURL without its class generator (on by default). Learning rate and "
    "steps (ridge: its regulariser) are chosen on validation classes held out of each split's seen "
    "classes, never on the unseen ones. " + OBJECTS_ROW + ". There is no `frozen` row: " + NOT_IN_DEMO["frozen"]
    + ". The demo shows that the whole pipeline runs offline and how the heads compare with the baseline "
    "on the same splits. It does not show real-world accuracy: stick figures are not people, the "
    "backbone was never trained on motion, and the unseen classes are few; real numbers need real "
    "datasets (HMDB51, UCF101, Kinetics) and CLIP weights."
)
ABOUT_FULL = (
    "`zsar demo --full`: the same pipeline on 20 clips per action and 5 splits, and the whole grid "
    "(`zsar sweep`): every head with the class generator off and on (heads with visual centres only; "
    "the others get a `-` row) and semantic transfer off and on, ResT in its joint and dual mode, "
    "each with `zsar train-head`'s default settings. " + OBJECTS_ROW + ". There is no `frozen` row: "
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
    default). ``jobs``: runs trained at once, each in its own process with one
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
    def page_file(self) -> Path:
        """The section of ``docs/demo.md`` this run writes (``make docs`` copies it there)."""
        return self.out / f"page-{self.preset}.md"

    @property
    def demo_heads(self) -> list[str]:
        """The heads to run, baseline first (``NOT_IN_DEMO`` heads left out, and ``objects`` unless the backbone
        has a classifier)."""
        order = heads_in_order()  # the registry's: baselines first
        classifier = self.backbone in classifier_backbones()
        names = [h for h in order if h not in NOT_IN_DEMO and (classifier or not head_class(h).needs_objects)] \
            if self.heads is None else list(self.heads)
        return sorted(names, key=lambda h: (order.index(h) if h in order else len(order), h))

    def settings(self) -> dict[str, object]:
        """The config as JSON-ready primitives (for the report)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: str(v) if isinstance(v, Path) else v for name, v in values.items()}


@dataclass(kw_only=True)
class DemoResult:
    """What the demo produced: one row per run, the table, the report, step times (wall and CPU seconds).

    ``reused``: nothing was computed (every clip, the cache and every run were there already).
    """

    rows: list[SweepRow]
    table: str
    report: Path
    cache_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: float = 0.0
    reused: bool = False

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


def render(config: DemoConfig, echo: Callable[[str], None]) -> tuple[Path, int]:
    """Step 1: the synthetic set in ``config.data_dir`` (finished clips are kept); its folder and the clips rendered."""
    synth = config.synth
    echo(f"[1/4] rendering {synth.classes} actions x {synth.per_class} clips ({synth.frames} frames, "
         f"{synth.width}x{synth.height}) into {config.data_dir}")
    clips = lambda: sum(1 for p in config.data_dir.glob("videos/*/*") if p.is_file())  # noqa: E731
    before = clips()
    generate_dataset(synth, config.data_dir)
    rendered = clips() - before
    echo(f"      {rendered} clip(s) rendered, {before} already there")
    return config.data_dir, rendered


def extract_features(config: DemoConfig, data: Path, echo: Callable[[str], None]) -> ExtractResult:
    """Step 2: extract ``data`` into ``OUT/cache`` (resumes), and the objects head's vocabulary when it runs."""
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
    if any(head_class(h).needs_objects for h in config.demo_heads):
        vocabulary = add_object_vocabulary(result.cache_dir, None, "cpu")
        echo(f"      the objects head's vocabulary: {config.backbone}'s classifier and {len(vocabulary.names)} "
             f"ImageNet names as {vocabulary.encoder} text")
    return result


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
             "closed-form baseline) with and without ResT's semantic transfer, every other head with its defaults "
             "(objects: training-free, when the backbone has a classifier), AURL also without its class generator; "
             "train-head's defaults, model selection on held-out seen classes included; a line per run as it "
             "finishes")
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
    """Run the four steps, write ``OUT/report.md`` and ``OUT/page-<preset>.md``; progress and the table go
    through ``echo``. A run that computed nothing (every clip, the cache and every run reused) claims no time."""
    seconds: dict[str, float] = {}
    clock = DemoClock.start()
    with _stage_logs_quiet(), torch_threads(config.threads), offline_mode():  # the demo downloads nothing
        data, rendered = render(config, echo)
        seconds["render"] = clock.lap()
        extracted = extract_features(config, data, echo)
        seconds["extract"] = clock.lap()
        before = checkpoints(config.runs_dir)
        rows, table, report = run_heads(config, extracted.cache_dir, echo)
        seconds["train + metrics"] = clock.lap()
    trained = changed_checkpoints(before, checkpoints(config.runs_dir))
    result = DemoResult(rows=rows, table=table, report=report, cache_dir=extracted.cache_dir, seconds=seconds,
                        cpu_seconds=clock.cpu_seconds(),
                        reused=not (rendered or extracted.ok or extracted.failed or trained))
    echo("")
    echo(table)
    echo(f"\n{best_line(rows)}; report: {report}")
    if result.reused:
        echo(f"reused everything in {config.out}: the clips, the cache and all {sum(r.ran for r in rows)} runs; "
             f"nothing was computed now, so no time is given (the run that computed them wrote its times to "
             f"{config.page_file})")
        return result
    echo(timing_line(result.seconds, result.cpu_seconds))
    write_page(config, result, clock.loads())
    echo(f"wrote {config.page_file} (`make docs` copies it into docs/demo.md)")
    return result


def checkpoints(runs: Path) -> dict[Path, int]:
    """The checkpoint files under ``runs`` and their modification times (a retrained split rewrites its own)."""
    return {p: p.stat().st_mtime_ns for p in runs.glob("*/split-*/checkpoint.pt")}


def changed_checkpoints(before: dict[Path, int], after: dict[Path, int]) -> int:
    """How many checkpoints were written between the two snapshots."""
    return sum(1 for path, mtime in after.items() if before.get(path) != mtime)


def write_page(config: DemoConfig, result: DemoResult, load: tuple[float | None, float | None]) -> Path:
    """``OUT/page-<preset>.md``: the section of docs/demo.md for this run (``make docs`` copies it)."""
    command = "zsar demo --full" if config.full else "zsar demo"
    atomic_write_text(config.page_file, demo_page_section(
        f"`{command}` ({config.classes} actions x {config.per_class} clips, {config.splits} splits)", result.rows,
        result.table, result.seconds, result.cpu_seconds, load) + "\n")
    return config.page_file
