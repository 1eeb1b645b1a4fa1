"""``zsar demo``: the pipeline on tiny settings (fast), the ``--full`` grid, and the real demo (slow)."""

from __future__ import annotations

import importlib.util
import json
import math
import re
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from zsar.cli import app
from zsar.sweep.demo import PRESETS, DemoConfig, default_row, demo_rows, run_demo
from zsar.doc_sections import read_section
from zsar.errors import ZsarError
from zsar.heads.base import HEADS, head_class, head_config
from zsar.sweep.table import NUMBER_COLUMNS

TINY = dict(classes=6, per_class=3, splits=2, steps=2, backbone="tiny-random", text_encoder="tiny-random",
            resolution=32, frames=4, clip_frames=8, video_size=64, workers=0, threads=1, jobs=1)
DEMO_KEYS = [("ridge", False, "none"), ("ridge", False, "semantic"), ("linear", False, "none"),
             ("actionclip", False, "none"), ("aurl", True, "none"), ("aurl", False, "none"), ("rest", False, "semantic")]


@pytest.fixture(autouse=True)
def keep_threads():
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def tiny_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo")
    lines: list[str] = []
    return run_demo(DemoConfig(out=out, **TINY), lines.append), lines, out


def test_each_head_once_with_its_defaults_and_the_two_switched_ideas(tiny_demo):
    result, lines, _ = tiny_demo
    assert [(r.head, r.generator, r.transfer) for r in result.rows] == DEMO_KEYS
    defaults = [(r.head, r.generator, r.transfer) for r in map(default_row, ["ridge", "linear", "actionclip", "aurl",
                                                                           "rest"])]
    assert defaults == [k for k in DEMO_KEYS if k not in {("ridge", False, "semantic"), ("aurl", False, "none")}]
    assert all(r.ran and not r.variant.items for r in result.rows)  # no empty rows, no head options
    for row in result.rows:
        numbers = [row.top1, row.top1_std, row.chance] + [float(row.cells[c]) for c in ("N_1 skewness", "closeness",
                                                                                        "dispersion")]
        assert all(math.isfinite(v) for v in numbers), row
        assert 0 <= row.top1 <= 100 and row.chance == pytest.approx(100 / 3)  # 3 of 6 classes unseen
        assert (row.run / "metrics.json").is_file() and len(list(row.run.glob("split-*/embeddings.h5"))) == 2
        config = json.loads((row.run / "config.json").read_text())
        defaults = {k: v for k, v in asdict(head_config(row.head)).items() if k != "generator"}
        assert config["train"]["steps"] == 2 and config["head"] == row.head
        assert {k: v for k, v in config["head_config"].items() if k != "generator"} == defaults  # the head's own
    assert any(line.strip().startswith("no frozen row: the `frozen` baseline") for line in lines)


def test_demo_rows_follow_the_heads_asked_for():
    assert [(r.head, r.generator) for r in demo_rows(["aurl"])] == [("aurl", True), ("aurl", False)]
    assert [(r.head, r.transfer) for r in demo_rows(["linear", "rest"])] == [("linear", "none"), ("rest", "semantic")]
    assert DemoConfig().demo_heads[0] == "ridge" and set(DemoConfig().demo_heads) <= set(HEADS.names())
    # the training-free objects row where the backbone keeps its ImageNet classifier, and only there
    assert DemoConfig().demo_heads[:2] == ["ridge", "objects"] and "objects" not in DemoConfig(**TINY).demo_heads


