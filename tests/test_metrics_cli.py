"""`zsar metrics` on the command line: JSON on stdout only, tables, plots, and one-line errors."""

import json

import pytest
from typer.testing import CliRunner

from metrics_data import make_run
from test_metrics_run import raw_cache
from zsar.cli import app
from zsar.metrics import MetricsConfig, evaluate_run

runner = CliRunner()


def test_json_is_the_only_thing_on_stdout_and_equals_the_library_summary(tmp_path):
    make_run(tmp_path / "run", n_splits=2)
    result = runner.invoke(app, ["metrics", str(tmp_path / "run"), "--json", "--hubness", "--k", "1,5"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert printed == evaluate_run(tmp_path / "run", MetricsConfig(measures=("hubness",), k=(1, 5)))
    assert set(printed["hubness"]) == {"1", "5"} and "closeness" not in printed
    assert set(printed["hubness"]["1"]) == {"skewness", "robinhood", "hub_occurrence",
                                            "hub_occurrence_relative", "antihub_rate", "max_hub_share"}
    assert "measuring split 0" in result.stderr


def test_without_flags_everything_is_measured_and_printed_as_tables(tmp_path):
    make_run(tmp_path / "run", n_splits=2)
    result = runner.invoke(app, ["metrics", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    summary = evaluate_run(tmp_path / "run")
    out = result.stdout
    for heading in ("## Accuracy", "## Hubness", "## Closeness", "## Dispersion", "## Notes"):
        assert heading in out
    assert f"| mean ± std | {summary['top1']:.4g} ± {summary['std']['top1']:.2g} |" in out
    n10 = summary["hubness_videos"]["10"]["skewness"]
    assert f"| videos -> videos (self excluded) | 10 | {n10:.4g} ± " in out
    assert f"| seen classes (training videos) | {summary['seen']['closeness']:.4g} ± " in out


def test_plots_write_the_report_and_say_where(tmp_path):
    make_run(tmp_path / "run", n_splits=1)
    result = runner.invoke(app, ["metrics", str(tmp_path / "run"), "--plots", "--json", "--k", "1"])
    assert result.exit_code == 0, result.output
    json.loads(result.stdout)  # the message about the report went to stderr
    assert f"wrote {tmp_path / 'run' / 'report.md'} and its plots" in result.stderr
    assert (tmp_path / "run" / "plots" / "hubness_k1.png").is_file()


def test_features_mode_prints_video_and_text_hubness(tmp_path):
    raw_cache(tmp_path / "cache", "clip-b32", "clip-b32")
    result = runner.invoke(app, ["metrics", "--features", str(tmp_path / "cache"), "--hubness", "--k", "2,3", "--json"])
    assert result.exit_code == 0, result.output
    printed = json.loads(result.stdout)
    assert set(printed["hubness"]) == set(printed["hubness_videos"]) == {"2", "3"}
    assert "closeness" not in printed
    table = runner.invoke(app, ["metrics", "--features", str(tmp_path / "cache")]).stdout  # default k = 10
    assert table.startswith(f"features {tmp_path / 'cache'}: 60 videos, 4 classes, space 'clip-b32'")
    assert "| videos -> videos (self excluded) | 10 |" in table and "| videos -> class prototypes |" not in table
    assert "- hubness k=10 against class prototypes skipped: there are only 4" in table
    assert "| all classes (all videos) |" in table


@pytest.mark.parametrize("args, message", [
    (["metrics"], "give either a run directory or --features CACHE"),
    (["metrics", "{run}", "--k", "1,five"], "--k '1,five': write positive integers separated by commas"),
    (["metrics", "{run}", "--k", "0"], "--k '0': write positive integers"),
    (["metrics", "{run}", "--text", "clip"], "--text applies to --features only"),
    (["metrics", "--features", "{run}", "--plots"], "--plots needs a run directory"),
    (["metrics", "{tmp}"], "is not a zsar run directory (no config.json)"),
])
def test_mistakes_are_one_line_errors_with_exit_2(tmp_path, args, message):
    make_run(tmp_path / "run", n_splits=1)
    args = [a.format(run=tmp_path / "run", tmp=tmp_path) for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.startswith("error: ") and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
