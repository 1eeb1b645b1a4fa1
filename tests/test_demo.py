"""``zsar demo``: the pipeline on tiny settings (fast), and the real ``--quick`` demo (slow)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from zsar.cli import app
from zsar.demo import PRESETS, DemoConfig, run_demo
from zsar.sweep_table import NUMBER_COLUMNS
from zsar.errors import ZsarError
from zsar.heads.base import head_class, list_heads

TINY = dict(classes=6, per_class=3, splits=2, steps=2, backbone="tiny-random", text_encoder="tiny-random",
            resolution=32, frames=4, clip_frames=8, video_size=64, workers=0)


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    return run_demo(DemoConfig(out=out, quick=True, **TINY), lines.append), lines, out


def test_a_row_per_head_generator_and_transfer(tiny_demo):
    result, _, _ = tiny_demo
    heads = [h for h in list_heads() if not head_class(h).needs_shared_space]  # the demo's cache has no shared space
    keys = [(r.head, r.variant.label, r.generator, r.transfer) for r in result.rows]
    variants = {h: ["-"] for h in heads} | {"rest": ["mode=joint", "mode=dual"]}  # ResT joint beside dual
    assert sorted(keys) == sorted((h, v, g, t) for h in heads for v in variants[h] for g in (False, True)
                                  for t in ("none", "semantic"))
    for row in result.rows:
        runs = head_class(row.head).has_centres or not row.generator
        assert row.ran == runs, row
        if runs:
            numbers = [row.top1, row.top1_std, row.chance, row.skewness, row.closeness, row.dispersion]
            assert all(math.isfinite(v) for v in numbers), row
            assert 0 <= row.top1 <= 100 and row.chance == pytest.approx(100 / 3)  # 3 of 6 classes unseen
            assert (row.run / "metrics.json").is_file() and len(list(row.run.glob("split-*/embeddings.h5"))) == 2


def test_one_table_with_every_row(tiny_demo):
    result, lines, _ = tiny_demo
    table = result.table.splitlines()
    assert [c.strip() for c in table[0].strip("|").split("|")] == ["head", "options", "generator", "transfer",
                                                                   *NUMBER_COLUMNS]
    assert table[2].startswith("| ridge ") and result.rows[0].is_baseline  # the baseline row first
    assert len(table) == 2 + len(result.rows)
    for line, row in zip(table[2:], result.rows):
        head, options, *cells = [c.strip() for c in line.strip("|").split("|")]
        assert [head, options] == [row.head, row.variant.label]
        assert cells[:2] == ["on" if row.generator else "off", row.transfer]
        cells = [head, *cells]
        if row.ran:
            assert re.fullmatch(r"\d+\.\d ± \d+\.\d", cells[3]) and float(cells[4]) == pytest.approx(33.3)
            baseline = result.rows[0].top1
            assert cells[5] == ("-" if not baseline else f"{row.top1 / baseline:.2f}")
            assert re.fullmatch(r"[0-2]/2", cells[6]) or (row.is_baseline and cells[6] == "-")  # paired, 2 splits
            assert cells[7] == row.selected == "-"  # 3 seen classes: too few to hold any out
        else:
            assert cells[3:] == ["-"] * 8
    assert result.table in "\n".join(lines)  # printed through echo
    assert [line[:5] for line in lines if line.startswith("[")] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]


def test_report_shows_the_table_and_the_best_runs_plots(tiny_demo):
    result, _, out = tiny_demo
    assert result.report == out / "report.md"
    text = result.report.read_text()
    assert result.table in text and f"## The best run: {result.best.label}" in text
    assert "## What selection chose, per split" in text and "| ridge, generator off, transfer none | 0 | - |" in text
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert images and all((out / p).is_file() for p in images)
    assert any("confusion_matrix" in p for p in images) and any("hubness_k1" in p for p in images)
    assert result.best.top1 == max(r.top1 for r in result.rows if r.ran)


def test_running_again_reuses_the_clips_cache_and_runs(tiny_demo):
    result, _, out = tiny_demo
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("runs/quick/*/split-*/checkpoint.pt")}
    lines: list[str] = []
    again = run_demo(DemoConfig(out=out, quick=True, **TINY), lines.append)
    assert any(line.strip().startswith("0 clip(s) extracted, 18 already in the cache") for line in lines)
    assert again.table == result.table
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # no run retrained


def test_a_run_with_other_settings_is_started_again(tmp_path):
    tiny = {**TINY, "heads": ("linear",)}
    first = run_demo(DemoConfig(out=tmp_path, quick=True, **tiny), lambda line: None)
    checkpoint = first.rows[0].run / "split-0" / "checkpoint.pt"
    before = checkpoint.stat().st_mtime_ns
    again = run_demo(DemoConfig(out=tmp_path, quick=True, **{**tiny, "steps": 3}), lambda line: None)
    assert [r.head for r in again.rows] == ["linear"] * 4 and again.rows[0].run == first.rows[0].run
    assert checkpoint.stat().st_mtime_ns != before
    assert json.loads((again.rows[0].run / "config.json").read_text())["train"]["steps"] == 3


def test_presets_and_bad_settings():
    full, quick = DemoConfig(), DemoConfig(quick=True)
    assert (full.classes, full.per_class, full.splits) == (39, 20, 5) and full.steps is None  # train-head's budget
    assert quick.per_class < full.per_class and quick.splits <= full.splits
    assert set(PRESETS["full"]) == {"classes", "per_class", "splits"}  # no training settings of its own
    assert DemoConfig(quick=True, splits=2).splits == 2
    assert full.data_dir != quick.data_dir and full.runs_dir != quick.runs_dir
    with pytest.raises(ZsarError, match="splits 0"):
        DemoConfig(splits=0)


def test_cli_demo_refuses_a_bad_out_in_one_line(tmp_path):
    out = tmp_path / "taken"
    (out / "synthetic-39x6").mkdir(parents=True)
    (out / "synthetic-39x6" / "other.txt").write_text("x")
    result = CliRunner().invoke(app, ["demo", "--out", str(out), "--quick"])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith(f"error: {out / 'synthetic-39x6'} exists and is not")


@pytest.mark.slow
def test_the_quick_demo_is_clearly_above_chance(tmp_path):
    lines: list[str] = []
    result = run_demo(DemoConfig(out=Path(tmp_path), quick=True), lines.append)
    best = result.best
    assert best.chance == pytest.approx(100 / 19)
    assert best.top1 > 2 * best.chance, result.table
    assert sum(r.ran and r.top1 > 1.5 * r.chance for r in result.rows) >= len([r for r in result.rows if r.ran]) // 2
