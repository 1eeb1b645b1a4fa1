"""What ``zsar predict`` says of each video: probabilities and margins, windows, partly decoded files, odd names.

A tiny run (``_predict_data.build_tiny``: tiny-random features, ridge) stands in for a
trained one: these tests check what is reported, not how accurate it is. The timeline's
accuracy on planted segments is in ``test_predict.py``, on a real run.
"""

from __future__ import annotations

import csv
import json
import math
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import zsar
from zsar.cli import app
from zsar.predict.sheet import caption_lines
from zsar.synth import ACTIONS
from zsar.synth.render import render_clip, write_video

from _predict_data import build_tiny, decode_counter

LABELS = ["wave hand", "squat", "jumping jacks", "clap hands"]


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    return build_tiny(tmp_path_factory.mktemp("predict-outputs"))


@pytest.fixture(scope="module")
def long_video(tmp_path_factory):
    """A 60 s clip (1500 frames at 25 fps, 32x32) of one action."""
    path = tmp_path_factory.mktemp("long") / "long.avi"
    write_video(render_clip(ACTIONS[0], np.random.default_rng(1), 1500, 32, 32), path, "avi")
    return path


def _predict(tiny, videos, **options):
    options.setdefault("cache", tiny.cache)
    return zsar.predict(videos, LABELS, run=tiny.run, workers=0, **options)


def test_probabilities_sum_to_one_over_the_labels_per_video_and_per_window(tiny, long_video):
    result = _predict(tiny, [str(tiny.videos), str(long_video)], top_k=len(LABELS), window=5, stride=5)
    videos = result.rows
    assert len(videos) == 7 and all(r.status == "ok" for r in videos)
    windows = [w for r in videos for w in r.windows]
    assert len(windows) >= 12
    for scored in [*videos, *windows]:
        assert math.isclose(sum(scored.probabilities), 1.0, abs_tol=1e-6)
        assert list(scored.probabilities) == sorted(scored.probabilities, reverse=True)
        assert math.isclose(scored.margin, scored.probabilities[0] - scored.probabilities[1], abs_tol=1e-12)
        expected = np.exp(10 * np.array(scored.scores)) / np.exp(10 * np.array(scored.scores)).sum()
        assert np.allclose(scored.probabilities, expected, atol=1e-6)  # ridge: a softmax at the default scale 10


def test_a_60_second_video_has_12_windows_of_5_seconds_each_a_row_of_the_cache(tiny, long_video, tmp_path,
                                                                                monkeypatch):
    decodes = decode_counter(monkeypatch)
    first = _predict(tiny, str(long_video), window=5, cache=tmp_path / "cache", top_k=2)
    [row] = first.rows
    assert [(w.start, w.end) for w in row.windows] == [(5.0 * k, 5.0 * k + 5) for k in range(12)]
    assert decodes["n"] == 13 and first.decoded == 13  # the whole video, then each window
    again = _predict(tiny, str(long_video), window=5, cache=tmp_path / "cache", top_k=2)
    assert decodes["n"] == 13 and again.reused == 13 and again.records() == first.records()
    overlapping = _predict(tiny, str(long_video), window=10, stride=5, cache=tmp_path / "cache")
    assert len(overlapping.rows[0].windows) == 11 and overlapping.decoded == 11  # 0-10, 5-15, ... 50-60: all new
    table = first.format_table().splitlines()
    assert table[3].strip().startswith("0:00-0:05") and table[-1].strip().startswith("0:55-1:00")
    out = tmp_path / "timeline.csv"
    first.write(out)
    rows = list(csv.DictReader(out.open()))
    assert len(rows) == 13 and rows[0]["start"] == "" and (rows[12]["start"], rows[12]["end"]) == ("55", "60")
    assert all(len(r["labels"].split("|")) == 2 for r in rows)
    jsonl = tmp_path / "timeline.jsonl"
    first.write(jsonl)
    record = json.loads(jsonl.read_text())
    assert len(record["windows"]) == 12 and record["windows"][0]["start"] == 0.0


@pytest.fixture
def cut_video(tmp_path):
    """A 48-frame .avi cut to 60 % of its bytes: about half of its 48 frames decode."""
    whole = tmp_path / "whole.avi"
    write_video(render_clip(ACTIONS[2], np.random.default_rng(2), 48, 64, 64), whole, "avi")
    folder = tmp_path / "cut"
    folder.mkdir()
    data = whole.read_bytes()
    (folder / "cut.avi").write_bytes(data[:int(len(data) * 0.6)])
    shutil.copy(whole, folder / "whole.avi")
    return folder


