"""Components registered from outside zsar (``ZSAR_PLUGINS``), as the README's example shows."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _extract_data import cache_dir_of, make_synth
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.registry import load_plugins

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
runner = CliRunner()


def _every_registry() -> list:
    from zsar.extract.datasets import DATASETS
    from zsar.extract.datasets.label_recipes import LABEL_RECIPES
    from zsar.extract.models.backbones import BACKBONES
    from zsar.extract.models.text_encoders import TEXT_ENCODERS
    from zsar.heads.actionclip import FUSIONS
    from zsar.heads.base import HEADS
    from zsar.heads.losses import LOSSES
    from zsar.heads.protocols import PROTOCOLS
    from zsar.heads.rerank import RERANKERS
    from zsar.metrics.measures import MEASURES

    return [DATASETS, LABEL_RECIPES, BACKBONES, TEXT_ENCODERS, FUSIONS, HEADS, LOSSES, PROTOCOLS, RERANKERS, MEASURES]


def _plugged(monkeypatch, modules: str):
    """``modules`` on the path and in ZSAR_PLUGINS; their registrations are undone afterwards."""
    registries = [registry.complete() for registry in _every_registry()]  # built-ins first: only plugins are undone
    saved = [dict(r._entries) for r in registries]
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("ZSAR_PLUGINS", modules)
    yield
    for registry, entries in zip(registries, saved):
        registry._entries.clear()
        registry._entries.update(entries)
    for module in modules.split(","):
        sys.modules.pop(module, None)


@pytest.fixture
def plugin(monkeypatch):
    """The example plugin (a dataset, a backbone, a text encoder and a head)."""
    yield from _plugged(monkeypatch, "zsar_plugin_example")


@pytest.fixture
def protocol_and_measure(monkeypatch):
    """The example protocol (with its option and measure) and the example measure (with its flag)."""
    yield from _plugged(monkeypatch, "zsar_protocol_example,zsar_measure_example")


def test_example_plugin_runs_through_extract_and_train_head(plugin, tmp_path):
    synth = make_synth(tmp_path / "synth", classes=4, per_class=4)
    flat = tmp_path / "flat"
    flat.mkdir()
    for video in sorted((synth / "videos").glob("*/*.avi")):
        shutil.copy(video, flat / f"{video.parent.name}__{video.stem}.avi")
    result = runner.invoke(app, ["-q", "extract", "--dataset", "flat", "--root", str(flat), "--backbone",
                                 "colour-grid", "--text-encoder", "char-trigrams", "--prompts", "plain",
                                 "--cache", str(tmp_path / "cache"), "--workers", "0", "--frames", "4"])
    assert result.exit_code == 0, result.output
    assert "16 ok, 0 failed" in result.output
    cache = cache_dir_of(result.output)
    config = json.loads((cache / "config.json").read_text())
    assert config["backbone"] == "colour-grid" and config["feature_dim"] == 48 and len(config["class_names"]) == 4

    run = tmp_path / "run"
    result = runner.invoke(app, ["-q", "train-head", "--features", str(cache), "--head", "mlp", "--protocol",
                                 "within-half", "--splits", "2", "--epochs", "2", "--out", str(run)])
    assert result.exit_code == 0, result.output
    metrics = json.loads((run / "metrics.json").read_text())
    assert len(metrics["splits"]) == 2 and 0.0 <= metrics["mean"]["top1"] <= 100.0


def test_help_lists_the_plugins_components_beside_the_built_in_ones(plugin):
    def help_text(command: str) -> str:
        result = runner.invoke(app, [command, "--help"], env={"COLUMNS": "400"})
        assert result.exit_code == 0, result.output
        return " ".join(result.output.split())

    extract = help_text("extract")
    assert "Dataset adapter: activitynet, csv, flat, folder, hmdb51," in extract
    assert "Visual backbone: clip-vit-b16, clip-vit-b32, clip-vit-l14, colour-grid, efficientnet-lite0," in extract
    assert "Label-text encoder: char-trigrams, clip, glove-50d, minilm," in extract
    assert "Head: actionclip, aurl, frozen, linear, mlp, objects, rest, ridge" in help_text("train-head")
    assert "Comma-separated heads from actionclip, aurl, frozen, linear, mlp, objects, rest, ridge" in help_text("sweep")


def test_an_unknown_plugin_module_is_a_one_line_error(monkeypatch):
    monkeypatch.setenv("ZSAR_PLUGINS", "no_such_zsar_plugin")
    result = runner.invoke(app, ["cache", "ls", "--cache", "/nonexistent"])
    assert result.exit_code == 2
    assert result.output.strip() == ("error: ZSAR_PLUGINS: cannot import plugin module 'no_such_zsar_plugin' "
                                     "(No module named 'no_such_zsar_plugin'); put it on PYTHONPATH or fix the name")
    with pytest.raises(ZsarError, match="no_such_zsar_plugin"):
        load_plugins()
    assert load_plugins(" , ") == []


def test_a_plugin_head_is_one_registered_class(plugin, structured_cache, tmp_path):
    """Registered once, the example's ``mlp`` head meets the contract, is listed by ``zsar heads``, runs in a sweep."""
    from test_heads_contract import check_head_contract
    from _heads_data import TWELVE_CLASSES
    from zsar.heads.base import heads_in_order

    load_plugins()
    check_head_contract("mlp")
    assert heads_in_order()[-1] == "mlp"  # after the baselines and the built-in heads
    listed = runner.invoke(app, ["heads"])
    assert listed.exit_code == 0 and "mlp: two-layer MLP into the text space (example plugin)" in listed.output
    assert "    hidden             int    default 256" in listed.output
    out = tmp_path / "sweep"
    swept = runner.invoke(app, ["-q", "sweep", "--features", str(structured_cache(TWELVE_CLASSES)), "--out", str(out),
                                "--splits", "1", "--generator", "off", "--transfer", "none", "--no-select",
                                "--steps", "3"])
    assert swept.exit_code == 0, swept.output
    rows = [line.split("|")[1].strip() for line in swept.stdout.splitlines() if line.startswith("| ")][1:]
    assert rows[-1] == "mlp" and "mlp" in (out / "report.md").read_text()
    assert (out / "mlp-generator-off-transfer-none" / "metrics.json").is_file()


