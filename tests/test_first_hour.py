"""What a new user meets in the first hour: ``zsar --version``, ``make demo`` writing only under its folder,
and warnings said once."""

from __future__ import annotations

import logging
import re
from pathlib import Path

from typer.testing import CliRunner

from zsar import __version__
from zsar.cli import app
from zsar.heads.experiment import TrainHeadConfig, train_head
from zsar.metrics import MetricsConfig, measure_run
from zsar.testing import StructuredConfig

REPO = Path(__file__).resolve().parent.parent


def test_zsar_version():
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output == f"zsar {__version__}\n"


def test_make_demo_writes_under_its_ignored_folder_and_make_docs_publishes_it():
    makefile = (REPO / "Makefile").read_text()
    recipes = {m.group(1): m.group(2) for m in re.finditer(r"(?m)^([\w-]+):[^\n]*\n((?:\t[^\n]*\n)+)", makefile)}
    assert "docs/" not in recipes["demo"] and "docs/" not in recipes["demo-full"]  # no tracked file edited
    assert "zsar demo" in recipes["demo"] and "gen_docs.py" in recipes["docs"]
    assert "zsar-demo/" in (REPO / ".gitignore").read_text().splitlines()


def test_a_skipped_k_is_warned_once_per_run_not_once_per_split(structured_cache, tmp_path, caplog):
    cache = structured_cache(StructuredConfig(classes=6, videos=60))
    train_head(TrainHeadConfig(features=cache, out=tmp_path / "run", head="ridge", protocol="within-half", splits=3))
    caplog.set_level(logging.WARNING, logger="zsar.metrics")
    measured = measure_run(tmp_path / "run", MetricsConfig(k=(1, 5, 10)))
    warned = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert warned == ["hubness k=5 against class prototypes skipped: there are only 3, N_k would be constant",
                      "hubness k=10 against class prototypes skipped: there are only 3, N_k would be constant"]
    assert sorted(measured.summary()["notes"]) == sorted(warned)  # the notes list what stderr said, once each
