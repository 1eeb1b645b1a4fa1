"""The training loop: a step budget that fits any set size, standardised inputs, AdamW, warm-up then cosine.

``fit`` trains a head on the training classes only. The budget is counted in optimiser
steps, not epochs, so a small set gets as many updates as a large one:

- the batch is ``batch_size``, but never more than ``1 / BATCH_FRACTION`` of the training
  videos (at least ``MIN_BATCH``, as BatchNorm needs two samples): 120 videos train in
  batches of 15, not in one batch of 120;
- ``steps`` optimiser steps; unless ``steps`` or ``epochs`` is given, ``DEFAULT_EPOCHS``
  passes over the training videos but at least ``MIN_STEPS`` steps (a set of 300 videos
  gets 150 steps, not 8 x 2); the linear warm-up and the cosine decay run over exactly
  that budget;
- inputs are standardised per feature dim with the mean and standard deviation of the
  training videos' features (``feature_stats``); the head keeps them as buffers, so the
  checkpoint holds them and test videos are standardised the same way.

``zsar.heads.selection`` chooses the number of steps and the learning rate on validation
classes held out of the seen ones; ``fit`` itself never looks at any test class. Heads
with ``closed_form`` (the ridge) are solved exactly instead. A fixed seed gives the same
weights on CPU run after run: it drives the initial weights (``torch.manual_seed``),
dropout, the batch order, the clip and prompt sampling and the class generator.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np
import torch

from zsar.heads.batches import FeatureBatches
from zsar.errors import ZsarError
from zsar.heads.base import ClassText, ClosedFormHead, Head
from zsar.progress import progress

log = logging.getLogger(__name__)
DEFAULT_EPOCHS = 8
MIN_STEPS = 150
BATCH_FRACTION = 8
MIN_BATCH = 2
STATS_CHUNK = 4096  # videos per chunk when computing feature statistics
MIN_SCALE = 1e-6  # floor of a feature dim's standard deviation (dims that are always 0)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """Optimisation settings shared by every head.

    ``steps`` (total optimiser steps) or ``epochs`` (passes over the training videos) set
    the budget; with neither, ``DEFAULT_EPOCHS`` passes but at least ``MIN_STEPS`` steps. ``batch_size`` is capped at a fraction
    of the training set (``batch_for``). ``standardise``: z-score the input features with
    training statistics.
    """

    steps: int | None = None
    epochs: int | None = None
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-2
    warmup: float = 0.1  # fraction of all steps spent in linear warm-up
    standardise: bool = True
    seed: int = 0
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("steps", "epochs"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ZsarError(f"--{name} {value}: must be at least 1")
        if self.batch_size < MIN_BATCH:
            raise ZsarError(f"--batch-size {self.batch_size}: must be at least {MIN_BATCH} (BatchNorm and the "
                            "contrastive losses compare the videos of a batch)")
        if self.steps is not None and self.epochs is not None:
            raise ZsarError(f"--steps {self.steps} and --epochs {self.epochs}: give one budget, not both")
        for name in ("lr", "weight_decay"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0 or (name == "lr" and value == 0):
                raise ZsarError(f"--{name.replace('_', '-')} {value}: must be a finite number above 0"
                                + (" (or 0)" if name == "weight_decay" else ""))
        if not 0 <= self.warmup < 1:
            raise ZsarError(f"warm-up fraction {self.warmup}: must be in [0, 1)")

    def batch_for(self, n_videos: int) -> int:
        """The batch for ``n_videos`` training videos: ``batch_size``, at most 1/``BATCH_FRACTION`` of them."""
        return max(MIN_BATCH, min(self.batch_size, n_videos // BATCH_FRACTION))

    def total_steps(self, n_videos: int) -> int:
        """The step budget for ``n_videos`` training videos."""
        if self.steps is not None:
            return self.steps
        per_epoch = max(1, n_videos // self.batch_for(n_videos))
        if self.epochs is not None:
            return self.epochs * per_epoch
        return max(MIN_STEPS, DEFAULT_EPOCHS * per_epoch)


def warmup_cosine(total_steps: int, warmup_steps: int) -> Callable[[int], float]:
    """LR multiplier at a step: linear from ~0 to 1 over ``warmup_steps``, then cosine to 0 at ``total_steps``."""

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / (warmup_steps + 1)
        progress_ = (step - warmup_steps) / max(1, total_steps - warmup_steps)
        return 0.5 * (1 + math.cos(math.pi * min(1.0, progress_)))

    return factor


def feature_stats(features: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per-dim mean and standard deviation ``(D,)`` over every clip and frame of ``features[rows]``.

    ``features`` ``(N, clips, T', D)``; read in chunks of ``STATS_CHUNK`` videos with float64
    sums, so a Kinetics-sized float16 cache needs no float32 copy.
    """
    dim = features.shape[-1]
    total, squares, count = np.zeros(dim), np.zeros(dim), 0
    for start in range(0, len(rows), STATS_CHUNK):
        x = features[np.sort(rows[start:start + STATS_CHUNK])].reshape(-1, dim).astype(np.float32)
        total += x.sum(axis=0, dtype=np.float64)
        squares += np.square(x).sum(axis=0, dtype=np.float64)
        count += x.shape[0]
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 0))
    return mean.astype(np.float32), np.maximum(std, MIN_SCALE).astype(np.float32)