def test_one_compact_table_with_every_row(tiny_demo):
    result, lines, _ = tiny_demo
    table = result.table.splitlines()
    assert [c.strip() for c in table[0].strip("|").split("|")] == ["head", "generator", "transfer", *NUMBER_COLUMNS,
                                                                   "N_1 skewness", "closeness", "dispersion"]
    assert table[2].startswith("| ridge ") and result.rows[0].is_baseline  # the baseline row first
    assert len(table) == 2 + len(result.rows)
    for line, row in zip(table[2:], result.rows):
        head, *cells = [c.strip() for c in line.strip("|").split("|")]
        assert head == row.head and cells[:2] == ["on" if row.generator else "off", row.transfer]
        assert re.fullmatch(r"\d+\.\d ± \d+\.\d", cells[2]) and float(cells[3]) == pytest.approx(33.3)
        assert cells[4] == f"{row.top1 / result.rows[0].top1:.2f}" if result.rows[0].top1 else cells[4] == "-"
        assert re.fullmatch(r"[0-2]/2", cells[5]) or (row.is_baseline and cells[5] == "-")  # paired, 2 splits
        assert re.fullmatch(r"0\.5|1", cells[6]) or (row.is_baseline and cells[6] == "-")  # 2 splits: p >= 0.5
        assert cells[7] == row.selected == "-"  # 3 seen classes: too few to hold any out
    assert result.table in "\n".join(lines)  # printed through echo
    assert [line[:5] for line in lines if line.startswith("[")] == ["[1/4]", "[2/4]", "[3/4]", "[4/4]"]
    assert re.match(r"time: \d+ s \(\d+\.\d min; render \d+ s, extract \d+ s, train \+ metrics \d+ s\)", lines[-2])


def test_the_demo_saves_its_page_section_and_make_docs_puts_it_into_the_page(tiny_demo, tmp_path):
    spec = importlib.util.spec_from_file_location("gen_docs", Path(__file__).parent.parent / "tools" / "gen_docs.py")
    gen_docs = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gen_docs)
    demo_markdown = gen_docs.demo_markdown
    result, lines, out = tiny_demo
    saved = out / "page-demo.md"
    assert lines[-1] == f"wrote {saved} (`make docs` copies it into docs/demo.md)"
    section = saved.read_text()
    assert result.table in section and "time: " in section and "load average" in section
    assert section.startswith("`zsar demo` (6 actions x 3 clips, 2 splits), written by the run itself on ")
    page = "# by hand\n\n<!-- BEGIN demo (generated: do not edit by hand) -->\nold\n<!-- END demo -->\nkept\n"
    text = demo_markdown(page, out)
    assert text.startswith("# by hand\n") and text.endswith("kept\n") and "old" not in text
    assert read_section(text, "demo") == section.strip() and text.count("<!-- BEGIN demo ") == 1
    assert demo_markdown(page, tmp_path) == page  # no saved section: the page is kept as it is


def test_report_shows_the_table_and_the_best_runs_plots(tiny_demo):
    result, _, out = tiny_demo
    assert result.report == out / "report.md"
    text = result.report.read_text()
    assert result.table in text and f"## The best run: {result.best.label}" in text
    assert "## What selection chose, per split" in text and "| ridge, generator off, transfer none | 0 | - |" in text
    assert "There is no `frozen` row" in text
    images = re.findall(r"!\[[^]]*\]\(([^)]+)\)", text)
    assert images and all((out / p).is_file() for p in images)
    assert any("confusion_matrix" in p for p in images) and any("hubness_k1" in p for p in images)
    assert result.best.top1 == max(r.top1 for r in result.rows if r.ran)


def test_running_again_reuses_the_clips_cache_and_runs(tiny_demo):
    result, _, out = tiny_demo
    mtimes = {p: p.stat().st_mtime_ns for p in out.glob("runs/demo/*/split-*/checkpoint.pt")}
    assert len(mtimes) == 2 * len(DEMO_KEYS)
    page = (out / "page-demo.md").read_text()
    lines: list[str] = []
    again = run_demo(DemoConfig(out=out, **TINY), lines.append)
    assert any(line.strip().startswith("0 clip(s) rendered, 18 already there") for line in lines)
    assert any(line.strip().startswith("0 clip(s) extracted, 18 already in the cache") for line in lines)
    assert again.table == result.table and again.reused and not result.reused
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes  # no run retrained
    assert lines[-1].startswith(f"reused everything in {out}: the clips, the cache and all 7 runs; nothing was "
                                "computed now, so no time is given")
    assert not any(line.startswith("time: ") for line in lines)  # no time is claimed for work not done
    assert (out / "page-demo.md").read_text() == page  # the saved section keeps the run that did the work


