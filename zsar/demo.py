"""``zsar demo``: the whole pipeline on the synthetic action set, offline, in one call.

``run_demo(DemoConfig(...), echo)`` does four steps, reporting each through ``echo``:

1. render the synthetic stick-figure set (``zsar synth``) into ``OUT/synthetic-<C>x<N>``;
2. extract it into ``OUT/cache`` with the real offline weights (``efficientnet-lite0``
   frames at 112 px, ``minilm`` label text);
3. ``zsar sweep`` with ``within-half``: every head (the ``ridge`` baseline first) with the
   class generator off and on (heads with visual centres only; the others get a ``-`` row)
   and semantic transfer off and on, each a ``zsar train-head`` run with train-head's
   *default* settings (model selection on held-out seen classes included) in
   ``OUT/runs/<preset>/<run>``, measured by ``zsar metrics``;
4. write ``OUT/report.md``: the table, what selection chose, the best run's plots.

Running it again into the same ``OUT`` reuses what is there: the rendered clips, the cache
(extraction resumes) and every finished run whose settings did not change. Sizes are
explained beside ``PRESETS``, threads and workers in ``DemoConfig``.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Callable, Iterator

from zsar.devices import torch_threads
from zsar.errors import ZsarError
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.sampling import SamplingConfig
from zsar.synth import SynthConfig, generate_dataset
from zsar.heads.train import TrainConfig
from zsar.sweep import SweepConfig, run_sweep
from zsar.sweep_table import SweepRow, best_line, best_row

log = logging.getLogger(__name__)

# Presets, measured on the shared 2-core machine (see README "zsar demo"). All 39 actions:
# the unseen half then holds 19 classes (chance 5.3 %), and the compositions ("jump and
# clap") among them relate unseen label texts to seen motions. Training uses train-head's
# defaults: the demo sets no epochs, batch size or learning rate of its own.
PRESETS: dict[str, dict[str, object]] = {
    "full": dict(classes=39, per_class=20, splits=5),
    "quick": dict(classes=39, per_class=6, splits=3),
}
# The demo's table compares ResT's joint cross-modal encoder (its default) with the dual model.
DEMO_HEAD_GRID: dict[str, dict[str, tuple[str, ...]]] = {"rest": {"mode": ("joint", "dual")}}
STAGE_LOGGERS = ("zsar.extract", "zsar.heads", "zsar.metrics", "zsar.cache", "zsar.sweep")
ABOUT = (
    "The demo renders a synthetic stick-figure action set, extracts it with real offline weights "
    "(an ImageNet EfficientNet-Lite0 on frames, MiniLM on the label text) and runs `within-half` "
    "zero-shot for every head with `zsar train-head`'s default settings: train on the videos of half "
    "the classes, classify the videos of the other half among those unseen classes only. The `ridge` "
    "head, a closed-form regression into the label-text space, is the baseline every other head must "
    "beat. Learning rate and steps (ridge: its regulariser) are chosen on validation classes held "
    "out of each split's seen classes, never on the unseen ones. It shows that the whole pipeline "
    "runs offline, that the heads learn a video-to-text mapping that transfers to unseen classes "
    "better than chance and than the baseline, and how the generator, semantic transfer and the heads "
    "change hubness and the geometry of the embeddings. It does not show real-world accuracy: stick "
    "figures are not people, the backbone was never trained on motion, and the unseen classes are "
    "few; real numbers need real datasets (HMDB51, UCF101, Kinetics) and CLIP weights."
)


@dataclass(frozen=True)
class DemoConfig:
    """What the demo renders, extracts and trains. ``None`` fields take the preset of ``quick``.

    ``heads``: ``None`` for every registered head. ``steps``: ``None`` for train-head's
    default budget (tests set a few steps to run fast). ``threads``: torch threads for the
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

    def __post_init__(self) -> None:
        for name, value in PRESETS[self.preset].items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        object.__setattr__(self, "out", Path(self.out))
        if self.splits < 1 or (self.steps is not None and self.steps < 1):
            raise ZsarError(f"demo splits {self.splits} and steps {self.steps} must be at least 1")

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

    rows: list[SweepRow]
    table: str
    report: Path
    cache_dir: Path
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def best(self) -> SweepRow:
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


def sweep_config(config: DemoConfig, cache: Path) -> SweepConfig:
    """The demo's sweep: every head x generator off/on x transfer none/semantic, ``within-half``, defaults.

    ResT runs in both modes (``DEMO_HEAD_GRID``): its joint encoder, the default, beside the dual model.
    """
    train = TrainConfig(seed=config.seed, **({} if config.steps is None else {"steps": config.steps}))
    grid = {head: options for head, options in DEMO_HEAD_GRID.items() if config.heads is None or head in config.heads}
    return SweepConfig(features=cache, out=config.runs_dir, protocol="within-half", splits=config.splits,
                       heads=config.heads, head_grid=grid, train=train, title="zsar demo", about=ABOUT,
                       report=config.out / "report.md", settings=config.settings())


def run_heads(config: DemoConfig, cache: Path, echo: Callable[[str], None]) -> tuple[list[SweepRow], str, Path]:
    """Steps 3 and 4: the sweep (its rows, table and report)."""
    sweep = sweep_config(config, cache)
    echo(f"[3/4] within-half zero-shot, {config.splits} splits: every head (ridge, the closed-form baseline, "
         "first) x generator off/on (heads with visual centres) x transfer none/semantic, train-head's defaults "
         "with model selection on held-out seen classes")
    result = run_sweep(sweep, echo)
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
    if config.threads is not None and config.threads < 1:
        raise ZsarError(f"demo threads {config.threads}: must be at least 1")
    seconds: dict[str, float] = {}
    clock = time.perf_counter()
    with _stage_logs_quiet(), torch_threads(config.threads):
        data = render(config, echo)
        seconds["render"], clock = time.perf_counter() - clock, time.perf_counter()
        cache = extract_features(config, data, echo)
        seconds["extract"], clock = time.perf_counter() - clock, time.perf_counter()
        rows, table, report = run_heads(config, cache, echo)
        seconds["train + metrics"] = time.perf_counter() - clock
    echo("")
    echo(table)
    echo(f"\n{best_line(rows)}; report: {report}")
    return DemoResult(rows, table, report, cache, seconds)

