"""``zsar demo``: the whole pipeline on the synthetic action set, offline, in one call.

``run_demo(DemoConfig(...), echo)`` does four steps, reporting each through ``echo``:

1. render the synthetic stick-figure set (``zsar synth``) into ``OUT/synthetic-<C>x<N>``;
2. extract it into ``OUT/cache`` with the real offline weights (``efficientnet-lite0``
   frames at 112 px, ``minilm`` label text);
3. for every head, with the class generator off and on (heads with visual centres only;
   the others get a ``-`` row) and with semantic transfer off and on, run ``within-half``
   zero-shot (``zsar train-head``) into ``OUT/runs/<preset>/<run>`` and measure it
   (``zsar metrics``: hubness k = 1, 5, closeness, dispersion);
4. write ``OUT/report.md``: the table of every run and the best run's plots.

Running it again into the same ``OUT`` reuses what is there: the rendered clips, the cache
(extraction resumes) and every finished run whose settings did not change. Timing choices
(classes, clips, epochs) are explained beside ``PRESETS``, threads and workers in ``DemoConfig``.
"""

from __future__ import annotations

import contextlib
import json
import logging
import shutil
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator

import torch

from zsar.demo_table import GENERATOR_MODE, DemoRow, best_row, format_table, write_demo_report
from zsar.errors import ZsarError
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.sampling import SamplingConfig
from zsar.extract.synth import SynthConfig, generate_dataset
from zsar.heads.base import head_class, list_heads
from zsar.heads.experiment import TrainHeadConfig, load_protocol_data, resolve, run_config, train_head
from zsar.heads.train import TrainConfig
from zsar.heads.transfer import TransferConfig
from zsar.metrics import MetricsConfig, measure_run

log = logging.getLogger(__name__)

# Presets, measured on the shared 2-core machine (see README "zsar demo"). All 39 actions:
# the unseen half then holds 19 classes (chance 5.3 %), and the compositions ("jump and
# clap") among them relate unseen label texts to seen motions. Small training sets need
# small batches and more epochs than train-head's defaults (8 epochs of 128 would be one
# or two steps per epoch here).
PRESETS: dict[str, dict[str, object]] = {
    "full": dict(classes=39, per_class=20, splits=5, epochs=20, lr=3e-3),
    "quick": dict(classes=39, per_class=6, splits=3, epochs=15, lr=1e-2),
}
TRANSFERS = ("none", "semantic")
METRIC_K = (1, 5)
STAGE_LOGGERS = ("zsar.extract", "zsar.heads", "zsar.metrics", "zsar.cache")


