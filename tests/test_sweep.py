"""``zsar sweep``: the grid, the baseline row, reuse of finished runs, the CLI."""

import re
from dataclasses import replace

import pytest
import torch
from typer.testing import CliRunner

from zsar.cli import app
from zsar.errors import ZsarError
from zsar.heads.train import TrainConfig
from zsar.sweep import SweepConfig, parse_head_grid, run_sweep
from zsar.sweep.table import SweepRow, format_table, paired_p_value, paired_wins, summarise_selected
from _heads_data import TWELVE_CLASSES

pytestmark = pytest.mark.usefixtures("single_thread")

runner = CliRunner()
SMALL = TWELVE_CLASSES


@pytest.fixture
def cache(structured_cache):
    return structured_cache(SMALL)


@pytest.fixture(scope="module")
def swept(structured_cache, tmp_path_factory):
    cache = structured_cache(SMALL)
    torch.set_num_threads(1)  # module fixtures run before the autouse one; two threads spin on a busy machine
    out = tmp_path_factory.mktemp("sweep")
    config = SweepConfig(features=cache, out=out, splits=2, heads=("ridge", "linear", "aurl"), generators=(False,),
                         transfers=("none",), reranks=("none", "csls"),
                         head_grid=parse_head_grid(["linear.loss=cosine,mse"]), train=TrainConfig(steps=6))
    lines: list[str] = []
    return config, run_sweep(config, lines.append), lines


def test_the_grid_has_a_row_per_point_and_the_baseline_first(swept):
    config, result, lines = swept
    names = [r.name for r in result.rows]
    assert names == ["ridge-generator-off-transfer-none", "ridge-generator-off-transfer-none-rerank-csls",
                     "linear-loss-cosine-generator-off-transfer-none",
                     "linear-loss-cosine-generator-off-transfer-none-rerank-csls",
                     "linear-loss-mse-generator-off-transfer-none", "linear-loss-mse-generator-off-transfer-none-rerank-csls",
                     "aurl-generator-off-transfer-none", "aurl-generator-off-transfer-none-rerank-csls"]
    assert result.baseline is result.rows[0] and all(r.ran for r in result.rows)
    assert all((config.out / n / "metrics.json").is_file() for n in names)
    assert len(lines) == len(names)  # one progress line per run


def test_the_table_shows_options_rerank_ratio_and_selection(swept):
    _, result, _ = swept
    table = result.table.splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header == ["head", "options", "generator", "transfer", "re-rank", "top-1 %", "chance %", "x ridge",
                      "> ridge", "p vs ridge", "selected", "N_1 skewness", "closeness", "dispersion"]
    first = [c.strip() for c in table[2].strip("|").split("|")]
    assert first[:5] == ["ridge", "-", "off", "none", "none"] and first[7] == "1.00" and first[8:10] == ["-", "-"]
    assert re.fullmatch(r"alpha [0-9e.+-]+(-[0-9e.+-]+)?", first[10])
    mse = [c.strip() for c in table[6].strip("|").split("|")]
    assert mse[1] == "loss=mse" and float(mse[7]) == pytest.approx(result.rows[4].top1 / result.rows[0].top1, abs=0.01)
    ridge_splits, mse_splits = result.rows[0].split_top1, result.rows[4].split_top1
    wins = sum(top1 > dict(ridge_splits)[split] for split, top1 in mse_splits)
    assert [split for split, _ in mse_splits] == [0, 1] and mse[8] == f"{wins}/2"
    assert 0.5 <= float(mse[9]) <= 1  # two splits: no paired test goes below 2 / 2^2
    assert mse[10].startswith("lr ") and ", steps " in mse[10]
    report = result.report.read_text()
    assert result.table in report and "## What selection chose, per split" in report
    assert "| linear, loss=mse, generator off, transfer none, re-rank csls | 1 | lr " in report


def test_a_second_sweep_reuses_every_finished_run(swept):
    config, result, _ = swept
    mtimes = {p: p.stat().st_mtime_ns for p in config.out.glob("*/split-*/checkpoint.pt")}
    again = run_sweep(config, lambda line: None)
    assert again.table == result.table
    assert {p: p.stat().st_mtime_ns for p in mtimes} == mtimes


def test_paired_wins_count_splits_where_a_row_beats_the_baseline_on_the_same_split():
    ridge = SweepRow(head="ridge", generator=False, transfer="none", top1=20.0, split_top1=((0, 20.0), (1, 18.0), (2,
                                                                                                                   22.0)))
    head = SweepRow(head="aurl", generator=True, transfer="none", top1=20.3, split_top1=((2, 22.1), (0, 21.0), (1,
                                                                                                                18.0)))
    assert paired_wins(head, ridge) == "2/3"  # paired by split id; a tie is not a win
    assert paired_wins(replace(head, split_top1=((0, 19.0), (1, 19.0), (2, 23.0))), ridge) == "2/3"
    assert paired_wins(ridge, ridge) == "-" and paired_wins(head, None) == "-"
    assert paired_wins(replace(head, split_top1=((0, 21.0),)), ridge) == "-"  # other splits: no pairs
    assert paired_wins(replace(head, split_top1=((0, 21.0), (1, 19.0), (3, 30.0))), ridge) == "-"