def test_a_plugin_protocol_and_a_plugin_measure_are_one_file_each(protocol_and_measure, structured_cache, tmp_path):
    """The protocol's option and measure and the measure's flag show in zsar heads, zsar metrics, the report
    and the sweep table; neither needed an edit in zsar."""
    from _heads_data import TWELVE_CLASSES

    listed = runner.invoke(app, ["heads"])
    assert listed.exit_code == 0, listed.output
    assert ("held-out-fraction: a seeded fraction of one dataset's classes unseen (example plugin) (adds worst-class)"
            in listed.output)
    assert "    unseen_fraction    float  default 0.25" in listed.output
    helped = runner.invoke(app, ["metrics", "--help"], env={"COLUMNS": "200"})
    assert "--median-rank" in helped.output and "Median rank of the true class" in helped.output

    cache, run = structured_cache(TWELVE_CLASSES), tmp_path / "run"
    trained = runner.invoke(app, ["train-head", "--features", str(cache), "--head", "ridge", "--protocol",
                                  "held-out-fraction", "--protocol-opt", "unseen_fraction=0.4", "--splits", "2",
                                  "--no-select", "--out", str(run)])
    assert trained.exit_code == 0, trained.output
    assert trained.stdout.splitlines()[1].split()[:4] == ["split", "top-1", "top-5", "worst_class_top1"]
    saved = json.loads((run / "metrics.json").read_text())
    assert saved["measures"] == ["worst-class"] and all(s["n_classes"] == 5 for s in saved["splits"])
    assert 0 <= saved["mean"]["worst_class_top1"] <= saved["mean"]["top1"]
    bad = runner.invoke(app, ["train-head", "--features", str(cache), "--head", "ridge", "--protocol",
                              "held-out-fraction", "--protocol-opt", "unseen_fraction=2", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "unseen_fraction=2.0: a share, in (0, 1)" in bad.output

    measured = runner.invoke(app, ["metrics", str(run), "--median-rank", "--plots", "--json"])
    assert measured.exit_code == 0, measured.output
    summary = json.loads(measured.stdout)
    assert summary["measures"] == ["median-rank", "worst-class"] and "hubness" not in summary
    assert summary["median_rank"] >= 1 and summary["worst_class_top1"] == pytest.approx(saved["mean"]["worst_class_top1"])
    report = (run / "report.md").read_text()
    assert "## Median rank" in report and "## Worst class" in report and "Median rank: the median" in report

    swept = runner.invoke(app, ["-q", "sweep", "--features", str(cache), "--out", str(tmp_path / "sweep"),
                                "--protocol", "held-out-fraction", "--heads", "ridge,linear", "--splits", "1",
                                "--generator", "off", "--transfer", "none", "--no-select", "--steps", "3"])
    assert swept.exit_code == 0, swept.output
    header = next(line for line in swept.stdout.splitlines() if line.startswith("| head "))
    assert "| median rank |" in header and "| worst class % |" in header


PLUGIN_OF_THE_OTHER_REGISTRIES = '''
import numpy as np
import torch
from torch import nn

from zsar.heads.actionclip import FUSIONS
from zsar.heads.losses import LOSSES, REGRESSION
from zsar.heads.rerank import RERANKERS


@RERANKERS.register("rank-centred", help="scores less their class mean (plugin)")
def rank_centred(scores):
    return np.asarray(scores - scores.mean(axis=0, keepdims=True), dtype=np.float32)


@LOSSES.register("l1", help="mean absolute error (plugin)", tags=(REGRESSION,))
class L1Loss(nn.Module):
    def forward(self, prediction, target):
        return (prediction - target).abs().mean()


@FUSIONS.register("last-frame", help="the last frame's embedding (plugin)")
class LastFrame(nn.Module):
    def __init__(self, dim, frames, config):
        super().__init__()

    def forward(self, frames):
        return frames[:, -1]
'''


def test_a_loss_a_fusion_and_a_reranker_register_from_a_plugin_too(monkeypatch, structured_cache, tmp_path):
    """The registries the example plugins leave out take plugins the same way (README: every registry)."""
    from _heads_data import TWELVE_CLASSES

    (tmp_path / "zsar_other_plugin.py").write_text(PLUGIN_OF_THE_OTHER_REGISTRIES)
    monkeypatch.syspath_prepend(str(tmp_path))
    gen = _plugged(monkeypatch, "zsar_other_plugin")
    next(gen)
    try:
        assert "rank-centred" in " ".join(runner.invoke(app, ["train-head", "--help"], env={"COLUMNS": "300"}).output.split())
        cache = structured_cache(TWELVE_CLASSES)
        for head, option in (("linear", "loss=l1"), ("actionclip", "fusion=last-frame")):
            result = runner.invoke(app, ["-q", "train-head", "--features", str(cache), "--head", head, "--head-opt",
                                         option, "--rerank", "rank-centred", "--protocol", "within-half", "--splits",
                                         "1", "--no-select", "--steps", "3", "--out", str(tmp_path / head)])
            assert result.exit_code == 0, result.output
            config = json.loads((tmp_path / head / "config.json").read_text())
            assert config["rerank"] == "rank-centred" and option.split("=")[1] in config["head_config"].values()
    finally:
        next(gen, None)


def test_a_plugin_that_tags_a_second_baseline_is_a_one_line_error(monkeypatch, structured_cache, tmp_path):
    """Two heads tagged ``baseline``: the sweep says so in one line (not an AssertionError that -O would drop)."""
    from _heads_data import TWELVE_CLASSES

    (tmp_path / "zsar_second_baseline.py").write_text(
        "from zsar.heads.base import BASELINE, HEADS\nfrom zsar.heads.linear import LinearHead\n\n"
        "HEADS.add('my-ridge', LinearHead, help='another baseline (plugin)', tags=(BASELINE,))\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    gen = _plugged(monkeypatch, "zsar_second_baseline")
    next(gen)
    try:
        result = runner.invoke(app, ["-q", "sweep", "--features", str(structured_cache(TWELVE_CLASSES)), "--out",
                                     str(tmp_path / "sweep"), "--heads", "linear", "--splits", "1"])
        assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
        assert result.output.startswith("error: heads tagged 'baseline': ridge, my-ridge; exactly one head may carry")
        assert not (tmp_path / "sweep").exists()  # refused before any run
    finally:
        next(gen, None)
