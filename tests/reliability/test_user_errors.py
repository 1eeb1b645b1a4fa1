"""User mistakes in `zsar extract` end in one `error:` line and exit status 2, never a traceback."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from _extract_data import TINY, make_synth, run_zsar
from zsar.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    return make_synth(tmp_path_factory.mktemp("synth"), classes=2, per_class=2)


def _one_line(args: list[str]) -> str:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def _extract(root, *extra):
    return ["extract", "--dataset", "hmdb51", "--root", str(root), *TINY, *extra]


def test_missing_root(tmp_path):
    line = _one_line(_extract(tmp_path / "nowhere", "--cache", str(tmp_path)))
    assert str(tmp_path / "nowhere") in line and "does not exist" in line


def test_missing_split_file(synth, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(synth, broken)
    victim = sorted((broken / "splits").glob("*_test_split2.txt"))[0]
    victim.unlink()
    line = _one_line(_extract(broken, "--cache", str(tmp_path)))
    assert victim.name in line


@pytest.mark.parametrize("flag,kind,valid", [
    ("--dataset", "dataset", "hmdb51, kinetics400"),
    ("--backbone", "backbone", "efficientnet-lite0, r2plus1d-18, tiny-random"),
    ("--text-encoder", "text encoder", "glove-50d, minilm"),
])
def test_unknown_names_list_the_valid_ones(synth, tmp_path, flag, kind, valid):
    args = _extract(synth, "--cache", str(tmp_path))
    args[args.index(flag) + 1] = "nope"
    line = _one_line(args)
    assert line.startswith(f"error: unknown {kind} 'nope'; valid {kind}s: ")
    for name in valid.split(", "):
        assert name in line


@pytest.mark.parametrize("extra,message", [
    (["--shard", "2/2"], "--shard 2/2: rank must be in 0..N-1"),
    (["--shard", "half"], "--shard 'half': write it as i/N"),
    (["--sampling", "random"], "--sampling 'random': choose one of uniform, dense"),
    (["--batch-size", "0"], "--batch-size 0: must be at least 1"),
    (["--precision", "fp16"], "--precision fp16 needs a GPU"),
])
def test_bad_flags(synth, tmp_path, extra, message):
    assert message in _one_line(_extract(synth, "--cache", str(tmp_path), *extra))


def test_a_real_process_prints_no_traceback(tmp_path):
    result = run_zsar("extract", "--dataset", "nope", "--root", str(tmp_path), "--cache", str(tmp_path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert result.stderr.strip().startswith("error: unknown dataset 'nope'; valid datasets: activitynet, csv,")


def test_split_entries_cannot_escape_the_dataset_root(synth, tmp_path):
    broken = tmp_path / "escape"
    shutil.copytree(synth, broken)
    (tmp_path / "outside.avi").write_bytes((next((synth / "videos").glob("*/*.avi"))).read_bytes())
    victim = sorted((broken / "splits").glob("*_test_split1.txt"))[0]
    victim.write_text(victim.read_text() + "../../../outside.avi 1\n")
    cache = tmp_path / "cache"
    line = _one_line(_extract(broken, "--cache", str(cache)))
    assert "'../../../outside.avi'" in line and victim.name in line
    assert not cache.exists()  # refused before anything was written


def test_list_entries_cannot_escape_the_dataset_root(synth, tmp_path):
    videos = tmp_path / "videos"
    shutil.copytree(synth / "videos", videos)
    listed = sorted(p.relative_to(videos).as_posix() for p in videos.glob("*/*.avi"))
    rows = [f"{path},{path.split('/')[0]}" for path in listed] + ["../secret.avi,walk"]
    (tmp_path / "secret.avi").write_bytes(b"not yours")
    (videos / "list.csv").write_text("path,label\n" + "\n".join(rows) + "\n")
    line = _one_line(["extract", "--dataset", "csv", "--root", str(videos), "--splits", str(videos / "list.csv"),
                      *TINY, "--cache", str(tmp_path / "cache")])
    assert "'../secret.avi'" in line and "list.csv" in line