@dataclass(frozen=True)
class DemoConfig:
    """What the demo renders, extracts and trains. ``None`` fields take the preset of ``quick``.

    ``heads``: ``None`` for every registered head. ``threads``: torch threads for the
    backbone and the heads (``None``: torch's default, one per core; on a quiet 2-core
    machine that ran the quick demo in 32 s against 45 s with one thread and a decoding
    worker; on a machine busy with other work ``threads=1`` can be faster). ``workers``:
    decoding processes (``None``: ``zsar extract``'s default). Tests override the backbone,
    text encoder and sizes.
    """

    out: Path = Path("zsar-demo")
    quick: bool = False
    classes: int | None = None
    per_class: int | None = None
    splits: int | None = None
    epochs: int | None = None
    lr: float | None = None
    batch_size: int = 32
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

    def __post_init__(self) -> None:
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        object.__setattr__(self, "out", Path(self.out))
        if self.splits < 1 or self.epochs < 1:
            raise ZsarError(f"demo splits {self.splits} and epochs {self.epochs} must be at least 1")

    @property
    def preset(self) -> str:
        return "quick" if self.quick else "full"

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

    def settings(self) -> dict[str, object]:
        """The config as JSON-ready primitives (for the report)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {name: str(v) if isinstance(v, Path) else v for name, v in values.items()}


@dataclass
class DemoResult:
    """What the demo produced: one row per (head, generator, transfer), the table, the report, step times."""

    rows: list[DemoRow]
    table: str
    report: Path
    cache_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> DemoRow:
        return best_row(self.rows)


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


def plan_rows(heads: list[str]) -> Iterator[tuple[str, bool, str, bool]]:
    """``(head, generator, transfer, runnable)`` for every combination, in table order."""
    for head in heads:
        for generator in (False, True):
            for transfer in TRANSFERS:
                yield head, generator, transfer, head_class(head).has_centres or not generator


def run_name(head: str, generator: bool, transfer: str) -> str:
    return f"{head}-generator-{'on' if generator else 'off'}-transfer-{transfer}"


def train_config_for(config: DemoConfig, cache: Path, head: str, generator: bool, transfer: str) -> TrainHeadConfig:
    """The ``TrainHeadConfig`` of one demo run (``within-half``, the demo's training settings)."""
    gen = GENERATOR_MODE if generator else ("none" if head_class(head).has_centres else None)
    train = TrainConfig(epochs=config.epochs, batch_size=config.batch_size, lr=config.lr, seed=config.seed)
    return TrainHeadConfig(features=cache, out=config.runs_dir / run_name(head, generator, transfer), head=head,
                           protocol="within-half", splits=config.splits, generator=gen,
                           transfer=TransferConfig(transfer), train=train)


def _discard_stale_run(train_config: TrainHeadConfig) -> None:
    """Remove the demo's own run folder when it holds a run with other settings (e.g. a re-extracted cache)."""
    out = Path(train_config.out)
    saved = out / "config.json"
    if not saved.is_file():
        if out.exists():
            shutil.rmtree(out)  # an interrupted first attempt: nothing finished in it
        return
    payload = run_config(resolve(train_config), load_protocol_data(train_config))
    if json.loads(saved.read_text()).get("config_hash") != payload["config_hash"]:
        log.info("%s holds a demo run with other settings; starting it again", out)
        shutil.rmtree(out)


def run_one(config: DemoConfig, cache: Path, head: str, generator: bool, transfer: str) -> DemoRow:
    """Train, evaluate and measure one (head, generator, transfer) combination; returns its row."""
    train_config = train_config_for(config, cache, head, generator, transfer)
    _discard_stale_run(train_config)
    started = time.perf_counter()
    train_head(train_config)
    measured = measure_run(train_config.out, MetricsConfig(k=METRIC_K))
    return DemoRow.from_run(head, generator, transfer, measured, time.perf_counter() - started)


def run_heads(config: DemoConfig, cache: Path, echo: Callable[[str], None]) -> list[DemoRow]:
    """Step 3: every (head, generator, transfer) combination; rows that cannot run are kept as ``-``."""
    heads = list(config.heads) if config.heads is not None else sorted(list_heads(), key=_head_order)
    plan = list(plan_rows(heads))
    n_runs = sum(runnable for *_, runnable in plan)
    echo(f"[3/4] within-half zero-shot, {config.splits} splits, {n_runs} runs ({len(heads)} heads x generator "
         f"off/on x transfer none/semantic; the generator needs visual centres), {config.epochs} epochs each")
    width = max(len(run_name(h, g, t)) for h, g, t, _ in plan)
    rows = []
    for head, generator, transfer, runnable in plan:
        if not runnable:
            rows.append(DemoRow.not_applicable(head, generator, transfer))
            continue
        row = run_one(config, cache, head, generator, transfer)
        echo(f"      {run_name(head, generator, transfer):{width}s}  top-1 {row.top1:5.1f} ± {row.top1_std:4.1f} % "
             f"(chance {row.chance:.1f} %)  {row.seconds:4.0f} s")
        rows.append(row)
    return rows


def _head_order(name: str) -> tuple[int, str]:
    """Simple heads first, as the table reads: linear, actionclip, aurl, rest, then any others."""
    known = ("linear", "actionclip", "aurl", "rest")
    return (known.index(name) if name in known else len(known), name)


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


@contextlib.contextmanager
def _torch_threads(threads: int | None) -> Iterator[None]:
    before = torch.get_num_threads()
    torch.set_num_threads(threads or before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def run_demo(config: DemoConfig, echo: Callable[[str], None]) -> DemoResult:
    """Run the four steps and write ``OUT/report.md``; progress and the final table go through ``echo``."""
    if config.threads is not None and config.threads < 1:
        raise ZsarError(f"demo threads {config.threads}: must be at least 1")
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    with _stage_logs_quiet(), _torch_threads(config.threads):
        data = render(config, echo)
        seconds["render"], clock = time.perf_counter() - clock, time.perf_counter()
        cache = extract_features(config, data, echo)
        seconds["extract"], clock = time.perf_counter() - clock, time.perf_counter()
        rows = run_heads(config, cache, echo)
        seconds["train + metrics"], clock = time.perf_counter() - clock, time.perf_counter()
        echo(f"[4/4] writing {config.out / 'report.md'} with the best run's plots")
        report = write_demo_report(config.out / "report.md", rows, config.settings(), seconds, cache)
    table = format_table(rows)
    echo("")
    echo(table)
    best = best_row(rows)
    echo(f"\nbest: {best.label} at {best.top1:.1f} % unseen top-1, {best.top1 / best.chance:.1f}x chance; "
         f"report: {report}")
    return DemoResult(rows, table, report, cache, seconds)