def test_the_p_column_pairs_splits_and_is_1_for_a_row_equal_to_the_baseline():
    splits = ((0, 20.0), (1, 18.0), (2, 22.0))
    ridge = SweepRow(head="ridge", generator=False, transfer="none", top1=20.0, top1_std=1.6, chance=5.0,
                     split_top1=splits)
    same = replace(ridge, head="linear")  # another head, equal to the baseline on every split
    better = replace(ridge, head="aurl", top1=25.0, split_top1=((0, 25.0), (1, 23.0), (2, 27.0)))
    table = format_table([ridge, same, better]).splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    column = header.index("p vs ridge")
    assert column == header.index("> ridge") + 1
    cells = [[c.strip() for c in line.strip("|").split("|")][column] for line in table[2:]]
    assert cells == ["-", "1", "0.25"]  # the baseline itself, equal (p >= 0.05), better on all 3 splits
    assert paired_p_value(replace(better, split_top1=((0, 25.0), (5, 30.0), (2, 27.0))), ridge) == "-"


def test_head_grid_parsing_and_errors():
    assert parse_head_grid(["actionclip.fusion=mean,transformer", "actionclip.layers=1,2"]) == {
        "actionclip": {"fusion": ("mean", "transformer"), "layers": ("1", "2")}}
    with pytest.raises(ZsarError, match="write HEAD.KEY=VALUE"):
        parse_head_grid(["fusion=mean"])
    with pytest.raises(ZsarError, match="head 'aurl' has no option 'fusion'; valid keys"):
        parse_head_grid(["aurl.fusion=mean"])
    with pytest.raises(ZsarError, match="unknown head 'mlp'"):
        parse_head_grid(["mlp.width=3"])
    assert summarise_selected([{"lr": 0.01, "steps": 33}, {"lr": 0.003, "steps": 150}, None]) == \
        "lr 0.003-0.01, steps 33-150"
    assert summarise_selected([None, None]) == "-"


def test_cli_sweep_prints_the_table_and_refuses_bad_values(cache, tmp_path):
    result = runner.invoke(app, ["sweep", "--features", str(cache), "--out", str(tmp_path / "s"), "--heads",
                                 "ridge,linear", "--generator", "off", "--transfer", "none,semantic", "--splits", "1",
                                 "--steps", "4"])
    assert result.exit_code == 0, result.output
    assert "| ridge " in result.stdout and "best: " in result.stdout and "x ridge" in result.stdout
    bad = runner.invoke(app, ["sweep", "--features", str(cache), "--out", str(tmp_path / "t"), "--generator", "maybe"])
    assert bad.exit_code == 2 and bad.output == "error: --generator 'maybe': give off, on or off,on\n"
    assert runner.invoke(app, ["sweep", "--help"]).exit_code == 0


def test_a_shared_space_sweep_has_the_frozen_row_first_and_an_x_frozen_column(tmp_path, cache):
    from zsar.sweep.grid import default_heads
    from zsar.testing import SharedSpaceConfig, write_shared_space_cache

    write_shared_space_cache(tmp_path / "shared", SharedSpaceConfig(classes=12, videos=144, dim=8))
    assert default_heads(SweepConfig(features=tmp_path / "shared", out=tmp_path))[:2] == ["frozen", "ridge"]
    assert "frozen" not in default_heads(SweepConfig(features=cache, out=tmp_path))  # no shared space
    config = SweepConfig(features=tmp_path / "shared", out=tmp_path / "out", splits=2, heads=("frozen", "ridge"),
                         generators=(False,), transfers=("none",))
    result = run_sweep(config, lambda line: None)
    table = result.table.splitlines()
    header = [c.strip() for c in table[0].strip("|").split("|")]
    assert header[3:10] == ["top-1 %", "chance %", "x ridge", "> ridge", "p vs ridge", "x frozen", "selected"]
    frozen, ridge = ([c.strip() for c in line.strip("|").split("|")] for line in table[2:4])
    assert frozen[0] == "frozen" and frozen[8] == "1.00" and re.fullmatch(r"[0-2]/2", frozen[6])
    assert frozen[9] == "-" and ridge[0] == "ridge" and ridge[5] == "1.00"  # frozen selects nothing
    assert float(ridge[8]) == pytest.approx(result.rows[1].top1 / result.rows[0].top1, abs=0.01)
    assert "x frozen" in result.report.read_text()
