"""The ridge head, the step budget, standardisation, model selection on held-out seen classes, ``--head-opt``."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from _heads_data import TWELVE_CLASSES, protocol_data
from zsar.heads.batches import FeatureBatches
from zsar.runs.checkpoints import read_checkpoint
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.heads.base import ClassText, HeadDims, create_head
from zsar.heads.experiment import TrainHeadConfig, choose_settings, resolve
from zsar.heads.options import parse_head_options
from zsar.heads.protocols import within_half
from zsar.heads.selection import (CurvePoint, SelectionConfig, choose_point, curve_points, smoothed, standard_error,
                                  validation_plans)
from zsar.testing import StructuredConfig
from zsar.heads.train import MIN_STEPS, TrainConfig, feature_stats, prepare

pytestmark = pytest.mark.usefixtures("single_thread")

runner = CliRunner()
SMALL = TWELVE_CLASSES
QUICK = TrainConfig(steps=12, batch_size=16)


def test_ridge_recovers_a_planted_linear_map():
    rng = np.random.default_rng(0)
    dim, classes = 4, 12
    text = rng.normal(size=(classes, dim))
    text /= np.linalg.norm(text, axis=1, keepdims=True)
    planted, bias = rng.normal(size=(dim, dim)), rng.normal(size=dim)
    points = np.linalg.solve(planted, (text - bias).T).T  # planted @ x_c + bias == t_c exactly
    labels = np.repeat(np.arange(classes), 3)
    features = (points[labels] * 10 + 5)[:, None, None, :].astype(np.float32)  # off-centre, off-scale
    head = create_head("ridge", HeadDims(video_dim=dim, text_dim=dim, frames=1, n_classes=classes), alpha=1e-9)
    batches = FeatureBatches(features, np.arange(len(labels)), labels)
    prepare(head, batches, TrainConfig())
    residual = head.solve(head.system(batches, ClassText(torch.as_tensor(text, dtype=torch.float32)[:, None])))
    assert residual == pytest.approx(0.0, abs=1e-6)
    x = rng.normal(size=(7, dim))
    with torch.no_grad():
        mapped = head.proj(head.standardise(torch.as_tensor(x * 10 + 5, dtype=torch.float32))).numpy()
    np.testing.assert_allclose(mapped, x @ planted.T + bias, atol=1e-3)


def test_ridge_regulariser_shrinks_and_bad_alpha_is_refused():
    with pytest.raises(ZsarError, match="ridge alpha=0.0: must be a finite number above 0"):
        create_head("ridge", HeadDims(video_dim=4, text_dim=4, frames=1, n_classes=2), alpha=0.0)
    data = protocol_data(SMALL)
    plan = next(within_half(data, 1))
    head = create_head("ridge", HeadDims(video_dim=16, text_dim=8, frames=2, n_classes=len(plan.train.classes)))
    batches = FeatureBatches(plan.train.cache.features, plan.train.rows, plan.train.targets)
    prepare(head, batches, TrainConfig())
    system = head.system(batches, ClassText.from_embeddings(plan.train.text))
    norms = []
    for alpha in (1e-3, 1.0, 1e3):
        head.solve(system, alpha)
        norms.append(head.proj.weight.norm().item())
    assert norms[0] > norms[1] > norms[2]


def test_the_budget_fits_the_set_size():
    config = TrainConfig()
    assert config.batch_for(120) == 15 and config.batch_for(10_000) == 128 and config.batch_for(4) == 2
    assert config.total_steps(120) == MIN_STEPS  # 8 epochs of 15 would be 64 steps
    assert config.total_steps(100_000) == 8 * (100_000 // 128)
    assert TrainConfig(epochs=3).total_steps(120) == 3 * 8 and TrainConfig(steps=7).total_steps(10) == 7


def test_feature_stats_are_the_training_videos_mean_and_std():
    rng = np.random.default_rng(1)
    features = (rng.normal(size=(50, 2, 3, 4)) * [1, 2, 3, 0] + [0, 1, 2, 3]).astype(np.float16)
    rows = np.arange(10, 50)
    mean, std = feature_stats(features, rows)
    flat = features[rows].reshape(-1, 4).astype(np.float64)
    np.testing.assert_allclose(mean, flat.mean(axis=0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(std[:3], flat.std(axis=0)[:3], rtol=1e-4)
    assert std[3] > 0  # a constant dim gets the floor, not a division by zero


def test_validation_classes_come_from_the_seen_classes_only():
    data = protocol_data(StructuredConfig(classes=40, videos=400))
    plan = next(within_half(data, 1))
    folds = validation_plans(plan, SelectionConfig(), seed=0)
    assert len(folds) == 3  # 10 videos a class: 5 held-out classes are 50 videos, 3 folds reach 150 of 300
    for vplan in folds:
        assert len(vplan.test.classes) == 5 and len(vplan.train.classes) == 15
        assert set(vplan.test.classes) | set(vplan.train.classes) == set(plan.train.classes)
        assert not set(vplan.test.classes) & set(plan.test.classes)
        assert set(vplan.test.rows) <= set(plan.train.rows) and set(vplan.train.rows) <= set(plan.train.rows)
        assert not set(vplan.test.rows) & set(vplan.train.rows)
        assert set(vplan.train.classes[vplan.train.targets]) == set(vplan.train.classes)
    held = [set(v.test.classes) for v in folds]
    assert not (held[0] & held[1] or held[0] & held[2] or held[1] & held[2])  # disjoint folds
    assert len(validation_plans(plan, SelectionConfig(min_videos=50), seed=0)) == 1  # one fold is enough
    tiny = replace(plan, train=replace(plan.train, labels=plan.train.classes[plan.train.targets % 3]))
    assert validation_plans(tiny, SelectionConfig(), seed=0) == []  # 3 classes: too few to split


@pytest.mark.parametrize("head", ["ridge", "linear"])
def test_selection_never_reads_the_test_classes(head):
    data = protocol_data(StructuredConfig(classes=20, videos=240))
    plan = next(within_half(data, 1))
    noisy = data.target.features.copy()
    test_rows = np.flatnonzero(np.isin(data.target.labels, plan.test.classes))
    noisy[test_rows] = np.random.default_rng(5).normal(size=noisy[test_rows].shape) * 100
    noisy_plan = next(within_half(replace(data, target=replace(data.target, features=noisy)), 1))
    config = TrainHeadConfig(features=Path("unused"), out=Path("unused"), head=head, protocol="within-half",
                             train=QUICK)
    first, again = (choose_settings(resolve(config), p) for p in (plan, noisy_plan))
    assert first[2] is not None and first[2].curves == again[2].curves
    assert first[0] == again[0] and first[1] == again[1]
    chosen = first[2].chosen
    if head == "ridge":
        assert first[1]["alpha"] == chosen["alpha"] and len(first[2].curves) == len(SelectionConfig().alphas)
    else:
        assert (first[0].lr, first[0].steps) == (chosen["lr"], chosen["steps"]) and first[0].epochs is None


def test_curve_points_and_smoothing():
    assert curve_points(160, 8) == [10, 15, 22, 33, 49, 72, 108, 160]  # ratio 16 ** (1/7)
    assert curve_points(3, 8) == [1, 2, 3]
    assert smoothed([0, 3, 0, 3]) == [1.5, 1.0, 2.0, 1.5]


@pytest.fixture
def cache(structured_cache):
    return structured_cache(SMALL)


def _train(cache, out, *args):
    return runner.invoke(app, ["train-head", "--features", str(cache), "--out", str(out), "--protocol", "within-half",
                               "--splits", "2", "--steps", "12", "--batch-size", "16", *args])


def test_train_head_records_and_prints_the_selection(cache, tmp_path):
    result = _train(cache, tmp_path / "r", "--head", "linear")
    assert result.exit_code == 0, result.output
    rows = result.stdout.splitlines()[2:4]
    metrics = json.loads((tmp_path / "r" / "metrics.json").read_text())
    for row, split in zip(rows, metrics["splits"]):
        chosen = json.loads((tmp_path / "r" / f"split-{split['split']}" / "selection.json").read_text())
        assert split["selected"] == chosen["chosen"] and set(chosen["chosen"]) == {"lr", "steps"}
        assert row.endswith(f"lr {chosen['chosen']['lr']:g}, steps {chosen['chosen']['steps']}")
        assert [c["lr"] for c in chosen["curves"]] == [1e-3, 3e-3, 1e-2] and chosen["validation_classes"]
        assert sorted(c["stopped_at"] for c in chosen["curves"]) == [3, 6, 12]  # successive halving
        assert not set(chosen["validation_classes"]) & {SMALL_NAMES[c] for c in _unseen(split["split"])}
        ckpt = read_checkpoint(tmp_path / "r" / f"split-{split['split']}" / "checkpoint.pt")
        assert ckpt.meta.selected == chosen["chosen"] and ckpt.meta.train["steps"] == chosen["chosen"]["steps"]
    config = json.loads((tmp_path / "r" / "config.json").read_text())
    assert config["selection"]["enabled"] is True and config["selection"]["lrs"] == [1e-3, 3e-3, 1e-2]


SMALL_NAMES = [f"class_{i:03d}" for i in range(SMALL.classes)]


def _unseen(split: int) -> np.ndarray:
    return np.random.RandomState(split).permutation(SMALL.classes)[: SMALL.classes // 2]


def test_head_opt_values_reach_config_checkpoint_and_hash(cache, tmp_path):
    opts = ["--head-opt", "fusion=transformer", "--head-opt", "layers=2", "--head-opt", "heads=4",
            "--head-opt", "scale=20", "--no-select"]
    assert _train(cache, tmp_path / "a", "--head", "actionclip", *opts).exit_code == 0
    assert _train(cache, tmp_path / "b", "--head", "actionclip", "--no-select").exit_code == 0
    config = json.loads((tmp_path / "a" / "config.json").read_text())
    assert config["head_config"] == {"fusion": "transformer", "layers": 2, "heads": 4, "activation": "quick-gelu",
                                     "embed_dim": 0, "scale": 20.0, "test_scale": 0.0, "ensemble": "probability"}
    ckpt = read_checkpoint(tmp_path / "a" / "split-0" / "checkpoint.pt")
    assert ckpt.meta.config == config["head_config"]
    assert any(k.startswith("fusion.encoder.layers.1.") for k in ckpt.state_dict)
    other = json.loads((tmp_path / "b" / "config.json").read_text())
    assert other["head_config"]["layers"] == 6 and other["config_hash"] != config["config_hash"]


@pytest.mark.parametrize("opt, message", [
    ("width=3", "head 'aurl' has no option 'width'; valid keys: hidden (int, default 512), embed_dim (int"),
    ("hidden=wide", "--head-opt 'hidden=wide': 'wide' is not a int; valid keys: hidden (int, default 512)"),
    ("hidden", "--head-opt 'hidden' is not KEY=VALUE; valid keys of head 'aurl': hidden"),
    ("scale=nan", "--head-opt 'scale=nan': 'nan' is not a float; valid keys:"),
])
def test_a_bad_head_opt_is_one_error_line(cache, tmp_path, opt, message):
    result = _train(cache, tmp_path / "r", "--head", "aurl", "--head-opt", opt)
    assert result.exit_code == 2
    assert result.output.startswith(f"error: {message}") and result.output.count("\n") == 1
    assert not (tmp_path / "r").exists()


def test_head_opt_types_and_the_heads_listing():
    assert parse_head_options("rest", ["layers=2", "dropout=0.1", "generator=extrapolate"]) == {
        "layers": 2, "dropout": 0.1, "generator": "extrapolate"}
    listing = runner.invoke(app, ["heads"]).output
    assert "ridge: baseline: closed-form ridge regression" in listing
    assert "    alpha              float  default 1.0" in listing
    assert "    fusion             str    default 'transformer'" in listing


def test_a_diverging_lr_drops_out_of_selection(monkeypatch):
    from zsar.heads import train as train_module

    step = train_module.Trainer._one_step

    def nan_at_high_lr(self):
        if self.config.lr == 1e-2:
            raise train_module.DivergedError("loss became nan")
        step(self)

    monkeypatch.setattr(train_module.Trainer, "_one_step", nan_at_high_lr)
    plan = next(within_half(protocol_data(StructuredConfig(classes=20, videos=240)), 1))
    config = TrainHeadConfig(features=Path("unused"), out=Path("unused"), head="linear", protocol="within-half",
                             train=QUICK)
    train, _, selection = choose_settings(resolve(config), plan)
    assert [c["diverged"] for c in selection.curves] == [False, False, True] and train.lr in (1e-3, 3e-3)
    assert selection.curves[2]["curve"] == []


def test_only_a_clear_validation_gain_moves_the_choice_off_the_longest_default_run():
    lrs = (1e-3, 3e-3, 1e-2)
    assert standard_error(50.0, 100) == pytest.approx(5.0)
    def points(*rows):  # (smoothed top-1, step, top-1, lr)
        return [CurvePoint(smoothed=s, step=step, top1=top1, lr=lr) for s, step, top1, lr in rows]

    # 1e-2 peaks early at 50, the longest 3e-3 run is within one SE
    noisy = points((50.0, 20, 52.0, 1e-2), (46.0, 150, 45.0, 3e-3), (44.0, 150, 44.0, 1e-3), (48.0, 40, 47.0, 3e-3))
    assert choose_point(noisy, 100, 3e-3, lrs) == noisy[1]
    # with 400 validation videos one SE is 2.5 points: only the early peak and the step-40 point qualify
    assert choose_point(noisy, 400, 3e-3, lrs) == noisy[3]
    clear = points((60.0, 20, 60.0, 1e-2), (40.0, 150, 40.0, 3e-3))
    assert choose_point(clear, 100, 3e-3, lrs) == clear[0]