@dataclass
class FitResult:
    """What ``fit`` returns: the log records (one per epoch and the last step) and the validation curve."""

    records: list[dict[str, Any]] = field(default_factory=list)
    curve: list[tuple[int, float]] = field(default_factory=list)

    @property
    def losses(self) -> list[float]:
        return [r["loss"] for r in self.records]


def prepare(head: Head, batches: FeatureBatches, config: TrainConfig) -> None:
    """Set ``head``'s input standardisation from the training videos (identity when ``config.standardise`` is off)."""
    if config.standardise:
        head.set_feature_stats(*feature_stats(batches.features.numpy(), batches.rows.numpy()))


class DivergedError(ZsarError):
    """The training loss became NaN or infinite."""


class Trainer:
    """SGD training of one head over its step budget, resumable: ``run_to(step)`` trains up to ``step``.

    ``head`` and ``text`` must be on ``config.device``; ``prepare`` must have set the
    standardisation. ``on_record`` receives ``{"epoch", "step", "loss", "lr", "seconds"}``
    at the end of each epoch (and of the budget). Model selection runs several trainers
    side by side and stops the weaker ones early (``zsar.heads.selection``).
    """

    def __init__(self, head: Head, batches: FeatureBatches, text: ClassText, config: TrainConfig,
                 on_record: Callable[[dict[str, Any]], None] | None = None, desc: str = "train") -> None:
        self.head, self.text, self.config, self.on_record, self.desc = head, text, config, on_record, desc
        self.rng = torch.Generator().manual_seed(config.seed)
        self.optimiser = torch.optim.AdamW(head.parameters(), lr=config.lr, weight_decay=config.weight_decay)
        self.total, batch = config.total_steps(len(batches)), config.batch_for(len(batches))
        self.per_epoch = batches.steps_per_epoch(batch)
        self.schedule = torch.optim.lr_scheduler.LambdaLR(
            self.optimiser, warmup_cosine(self.total, int(config.warmup * self.total)))
        self.stream = batches.stream(batch, self.rng, config.device)
        self.result, self.step = FitResult(), 0
        self._clock, self._running, self._since = time.perf_counter(), 0.0, 0

    def run_to(self, last: int, evaluate: Callable[[], float] | None = None, eval_at: Iterable[int] = ()) -> None:
        """Train steps ``self.step + 1 .. last`` (at most the budget); ``evaluate`` (eval mode) after those in ``eval_at``."""
        last, checkpoints = min(last, self.total), set(eval_at)
        self.head.train()
        with progress(desc=self.desc, total=last - self.step, unit="step", leave=False) as bar:
            while self.step < last:
                self._one_step()
                bar.update(1)
                if evaluate is not None and self.step in checkpoints:
                    self.head.eval()
                    self.result.curve.append((self.step, evaluate()))
                    self.head.train()
        self.head.eval()

    def _one_step(self) -> None:
        lr = self.schedule.get_last_lr()[0]
        video, targets = next(self.stream)
        loss = self.head.loss(video, targets, self.text, self.rng)
        self.step += 1
        if not torch.isfinite(loss):
            raise DivergedError(f"{self.desc}: the loss became {loss.item()} at step {self.step}; "
                                f"lower --lr (now {self.config.lr})")
        self.optimiser.zero_grad(set_to_none=True)
        loss.backward()
        self.optimiser.step()
        self.schedule.step()
        self._running, self._since = self._running + loss.item(), self._since + 1
        if self.step % self.per_epoch == 0 or self.step == self.total:
            record = {"epoch": math.ceil(self.step / self.per_epoch), "step": self.step,
                      "loss": self._running / self._since, "lr": lr,
                      "seconds": round(time.perf_counter() - self._clock, 3)}
            self.result.records.append(record)
            if self.on_record is not None:
                self.on_record(record)
            self._clock, self._running, self._since = time.perf_counter(), 0.0, 0


def fit(head: Head, batches: FeatureBatches, text: ClassText, config: TrainConfig,
        on_record: Callable[[dict[str, Any]], None] | None = None, desc: str = "train") -> FitResult:
    """Train ``head`` in place on ``batches`` (targets index the classes of ``text``) for its whole budget.

    Closed-form heads are solved exactly instead (one record, step 0); training-free heads
    (``frozen``) are left as they are (no record). See ``Trainer``.
    """
    if head.training_free:
        head.eval()
        return FitResult()
    if isinstance(head, ClosedFormHead):
        return _solve(head, batches, text, on_record)
    trainer = Trainer(head, batches, text, config, on_record, desc)
    trainer.run_to(trainer.total)
    return trainer.result


def _solve(head: ClosedFormHead, batches: FeatureBatches, text: ClassText,
           on_record: Callable[[dict[str, Any]], None] | None) -> FitResult:
    """Solve a closed-form head exactly; one log record (step 0, the training residual as the loss)."""
    start = time.perf_counter()
    loss = head.solve(head.system(batches, text))
    record = {"epoch": 1, "step": 0, "loss": loss, "lr": 0.0, "seconds": round(time.perf_counter() - start, 3)}
    if on_record is not None:
        on_record(record)
    head.eval()
    return FitResult([record])
