"""The shipped prompt sets: FROSTER's 28 templates byte for byte, ViFi-CLIP's ``{}``, ActionCLIP's 16, checksummed."""

from __future__ import annotations

import hashlib
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from _extract_data import make_synth
from zsar.cache.layout import CacheLayout
from zsar.cache.text import list_text_files, read_text_embeddings
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.extract.models import prompts

FROSTER_SHA256 = "024b59ce55beb3e8de4ff1ea271fc7a6a0c4e808a6898e248c319ca941de8959"
SHARED_COPY = Path(__file__).resolve().parents[2] / "shared" / "data" / "prompts" / "froster.txt"


def test_froster_is_the_28_templates_of_froster_byte_for_byte():
    data = (prompts.PROMPT_DATA / "froster.txt").read_bytes()
    assert hashlib.sha256(data).hexdigest() == FROSTER_SHA256
    if SHARED_COPY.is_file():  # the copy read from FROSTER's code, beside the repository
        assert hashlib.sha256(SHARED_COPY.read_bytes()).hexdigest() == FROSTER_SHA256
    name, templates = prompts.load_prompts("froster")
    assert name == "froster" and len(templates) == 28 == len(set(templates))
    assert templates[0] == "a photo of {}." and templates[-1] == "a demonstration of a person practicing {}."
    assert prompts.load_prompts("vifi") == ("vifi", ["{}"])
    assert list(prompts.load_prompts("actionclip")[1]) == list(prompts.ACTIONCLIP_TEMPLATES)


def test_an_edited_prompt_file_is_one_error(tmp_path, monkeypatch):
    shutil.copytree(prompts.PROMPT_DATA, tmp_path / "prompt_data")
    path = tmp_path / "prompt_data" / "froster.txt"
    path.write_text(path.read_text().replace("a photo of {}.", "a photo of the {}."))
    monkeypatch.setattr(prompts, "PROMPT_DATA", tmp_path / "prompt_data")
    prompts.shipped_templates.cache_clear()
    try:
        with pytest.raises(ZsarError, match=r"prompt set .*froster.txt has sha256 .* it was changed; reinstall"):
            prompts.shipped_templates("froster")
    finally:
        prompts.shipped_templates.cache_clear()


def test_extract_with_prompts_froster_embeds_every_class_under_froster_s_28_templates(tmp_path):
    synth = make_synth(tmp_path / "synth", classes=2, per_class=2, frames=8)
    result = CliRunner().invoke(app, ["extract", "--dataset", "synthetic", "--root", str(synth), "--backbone",
                                      "tiny-random", "--text-encoder", "tiny-random", "--prompts", "froster",
                                      "--frames", "4", "--cache", str(tmp_path / "cache"), "--workers", "0"])
    assert result.exit_code == 0, result.output
    cache = Path(next(line for line in result.output.splitlines() if line.startswith("cache: "))[7:])
    [text_file] = list_text_files(CacheLayout(cache))
    text = read_text_embeddings(text_file)
    froster = (prompts.PROMPT_DATA / "froster.txt").read_text().splitlines()
    assert text.prompt_set == "froster" and text.prompts == froster and text.embeddings.shape[:2] == (2, 28)
    assert text_file.stem.startswith("tiny-random-froster-")