def test_two_jobs_give_the_same_table(tiny_demo, tmp_path):
    result, _, out = tiny_demo
    tiny = {**TINY, "heads": ("ridge", "linear"), "jobs": 2}
    lines: list[str] = []
    two = run_demo(DemoConfig(out=tmp_path, **tiny), lines.append)
    assert [r.name for r in two.rows] == [r.name for r in result.rows[:3]]
    assert [r.split_top1 for r in two.rows] == [r.split_top1 for r in result.rows[:3]]  # one thread each, same numbers
    runs = [line.split()[0] for line in lines if line.startswith("      ") and "top-1" in line]
    assert sorted(runs) == sorted(r.name for r in two.rows)  # each reported once, as it finishes


def test_full_keeps_the_whole_grid(tmp_path):
    heads = ["ridge", "aurl", "rest"]
    result = run_demo(DemoConfig(out=tmp_path, full=True, **{**TINY, "heads": tuple(heads), "splits": 1}),
                      lambda line: None)
    keys = [(r.head, r.variant.label, r.generator, r.transfer) for r in result.rows]
    variants = {"ridge": ["-"], "aurl": ["-"], "rest": ["mode=joint", "mode=dual"]}  # ResT joint beside dual
    assert keys == [(h, v, g, t) for h in heads for v in variants[h] for g in (False, True) for t in ("none", "semantic")]
    for row in result.rows:
        assert row.ran == (head_class(row.head).has_centres or not row.generator), row
    assert result.rows[0].run.parent == tmp_path / "runs" / "full"
    header = [c.strip() for c in result.table.splitlines()[0].strip("|").split("|")]
    assert header[:4] == ["head", "options", "generator", "transfer"]
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in result.table.splitlines()[2:]]
    assert [c[:3] for c in cells if set(c[4:]) == {"-"}] == [["ridge", "-", "on"]] * 2  # ridge can't run a generator


def test_a_run_with_other_settings_is_started_again(tmp_path):
    tiny = {**TINY, "heads": ("linear",)}
    first = run_demo(DemoConfig(out=tmp_path, **tiny), lambda line: None)
    checkpoint = first.rows[0].run / "split-0" / "checkpoint.pt"
    before = checkpoint.stat().st_mtime_ns
    again = run_demo(DemoConfig(out=tmp_path, **{**tiny, "steps": 3}), lambda line: None)
    assert [r.head for r in again.rows] == ["linear"] and again.rows[0].run == first.rows[0].run
    assert checkpoint.stat().st_mtime_ns != before
    assert json.loads((again.rows[0].run / "config.json").read_text())["train"]["steps"] == 3


def test_presets_and_bad_settings():
    demo, full = DemoConfig(), DemoConfig(full=True)
    assert (full.classes, full.per_class, full.splits) == (39, 20, 5) and full.steps is None  # train-head's budget
    assert demo.classes == 39 and demo.per_class < full.per_class and 3 <= demo.splits <= full.splits
    assert set(PRESETS["full"]) == set(PRESETS["demo"]) == {"classes", "per_class", "splits"}  # no training settings
    assert DemoConfig(splits=2).splits == 2 and DemoConfig(jobs=None).jobs >= 1
    assert full.data_dir != demo.data_dir and full.runs_dir != demo.runs_dir
    with pytest.raises(ZsarError, match="splits 0"):
        DemoConfig(splits=0)
    with pytest.raises(ZsarError, match="jobs 0"):
        DemoConfig(jobs=0)


def test_cli_demo_refuses_a_bad_out_in_one_line(tmp_path):
    out = tmp_path / "taken"
    name = f"synthetic-39x{PRESETS['demo']['per_class']}"
    (out / name).mkdir(parents=True)
    (out / name / "other.txt").write_text("x")
    result = CliRunner().invoke(app, ["demo", "--out", str(out)])
    assert result.exit_code == 2
    assert result.output.strip().splitlines()[-1].startswith(f"error: {out / name} exists and is not")


@pytest.mark.slow
def test_the_demo_is_clearly_above_chance(tmp_path):
    lines: list[str] = []
    result = run_demo(DemoConfig(out=Path(tmp_path)), lines.append)
    best = result.best
    assert best.chance == pytest.approx(100 / 19)
    assert best.top1 > 2 * best.chance, result.table
    assert sum(r.top1 > 1.5 * r.chance for r in result.rows) >= len(result.rows) // 2