def test_a_file_cut_to_60_percent_reads_the_same_in_the_table_csv_sheet_summary_and_cache_info(tiny, cut_video,
                                                                                             tmp_path):
    runner = CliRunner()
    args = ["predict", str(cut_video), "--labels", ", ".join(LABELS), "--run", str(tiny.run), "--workers", "0",
            "--cache", str(tmp_path / "cache"), "--out", str(tmp_path / "p.csv"), "--sheet", str(tmp_path / "s.png")]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    table = {line.split()[0]: line for line in result.stdout.splitlines() if ".avi" in line}
    found = re.search(r"partly decoded: (\d+) of the 48 frames its container claims", table[str(cut_video / "cut.avi")])
    assert found and 0 < int(found.group(1)) < 48, table
    note = found.group(0)
    assert table[str(cut_video / "cut.avi")].endswith(f"{note}; left out; --allow-partial scores the frames that "
                                                      "decoded")
    summary = next(line for line in result.stdout.splitlines() if line.startswith("2 video(s)"))
    assert summary.startswith("2 video(s): 1 ok, 1 partly decoded (left out; --allow-partial scores the frames that "
                              "decoded), 0 failed; 2 decoded now")
    rows = {Path(r["path"]).name: r for r in csv.DictReader((tmp_path / "p.csv").open())}
    assert rows["cut.avi"]["status"] == "partial" and rows["cut.avi"]["note"].startswith(note)
    assert rows["cut.avi"]["labels"] == "" and rows["whole.avi"]["status"] == "ok"
    predictions = _predict(tiny, str(cut_video), cache=tmp_path / "cache")
    assert " ".join(caption_lines(predictions.rows[0])[1:]).startswith(note)
    scored = _predict(tiny, str(cut_video), cache=tmp_path / "cache", allow_partial=True)
    assert scored.decoded == 0 and scored.rows[0].status == "partial" and len(scored.rows[0].labels) == 4
    assert scored.rows[0].note == f"{note}; scored on the frames that decoded"
    caption = caption_lines(scored.rows[0])  # the name, the note's first two lines, the best label
    assert f"{note}; scored on".startswith(" ".join(caption[1:3])) and caption[1].startswith("partly decoded: ")
    assert caption[3] == f"{scored.rows[0].probabilities[0]:4.2f} {scored.rows[0].labels[0]}"
    assert "1 partly decoded (scored on the frames that decoded)" in scored.summary()
    info = runner.invoke(app, ["cache", "info", str(predictions.cache_dir)])
    assert "1 ok, 1 partly decoded, 0 failed" in info.output, info.output


def test_a_name_with_a_newline_is_a_row_like_any_other_and_sinks_nothing(tiny, tmp_path):
    folder = tmp_path / "odd"
    shutil.copytree(tiny.videos, folder)
    odd = folder / "two\nlines.avi"
    shutil.copy(folder / "clip-000.avi", odd)
    result = CliRunner().invoke(app, ["predict", str(folder), "--labels", ", ".join(LABELS), "--run", str(tiny.run),
                                      "--workers", "0", "--cache", str(tmp_path / "cache"),
                                      "--out", str(tmp_path / "p.jsonl")])
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output and "7 video(s): 7 ok, 0 failed" in result.stdout
    assert any(line.startswith(f"{folder}/two\\nlines.avi ") for line in result.stdout.splitlines())
    records = [json.loads(line) for line in (tmp_path / "p.jsonl").read_text().splitlines()]
    assert [r["status"] for r in records] == ["ok"] * 7
    by_path = {r["path"]: r for r in records}
    assert by_path[str(odd)]["labels"] == by_path[str(folder / "clip-000.avi")]["labels"]  # same bytes, same answer


def test_a_name_that_is_not_utf8_is_a_failed_row_naming_it_and_the_others_go_on(tiny, tmp_path):
    folder = tmp_path / "latin1"
    shutil.copytree(tiny.videos, folder)
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.avi"), "wb") as f:
        f.write((folder / "clip-000.avi").read_bytes())
    result = _predict(tiny, str(folder), cache=tmp_path / "cache", out=tmp_path / "p.csv")
    failed = result.failed
    assert len(result) == 7 and len(failed) == 1 and len(result.with_status("ok")) == 6
    assert failed[0].video.endswith("caf\\xe9.avi") and "not valid UTF-8" in failed[0].error
    assert "caf\\xe9.avi" in (tmp_path / "p.csv").read_text(encoding="utf-8")


def test_the_refused_frozen_pair_decodes_nothing(tiny, tmp_path, monkeypatch):
    decodes = decode_counter(monkeypatch)
    result = CliRunner().invoke(app, ["predict", str(tiny.videos), "--labels", "jump, wave", "--head", "frozen",
                                      "--backbone", "efficientnet-lite0", "--text-encoder", "minilm",
                                      "--cache", str(tmp_path / "cache")])
    assert result.exit_code == 2 and decodes["n"] == 0 and not (tmp_path / "cache").exists()
    line = result.stderr.strip()
    assert line.startswith("error: efficientnet-lite0 + minilm: the frozen head scores raw features against label "
                           "text of one joint space") and "\n" not in line
    assert "clip-vit-b16, clip-vit-b32 or clip-vit-l14 with --text-encoder clip" in line
    assert "use --head objects" in line
