"""Model selection on validation classes held out of the seen ones; the test classes are never read.

Class-disjoint validation: a seeded ``fraction`` of the split's *training* classes becomes
validation-unseen classes (``validation_plans``; on small sets up to ``max_folds`` disjoint
folds, whose curves are averaged). A head is trained on the other training classes and
evaluated zero-shot on the validation classes exactly as it will be tested (same scoring,
semantic transfer and re-ranking):

- SGD heads: one run per learning rate of ``lrs``, validation top-1 at ``points``
  log-spaced steps of the budget, by successive halving (all runs to a quarter of the
  budget, the better half to half, the best to the end). Each curve is smoothed; among the
  (lr, steps) within one standard error of the best smoothed top-1 the longest run wins,
  then the default lr (``TrainConfig.lr``). A run whose loss diverges drops out;
- closed-form heads (the ridge): every ``alpha`` of ``alphas`` from one set of moments
  (ties: the larger alpha).

The caller then retrains on *all* training classes with the chosen values. Why each of
these rules, with the validation figures behind them: docs/decisions.md.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np
import torch

from zsar.heads.batches import FeatureBatches
from zsar.runs.files import SelectionRecord
from zsar.errors import ZsarError
from zsar.heads.base import ClassText, ClosedFormHead, Head
from zsar.heads.classifier import embed_rows
from zsar.heads.zero_shot import score_plan
from zsar.heads.plans import SplitPlan
from zsar.heads.train import DivergedError, TrainConfig, Trainer, prepare
from zsar.heads.transfer import TransferConfig

log = logging.getLogger(__name__)
MIN_CLASSES = 2  # on each side of the validation split
FIRST_POINT = 16  # the validation curve starts at 1/16 of the budget


@dataclass(frozen=True, kw_only=True)
class SelectionConfig:
    """What selection tries: the held-out class ``fraction``, the lr and alpha grids, the curve's ``points``.

    ``max_per_class`` caps the validation videos of each class and the training videos
    embedded per class for semantic transfer (the cost of one curve point). Small sets get
    up to ``max_folds`` disjoint held-out class sets, enough for ``min_videos`` validation
    videos in all, and their curves are averaged.
    """

    enabled: bool = True
    fraction: float = 0.25
    lrs: tuple[float, ...] = (1e-3, 3e-3, 1e-2)
    alphas: tuple[float, ...] = (1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0)  # ascending
    points: int = 8
    max_per_class: int = 100
    max_folds: int = 3
    min_videos: int = 300

    def __post_init__(self) -> None:
        if not 0 < self.fraction < 1:
            raise ZsarError(f"validation fraction {self.fraction}: must be in (0, 1)")
        if not self.lrs or not self.alphas or min(self.lrs) <= 0 or min(self.alphas) <= 0:
            raise ZsarError("selection grids: give at least one positive lr and alpha")
        if min(self.points, self.max_per_class, self.max_folds, self.min_videos) < 1:
            raise ZsarError(f"selection points {self.points}, max_per_class {self.max_per_class}, max_folds "
                            f"{self.max_folds} and min_videos {self.min_videos}: each at least 1")


def _cap_per_class(labels: np.ndarray, cap: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted positions in ``labels`` keeping at most ``cap`` (seeded) per label."""
    keep = [rng.permutation(np.flatnonzero(labels == c))[:cap] for c in np.unique(labels)]
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)


