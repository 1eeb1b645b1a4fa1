"""``zsar reproduce``: the published rows, the plan, the in-process runner, the verdicts and the dry run.

The dry run writes its stand-in (a random-weight CLIP and the real UCF101 class names in
UCF101's layout) under the test's folder; the plan test runs the printed bash script on that
stand-in and checks it gives the run the in-process runner gave, from the same cache.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
import typer.main
from typer.testing import CliRunner

from zsar.runs.files import RunConfig, RunLayout, RunMetrics, SplitRecord, write_run_config, write_run_metrics
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.reproduce import Inputs, compare, load_rows, plan_rows, reproducible_rows, select_rows, verdict
from zsar.reproduce.plan import Ref
from zsar.reproduce.rows import TABLE, Number, parse_rows
from zsar.testing import dummy_run_config

pytestmark = pytest.mark.usefixtures("single_thread")
REPO = Path(__file__).resolve().parent.parent
ROW = "frozen-clip-b16-ucf101"
runner = CliRunner()


def test_list_shows_the_reproducible_rows_with_sources_numbers_and_recipes():
    result = runner.invoke(app, ["reproduce", "list"])
    assert result.exit_code == 0, result.output
    blocks = result.output.strip().split("\n\n")
    assert len(blocks) == len(reproducible_rows()) >= 8
    for block in blocks:
        assert re.search(r"(?m)^  source     https://\S+ \((verified|NOT verified)", block), block
        for label in ("published", "number", "checked", "protocol", "recipe", "zsar", "differs"):
            assert re.search(rf"(?m)^  {label} ", block), (label, block)
    ucf = next(b for b in blocks if b.startswith(ROW + "\n"))
    assert "top-1 73.8 ± 0.6 (band 73.2 to 74.4)" in ucf and "FROSTER" in ucf and "prompts froster" in ucf
    assert "8 frames at stride 16 (dense), 3 view(s)" in ucf and "pooling normalised-mean" in ucf


def test_the_table_states_each_row_once_with_an_openable_source():
    rows = load_rows()
    assert len({r.id for r in rows}) == len(rows) and all(r.source.startswith("https://") for r in rows)
    assert not any("/work/" in r.source or "/work/" in r.checked for r in rows)  # no local paths
    b2n = {r.id: [n.text for n in r.numbers] for r in rows if r.id.startswith("frozen-clip-b16-b2n-")}
    assert b2n == {"frozen-clip-b16-b2n-k400": ["62.3", "53.4", "57.5"], "frozen-clip-b16-b2n-hmdb51": ["53.3", "46.8", "49.8"],
                   "frozen-clip-b16-b2n-ucf101": ["78.5", "63.6", "70.3"], "frozen-clip-b16-b2n-ssv2": ["4.9", "5.3", "5.1"]}
    assert all(r.is_verified for r in rows if r.id.startswith("frozen-clip-b16-b2n-"))  # FROSTER's README has them
    mote = [r for r in rows if r.id.startswith("mote-b16-")]
    assert [n.text for r in mote for n in r.numbers] == ["83.4", "55.8", "70.2"] and all(r.is_verified for r in mote)
    assert not any(r.is_verified for r in rows if r.id.startswith("vifi-vanilla-"))  # no README or code states them
    for row in reproducible_rows():  # every number has a band: the published ± or a stated, justified one
        assert all(n.band is not None for n in row.numbers) and row.band_why, row.id


def test_a_broken_row_is_one_error_naming_it():
    text = TABLE.read_text(encoding="utf-8")
    header, first = text.splitlines()[:2]
    with pytest.raises(ZsarError, match=f"row {ROW}: prompts 'nope' is not one of"):
        parse_rows("\n".join([header, first.replace(",froster,", ",nope,")]))
    no_pm = first.replace("73.8 ± 0.6", "73.8")
    with pytest.raises(ZsarError, match=f"row {ROW}: a number without a published ± needs a band"):
        parse_rows("\n".join([header, no_pm]))
    with pytest.raises(ZsarError, match="appears twice"):
        parse_rows("\n".join([header, first, first]))
    with pytest.raises(ZsarError, match="unknown row 'xclip-b16-ucf101' \\(a published row zsar cannot run"):
        select_rows(["xclip-b16-ucf101"])


def test_verdicts_against_the_band():
    number = Number(metric="top1", value=73.8, published=0.6, band=0.6, text="73.8 ± 0.6")
    assert [verdict(number, x) for x in (73.8, 73.2, 74.4, 74.5, 73.1, None)] == \
        ["within the band", "within the band", "within the band", "above", "below", "not run"]


def _run(folder: Path, split_top1: list[float]) -> None:
    layout = RunLayout(folder)
    folder.mkdir(parents=True)
    write_run_config(layout, dummy_run_config(head="frozen", protocol="official", splits=3))
    records = tuple(SplitRecord(split=i + 1, top1=t, top5=0.0, n_test=10, n_classes=5) for i, t in enumerate(split_top1))
    mean = sum(split_top1) / 3
    std = (sum((t - mean) ** 2 for t in split_top1) / 3) ** 0.5
    write_run_metrics(layout, RunMetrics(protocol="official", head="frozen", splits=records, mean={"top1": mean},
                                         std={"top1": std}))


def test_compare_reads_the_runs_and_pairs_a_row_with_its_baseline(tmp_path):
    _run(tmp_path / "frozen-clip-b16-ucf101", [73.0, 74.0, 74.5])
    _run(tmp_path / "vifi-vanilla-clip-b16-ucf101", [62.0, 63.0, 70.0])
    rows = select_rows(["frozen-clip-b16-ucf101", "vifi-vanilla-clip-b16-ucf101", "frozen-clip-b16-hmdb51"])
    frozen, vanilla, hmdb = compare(rows, tmp_path)
    assert (round(frozen.ours, 2), frozen.verdict, frozen.p) == (73.83, "within the band", "-")
    assert vanilla.verdict == "above" and (vanilla.wins, vanilla.p) == ("0/3", "0.25")  # below frozen on all 3 splits
    assert hmdb.verdict == "not run" and hmdb.ours is None


def test_plan_needs_the_roots_its_rows_read_and_every_command_parses(tmp_path):
    result = runner.invoke(app, ["reproduce", "actionclip-b16-ucf101", "--plan", "--root-ucf101", str(tmp_path)])
    assert result.exit_code == 2 and result.output == \
        "error: row actionclip-b16-ucf101 needs kinetics400 videos: pass --root-k400 DIR\n"
    roots = {d: tmp_path / d for d in ("ucf101", "hmdb51", "kinetics400", "kinetics600")}
    plan = plan_rows(reproducible_rows(), Inputs(roots=roots, out=tmp_path / "out", weights=tmp_path / "clip"))
    command = typer.main.get_command(app)
    ctx = command.context_class(command, info_name="zsar")
    for step in plan.steps:
        argv = [str(tmp_path) if isinstance(t, Ref) else t for t in step.argv]
        command.get_command(ctx, argv[0]).make_context(argv[0], argv[1:], resilient_parsing=False)
    extracts = [s for s in plan.steps if s.binds]
    assert len({s.argv for s in extracts}) == len(extracts)  # a cache extracted once per prompt set
    assert len(plan.steps) - len(extracts) == len(reproducible_rows())  # one train-head per row
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def dry(tmp_path_factory):
    out = tmp_path_factory.mktemp("reproduce") / "dry"
    result = runner.invoke(app, ["reproduce", ROW, "--dry", "--out", str(out)])
    return out, result


def test_a_dry_run_runs_every_step_and_is_honest_about_random_weights(dry):
    out, result = dry
    assert result.exit_code == 0, result.output
    assert result.output.startswith(f"dry run on a stand-in in {out / 'standin'}: random-weight CLIP")
    assert "[1/2] zsar extract --dataset ucf101" in result.output and "[2/2] zsar train-head" in result.output
    table = [line for line in result.output.splitlines() if line.startswith(f"| {ROW} ")]
    cells = [c.strip() for c in table[0].strip("|").split("|")]
    assert cells[1:4] == ["top-1", "73.8 ± 0.6", "73.2 to 74.4"] and cells[5] == "below"
    assert float(cells[4].split(" ± ")[0]) < 10  # random weights: near chance (1 %), far out of band
    ucf = out / "standin" / "ucf101"
    assert (ucf / "UCF-101" / "ApplyEyeMakeup" / "v_ApplyEyeMakeup_g01_c01.avi").is_file()
    assert (ucf / "ucfTrainTestlist" / "classInd.txt").read_text().count("\n") == 101
    metrics = json.loads((out / "runs" / ROW / "metrics.json").read_text())
    assert [s["split"] for s in metrics["splits"]] == [1, 2, 3] and metrics["splits"][0]["n_classes"] == 101
    report = (out / "report.md").read_text()
    assert "73.8 ± 0.6" in report and "below" in report and "## The commands" in report


def _zsar_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}


def test_the_printed_plan_runs_on_the_stand_in_and_gives_the_runners_run(dry, tmp_path):
    out, _ = dry
    flags = ["--root-ucf101", str(out / "standin" / "ucf101"), "--weights", str(out / "standin" / "clip"),
             "--cache", str(out / "cache"), "--out", str(tmp_path / "bash")]
    before = sorted(p.relative_to(out) for p in out.rglob("*"))
    printed = runner.invoke(app, ["reproduce", ROW, "--plan", *flags])
    assert printed.exit_code == 0, printed.output
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before and not (tmp_path / "bash").exists()
    zsar = f"zsar() {{ {shlex.quote(sys.executable)} -m zsar \"$@\"; }}\n"
    script = printed.output.replace("set -euo pipefail\n", "set -euo pipefail\n" + zsar)
    done = subprocess.run(["bash", "-c", script], capture_output=True, text=True, env=_zsar_env(), timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    [cache_line] = [line for line in done.stderr.splitlines() if line.startswith("videos:")]
    assert "0 ok, 0 failed, 101 already in the cache" in cache_line  # the plan's extraction is the dry run's cache
    runs = {name: tmp / "runs" / ROW for name, tmp in (("bash", tmp_path / "bash"), ("runner", out))}
    read = lambda run, name: json.loads((run / name).read_text())  # noqa: E731
    assert read(runs["bash"], "metrics.json") == read(runs["runner"], "metrics.json")
    configs = [read(run, "config.json") for run in runs.values()]
    assert configs[0] == configs[1]  # same head, options, protocol, text and caches
    again = runner.invoke(app, ["reproduce", ROW, *flags])  # the in-process runner reuses every step
    assert again.exit_code == 0, again.output
    ran = [line.split("] ", 1)[1] for line in again.output.splitlines() if re.match(r"\[\d/2\] zsar ", line)]
    lines = [line for line in printed.output.splitlines() if line.startswith(("zsar ", "UCF101_"))]
    expected = [re.sub(r"^UCF101_DENSE8X3S16=\$\((.*?) \| tee /dev/stderr \| sed .*$", r"\1", lines[0]), lines[1]]
    assert [re.sub(r"\S*/cache/features/\S+", "CACHE", line) for line in ran] == \
        [line.replace('"$UCF101_DENSE8X3S16"', "CACHE") for line in expected]


def test_the_pages_state_no_claim_the_rows_do_not_support_and_cite_no_local_path():
    for page in ("clip-era.md", "reproducing.md"):
        text = (REPO / "docs" / page).read_text(encoding="utf-8")
        assert "/work/" not in text and "methods.md" not in text, page
    clip_era = (REPO / "docs" / "clip-era.md").read_text(encoding="utf-8")
    assert "10 points" not in clip_era and "| MoTE |" in clip_era
    assert "62.3 / 53.4 / 57.5" in clip_era and "53.4 / 57.5 (not verified)" not in clip_era
    assert "73.8 ± 0.6" in clip_era and "63.2 (not verified)" in clip_era
