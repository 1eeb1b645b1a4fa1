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


@pytest.fixture
def plugin(monkeypatch):
    """The example plugin on the path and in ZSAR_PLUGINS; its registrations are undone afterwards."""
    from zsar.extract.models.backbones import BACKBONES
    from zsar.extract.datasets import DATASETS
    from zsar.extract.models.text_encoders import TEXT_ENCODERS
    from zsar.heads.base import HEADS, list_heads

    list_heads()  # import the built-in heads first, so only the plugin's entries are undone
    registries = (DATASETS, BACKBONES, TEXT_ENCODERS, HEADS)
    saved = [dict(r._entries) for r in registries]
    monkeypatch.syspath_prepend(str(EXAMPLES))
    monkeypatch.setenv("ZSAR_PLUGINS", "zsar_plugin_example")
    yield
    for registry, entries in zip(registries, saved):
        registry._entries.clear()
        registry._entries.update(entries)
    sys.modules.pop("zsar_plugin_example", None)


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