def validation_plans(plan: SplitPlan, config: SelectionConfig, seed: int) -> list[SplitPlan]:
    """Folds of ``plan``: each moves a disjoint, seeded ``fraction`` of its training classes to validation-unseen.

    Only ``plan``'s training videos are used: a fold trains on the other training classes
    and tests on (at most ``max_per_class`` per class) videos of its held-out ones. One
    fold, or more (at most ``max_folds``) until they hold ``min_videos`` validation
    videos; none when the classes are too few to split.
    """
    present = np.unique(plan.train.targets)
    n_val = int(round(config.fraction * len(present)))
    if n_val < MIN_CLASSES or len(present) - n_val < MIN_CLASSES:
        return []
    rng = np.random.default_rng([seed, plan.split])
    order = rng.permutation(present)
    folds = [_fold(plan, np.sort(order[:n_val]), config, rng)]
    wanted = math.ceil(config.min_videos / max(1, len(folds[0].test.rows)))
    for f in range(1, min(config.max_folds, len(present) // n_val, wanted)):
        folds.append(_fold(plan, np.sort(order[f * n_val:(f + 1) * n_val]), config, rng))
    return folds


def _fold(plan: SplitPlan, held: np.ndarray, config: SelectionConfig, rng: np.random.Generator) -> SplitPlan:
    """``plan`` with the training classes ``held`` (positions in ``plan.train.classes``) moved to validation."""
    is_val = np.isin(plan.train.targets, held)
    kept = np.setdiff1d(np.arange(len(plan.train.classes)), held)
    val_pos = np.flatnonzero(is_val)[_cap_per_class(plan.train.targets[is_val], config.max_per_class, rng)]
    seen = np.zeros(len(plan.class_names), dtype=bool)
    seen[plan.train.classes[kept]] = True
    return SplitPlan(split=plan.split, class_names=plan.class_names, seen=seen, train=plan.train.part(~is_val, kept),
                     test=plan.train.part(val_pos, held), model_key=f"validation-{plan.model_key}")


@dataclass
class _Fold:
    """One validation fold: its plan, training batches and text, and its scorer."""

    plan: SplitPlan
    batches: FeatureBatches
    text: ClassText
    validate: "_Validator"


class _Validator:
    """Zero-shot top-1 of a head on a validation plan, scored as the test will be."""

    def __init__(self, plan: SplitPlan, transfer: TransferConfig, rerank: str, device: torch.device,
                 config: SelectionConfig, seed: int) -> None:
        self.plan, self.transfer, self.rerank, self.device = plan, transfer, rerank, device
        sample = _cap_per_class(plan.train.targets, config.max_per_class, np.random.default_rng(seed))
        self.sample = sample if transfer.mode == "semantic" else sample[:0]

    def __call__(self, head: Head) -> float:
        p = self.plan
        test = embed_rows(head, p.test.cache.features, p.test.rows, self.device)
        train = embed_rows(head, p.train.cache.features, p.train.rows[self.sample], self.device)
        if not len(self.sample):
            train = np.zeros((0, test.shape[1]), np.float32)
        _, scores = score_plan(head, p, test, train, p.train.targets[self.sample], self.transfer, self.rerank,
                                self.device)
        return 100 * float(np.mean(p.test.classes[scores.argmax(axis=1)] == p.test.labels))


def select(make_head: Callable[[SplitPlan], Head], plan: SplitPlan, train: TrainConfig, config: SelectionConfig,
           transfer: TransferConfig, rerank: str, device: torch.device) -> SelectionRecord | None:
    """Choose the training values for ``plan`` on held-out seen classes; None when there are too few classes.

    ``make_head(plan)`` builds a fresh, seeded head for a plan, on ``device``.
    """
    plans = validation_plans(plan, config, train.seed)
    if not plans:
        log.warning("split %d: %d training class(es) are too few to hold out validation classes; "
                    "training with the given settings, no selection", plan.split, len(plan.train.classes))
        return None
    folds = [_Fold(p, FeatureBatches(p.train.cache.features, p.train.rows, p.train.targets),
                   ClassText.from_embeddings(p.train.text, device),
                   _Validator(p, transfer, rerank, device, config, train.seed)) for p in plans]
    n_videos = sum(len(f.plan.test.rows) for f in folds)
    if isinstance(make_head(plans[0]), ClosedFormHead):
        curves, chosen, top1 = _select_alpha(make_head, folds, config, train)
    else:
        curves, chosen, top1 = _select_steps(make_head, folds, n_videos, config, train)
    names = [plan.class_names[c] for f in folds for c in f.plan.test.classes]
    return SelectionRecord(chosen=chosen, top1=top1, curves=tuple(curves), validation_classes=tuple(names),
                           n_train=len(plans[0].train.rows), n_validation=n_videos,
                           config={"fraction": config.fraction, "folds": len(folds), "lrs": list(config.lrs),
                                   "alphas": list(config.alphas), "points": config.points})


def _select_alpha(make_head: Callable[[SplitPlan], Head], folds: list[_Fold], config: SelectionConfig,
                  train: TrainConfig) -> tuple[list[dict[str, Any]], dict[str, float], float]:
    scores = np.zeros(len(config.alphas))
    for fold in folds:
        head = make_head(fold.plan)
        assert isinstance(head, ClosedFormHead)
        prepare(head, fold.batches, train)
        system = head.system(fold.batches, fold.text)
        for i, alpha in enumerate(config.alphas):
            head.solve(system, alpha)
            scores[i] += fold.validate(head) / len(folds)
    curves = [{"alpha": alpha, "top1": float(top1)} for alpha, top1 in zip(config.alphas, scores)]
    best = max(reversed(curves), key=lambda c: c["top1"])  # ties: the larger (stabler) alpha
    return curves, {"alpha": best["alpha"]}, best["top1"]


@dataclass(frozen=True, kw_only=True)
class CurvePoint:
    """One measured point of a validation curve: after ``step`` steps at ``lr``, its top-1 and smoothed top-1."""

    step: int
    lr: float
    top1: float
    smoothed: float

    def preference(self, default_lr: float, lrs: tuple[float, ...]) -> tuple[int, bool, int]:
        """Among points within one standard error of the best: the longest run, then the default lr, then grid order."""
        return (self.step, self.lr == default_lr, -lrs.index(self.lr))


@dataclass
class _Candidate:
    """One learning rate's validation runs, one per fold, trained in step."""

    lr: float
    trainers: list[Trainer]
    diverged: bool = False

    @property
    def step(self) -> int:
        return self.trainers[0].step

    @property
    def points(self) -> list[CurvePoint]:
        """The points measured so far, top-1 averaged over the folds."""
        curves = [t.result.curve for t in self.trainers]
        n = min(len(c) for c in curves)
        steps = [step for step, _ in curves[0][:n]]
        top1 = [float(np.mean([c[i][1] for c in curves])) for i in range(n)]
        return [CurvePoint(step=step, lr=self.lr, top1=t, smoothed=s)
                for step, t, s in zip(steps, top1, smoothed(top1))]

    @property
    def best(self) -> float:
        return max((p.smoothed for p in self.points), default=-1.0)


def stage_ends(total: int) -> list[int]:
    """Where successive halving compares the runs: a quarter, half, then all of the budget."""
    return sorted({max(1, total // 4), max(1, total // 2), total})


def _select_steps(make_head: Callable[[SplitPlan], Head], folds: list[_Fold], n_videos: int,
                  config: SelectionConfig, train: TrainConfig) -> tuple[list[dict[str, Any]], dict[str, float | int], float]:
    """Successive halving over the lrs: all run to a quarter of the budget, the better half to half, the best to the end.

    A run stopped early is a prefix of the run it would have been (its schedule is over
    the whole budget), so every measured point is a valid candidate.
    """
    total = train.total_steps(len(folds[0].batches))
    points = curve_points(total, config.points)
    budget = replace(train, steps=total, epochs=None)
    candidates = []
    for lr in config.lrs:
        trainers = []
        for fold in folds:
            head = make_head(fold.plan)
            prepare(head, fold.batches, train)
            trainers.append(Trainer(head, fold.batches, fold.text, replace(budget, lr=lr),
                                    desc=f"validation lr {lr:g}"))
        candidates.append(_Candidate(lr, trainers))
    alive = list(candidates)
    for end in stage_ends(total):
        for c in alive:
            try:
                for trainer, fold in zip(c.trainers, folds):
                    trainer.run_to(end, evaluate=lambda t=trainer, f=fold: f.validate(t.head), eval_at=points)
            except DivergedError:
                c.diverged = True
        alive = sorted((c for c in alive if not c.diverged), key=lambda c: -c.best)[:max(1, (len(alive) + 1) // 2)]
    measured = [p for c in candidates if not c.diverged for p in c.points]
    if not measured:
        raise ZsarError(f"every learning rate of {list(config.lrs)} diverged on the validation classes; "
                        "pass --lr lower with --no-select, or check the features")
    point = choose_point(measured, n_videos, train.lr, config.lrs)
    curves = [{"lr": c.lr, "curve": [[p.step, p.top1, p.smoothed] for p in c.points], "stopped_at": c.step,
               "diverged": c.diverged} for c in candidates]
    return curves, {"lr": point.lr, "steps": point.step}, point.top1


def choose_point(measured: list[CurvePoint], n: int, default_lr: float, lrs: tuple[float, ...]) -> CurvePoint:
    """The point to train with, of ``measured`` on ``n`` validation videos.

    Among the points within one standard error of the best smoothed top-1, the most
    preferred (``CurvePoint.preference``).
    """
    best = max(p.smoothed for p in measured)
    near = best - standard_error(best, n)
    return max((p for p in measured if p.smoothed >= near), key=lambda p: p.preference(default_lr, lrs))


def standard_error(top1: float, n: int) -> float:
    """One standard error (percentage points) of a top-1 of ``top1`` % measured on ``n`` videos."""
    p = min(max(top1 / 100, 1 / max(n, 1)), 1 - 1 / max(n, 1))
    return 100 * math.sqrt(p * (1 - p) / max(n, 1))


def curve_points(total: int, n: int) -> list[int]:
    """``n`` log-spaced steps from ``total / FIRST_POINT`` to ``total`` (fewer when they round to the same step)."""
    raw = np.geomspace(max(1.0, total / FIRST_POINT), total, n)
    return sorted({max(1, int(round(x))) for x in raw} | {total})


def smoothed(values: list[float]) -> list[float]:
    """Each value averaged with its neighbours (the ends with their one neighbour)."""
    a = np.asarray(values, dtype=float)
    return [float(a[max(0, i - 1):i + 2].mean()) for i in range(len(a))]
