"""Weights on first use: a Hugging Face id missing from the cache is downloaded into it (a fake hub here), never
when offline; ``zsar weights`` says which weights are on this machine."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from zsar.cli import app
from zsar.errors import ZsarError
from zsar.extract.models.backbones import BackboneConfig, create_backbone
from zsar.extract.models.hf import cached_snapshot, hf_cache_dir
from zsar.extract.models.text_encoders import TextEncoderConfig, create_text_encoder
from zsar.testing import write_hf_snapshot, write_tiny_clip
from zsar.weights import BACKBONE, TEXT_ENCODER, list_weights, weights_status

CLIP_ID = "openai/clip-vit-base-patch16"
COMMIT = "1" * 40


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory) -> Path:
    return write_tiny_clip(tmp_path_factory.mktemp("clip") / "tiny")


@pytest.fixture
def empty_cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    return tmp_path / "hf" / "hub"


class FakeHub:
    """``huggingface_hub.snapshot_download`` as the hub answers it: a listing (dry run), then the files, written in
    the cache's layout (what a real download leaves), with what each call asked for."""

    def __init__(self, source: Path) -> None:
        self.source, self.calls = source, []

    def __call__(self, repo_id, *, cache_dir, dry_run=False, ignore_patterns=None, **kwargs):
        self.calls.append({"repo_id": repo_id, "cache_dir": cache_dir, "dry_run": dry_run,
                           "ignore_patterns": list(ignore_patterns or [])})
        if dry_run:
            return [type("DryRunFileInfo", (), {"filename": p.name})() for p in sorted(self.source.iterdir())]
        return str(write_hf_snapshot(Path(cache_dir), repo_id, self.source, COMMIT))


def test_a_missing_id_is_downloaded_into_the_hf_cache_where_loading_then_finds_it(tiny_clip, empty_cache,
                                                                                  monkeypatch):
    import huggingface_hub

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    hub = FakeHub(tiny_clip)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", hub)
    assert cached_snapshot(CLIP_ID) is None
    backbone = create_backbone(BackboneConfig(name="clip-vit-b16"))
    assert backbone.weights_id.startswith(f"{CLIP_ID}@") and backbone.space == CLIP_ID
    assert [c["dry_run"] for c in hub.calls] == [True, False]
    assert {c["repo_id"] for c in hub.calls} == {CLIP_ID} and {c["cache_dir"] for c in hub.calls} == {str(empty_cache)}
    # one format only: the repository has safetensors, so its torch pickles are skipped, and never TF or Flax
    assert {"*.bin", "*.h5", "*.msgpack"} <= set(hub.calls[1]["ignore_patterns"])
    assert cached_snapshot(CLIP_ID) == empty_cache / f"models--{CLIP_ID.replace('/', '--')}" / "snapshots" / COMMIT
    # now it is here: the text tower and its tokenizer load from the cache, nothing is downloaded again
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("downloaded again"))
    encoder = create_text_encoder(TextEncoderConfig("clip"))
    assert encoder.space == backbone.space == CLIP_ID
    assert weights_status(BACKBONE, "clip-vit-b16").present and weights_status(TEXT_ENCODER, "clip").present


def test_offline_a_missing_id_is_the_one_line_error_naming_the_download_command(empty_cache, monkeypatch):
    import huggingface_hub

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda *a, **k: pytest.fail("downloaded offline"))
    with pytest.raises(ZsarError) as info:
        create_backbone(BackboneConfig(name="clip-vit-b16"))
    message = str(info.value)
    assert "\n" not in message and message.startswith("no weights for clip-vit-b16: looked in --weights (none)")
    assert f"the Hugging Face cache {empty_cache}" in message and f"`hf download {CLIP_ID}`" in message


def test_with_the_network_blocked_the_download_fails_in_one_line(empty_cache, monkeypatch):
    import huggingface_hub
    from huggingface_hub.errors import LocalEntryNotFoundError

    def blocked(*args, **kwargs):
        raise LocalEntryNotFoundError("Got: ConnectError: [Errno -2] Name or service not known")

    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setattr(huggingface_hub, "snapshot_download", blocked)
    with pytest.raises(ZsarError) as info:
        create_text_encoder(TextEncoderConfig("sentence-transformers", model="someone/not-here"))
    message = str(info.value)
    assert "\n" not in message and "no weights for sentence-transformers model 'someone/not-here'" in message
    assert "the download failed: Got: ConnectError" in message and "`hf download someone/not-here`" in message


def test_zsar_weights_lists_the_offline_defaults_as_here(empty_cache, tiny_clip):
    result = CliRunner().invoke(app, ["weights"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    rows = {(line[:12].strip(), *line[14:].split()[:2]) for line in result.output.splitlines()
            if line.startswith(("backbone", "text encoder"))}
    assert {("backbone", "efficientnet-lite0", "here"), ("text encoder", "minilm", "here")} <= rows
    line = next(line for line in result.output.splitlines() if "clip-vit-b16" in line)
    assert "missing" in line and f"hf download {CLIP_ID}" in line
    assert f"Hugging Face cache: {hf_cache_dir()}; downloads off (HF_HUB_OFFLINE=1)" in result.output
    write_hf_snapshot(empty_cache, CLIP_ID, tiny_clip)
    statuses = {(s.kind, s.name): s for s in list_weights()}
    assert statuses[(BACKBONE, "clip-vit-b16")].present and statuses[(BACKBONE, "clip-vit-b32")].present is False
    assert statuses[(BACKBONE, "tiny-random")].present is None and statuses[(TEXT_ENCODER, "minilm")].present
    assert Path(statuses[(TEXT_ENCODER, "minilm")].where).is_dir()


def test_the_offline_flag_turns_downloads_off_for_the_command(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    assert "downloads on: a missing Hugging Face id is fetched on first use" in CliRunner().invoke(
        app, ["weights"]).output
    result = CliRunner().invoke(app, ["--offline", "weights"])
    assert result.exit_code == 0 and "downloads off (HF_HUB_OFFLINE=1)" in result.output
