"""``--filter-text``: the Kinetics overlap filter compares its own text, whatever ``--text`` the head uses."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cache.layout import CacheLayout
from zsar.cache.text import TextEmbeddings, write_text_embeddings
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.heads.experiment import TrainHeadConfig, protocol_data, resolve
from zsar.heads.protocols import source_filter_record

pytestmark = pytest.mark.usefixtures("single_thread")

SOURCE = ["alpha", "beta", "gamma", "delta"]
TARGET = ["one", "two"]
AXES = {"one": 0, "two": 1, "gamma": 4, "delta": 5}
# alpha: the run's text puts it on the target's "one" (dropped), word2vec far away (kept);
# beta: the other way round.
RUN_TEXT = {**AXES, "alpha": 0, "beta": 3}
WORD2VEC = {**AXES, "alpha": 2, "beta": 1}


def _text(names, axes, encoder, prompt_set):
    vectors = np.eye(6, dtype=np.float32)[[axes[n] for n in names]][:, None]
    return TextEmbeddings(encoder=encoder, model_id=f"{encoder}-model", prompt_set=prompt_set, class_names=names,
                          class_texts=names, prompts=["{}"], embeddings=vectors,
                          key=f"{encoder}{len(names)}")


def _cache(folder, names, dataset, word2vec=True):
    labels = np.repeat(np.arange(len(names)), 3)
    features = np.random.default_rng(len(names)).normal(size=(len(labels), 1, 2, 4)).astype(np.float32)
    write_cache_from_arrays(folder, features, labels, names, dataset=dataset,
                            text=_text(names, RUN_TEXT, "minilm", "plain"))
    if word2vec:
        write_text_embeddings(CacheLayout(folder), _text(names, WORD2VEC, "word2vec", "e2e"))


@pytest.fixture()
def caches(tmp_path):
    _cache(tmp_path / "k400", SOURCE, "kinetics400")
    _cache(tmp_path / "ucf", TARGET, "ucf101")
    return tmp_path


def _kept(caches, **given):
    config = TrainHeadConfig(features=caches / "ucf", source_features=caches / "k400", out=caches / "run",
                             head="linear", protocol="cross-full", text="minilm", **given)
    return source_filter_record(protocol_data(config))


def test_filter_text_keeps_a_class_the_run_text_would_drop_and_the_reverse(caches):
    default = _kept(caches)  # the source has word2vec-e2e: the filter uses it, the head minilm
    assert default["source_classes"] == ["alpha", "gamma", "delta"]
    assert default["filter_text"]["text"].startswith("word2vec-e2e-")
    assert _kept(caches, filter_text="word2vec-e2e") == default
    run_text = _kept(caches, filter_text="minilm")
    assert run_text["source_classes"] == ["beta", "gamma", "delta"]
    assert run_text["filter_text"]["text"].startswith("minilm-plain-")
    assert _kept(caches, protocol_options={"tau": 0.0})["source_classes"] == SOURCE


def test_without_word2vec_in_the_source_the_filter_uses_the_run_text(tmp_path):
    _cache(tmp_path / "k400", SOURCE, "kinetics400", word2vec=False)
    _cache(tmp_path / "ucf", TARGET, "ucf101", word2vec=False)
    assert _kept(tmp_path)["source_classes"] == ["beta", "gamma", "delta"]
    with pytest.raises(ZsarError, match="--filter-text word2vec-e2e: --source-features .* lacks it"):
        _kept(tmp_path, filter_text="word2vec-e2e")


def test_a_target_without_the_default_filter_text_says_how_to_fix_it(tmp_path):
    _cache(tmp_path / "k400", SOURCE, "kinetics400")
    _cache(tmp_path / "ucf", TARGET, "ucf101", word2vec=False)
    with pytest.raises(ZsarError, match=r"--filter-text word2vec-e2e \(the default: the source cache has it\): "
                                        r"--features .* lacks it .* or pass --filter-text NAME"):
        _kept(tmp_path)


def test_the_run_records_the_filter_text_and_says_its_source_is_not_kinetics_664(caches):
    args = ["train-head", "--features", str(caches / "ucf"), "--source-features", str(caches / "k400"),
            "--text", "minilm", "--head", "linear", "--protocol", "cross-full", "--epochs", "1", "--no-select",
            "--out", str(caches / "run")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    config = json.loads((caches / "run" / "config.json").read_text())
    assert config["filter_text"]["text"].startswith("word2vec-e2e-") and config["features"]["text"].startswith("minilm")
    assert config["source_classes"] == ["alpha", "gamma", "delta"]
    note = [line for line in result.output.splitlines() if "differs from E2E's Kinetics-664" in line]
    assert len(note) == 1 and "--overlap-with" in note[0]
    metrics = json.loads((caches / "run" / "metrics.json").read_text())
    assert any("Kinetics-664" in n for n in metrics["notes"])
    again = CliRunner().invoke(app, [*args[:-1], str(caches / "run0"), "--tau", "0"])
    assert again.exit_code == 0 and "Kinetics-664" not in again.output
    with pytest.raises(ZsarError, match="--filter-text picks the text of a cross protocol's overlap filter"):
        resolve(TrainHeadConfig(features=caches / "ucf", out=caches / "r", head="linear", protocol="within-half",
                                filter_text="minilm"))
