"""What the CLI costs before it does anything: help without torch, refusals before decoding.

``zsar --help`` and ``zsar COMMAND --help`` build every command (typer does), so every help
text's names must come without importing torch: the names of registries declared beside
torch code come from ``zsar/cli/help_names.json`` (generated from the registries; test_docs
checks it is current). CPU time is measured in a fresh process (``resource.getrusage`` of
the children), the best of three runs, since other work shares the machine.
"""

from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from zsar.cli.options import HELP_NAMES_FILE, help_names

REPO = Path(__file__).resolve().parent.parent
HELP_CPU_S = 0.5        # zsar --help, zsar COMMAND --help
REFUSAL_CPU_S = 3.0     # a refused frozen pair: the checks before decoding
HEAVY = ("torch", "transformers", "sentence_transformers", "faiss", "matplotlib", "av", "decord", "h5py")


def _cpu_seconds(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    """User + system CPU seconds of ``python -m zsar ARGS`` in a fresh process, and what it printed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    done = subprocess.run([sys.executable, "-m", "zsar", *args], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done


def _best_of_three(*args: str) -> float:
    return min(_cpu_seconds(*args)[0] for _ in range(3))


def test_rendering_every_help_imports_nothing_heavy():
    script = ("import sys, typer\nfrom typer.testing import CliRunner\nfrom zsar.cli import app\n"
              "paths = [()] + [(name,) for name in typer.main.get_command(app).commands]\n"
              "for path in paths:\n"
              "    assert CliRunner().invoke(app, [*path, '--help']).exit_code == 0, path\n"
              f"print(len(paths), sorted(m for m in {HEAVY!r} if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert done.returncode == 0, done.stderr
    count, loaded = done.stdout.split(maxsplit=1)
    assert int(count) > 10 and loaded.strip() == "[]"


@pytest.mark.parametrize("args", [("--help",), ("predict", "--help"), ("train-head", "--help")])
def test_help_costs_under_half_a_second_of_cpu(args):
    seconds = _best_of_three(*args)
    assert seconds < HELP_CPU_S, f"zsar {' '.join(args)}: {seconds:.2f} s of CPU"


def test_the_help_names_are_those_of_the_registries():
    import json

    assert json.loads(HELP_NAMES_FILE.read_text(encoding="utf-8")) == help_names()
    names = help_names()
    assert names["joint_backbones"] == ["clip-vit-b16", "clip-vit-b32", "clip-vit-l14"]
    assert names["classifier_backbones"] == ["efficientnet-lite0"] and names["joint_text_encoders"] == ["clip"]


def test_predict_help_names_the_frozen_pairs():
    from typer.testing import CliRunner

    from zsar.cli import app

    text = CliRunner().invoke(app, ["predict", "--help"], env={"COLUMNS": "400"}).output
    assert "frozen (raw features against label text of one joint space: clip-vit-b16, clip-vit-b32, clip-vit-l14 " \
           "with --text-encoder clip, the same weights) or objects (the backbone's own ImageNet classifier: " \
           "efficientnet-lite0)" in text


def test_the_refused_frozen_pair_costs_under_3_seconds_of_cpu(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    (videos / "a.avi").write_bytes(b"never decoded")
    seconds, done = min((_cpu_seconds("predict", str(videos), "--labels", "jump, wave", "--head", "frozen",
                                      "--backbone", "efficientnet-lite0", "--text-encoder", "minilm",
                                      "--cache", str(tmp_path / "cache")) for _ in range(2)), key=lambda r: r[0])
    assert done.returncode == 2 and "one joint space" in done.stderr and not (tmp_path / "cache").exists()
    assert seconds < REFUSAL_CPU_S, f"{seconds:.2f} s of CPU"
