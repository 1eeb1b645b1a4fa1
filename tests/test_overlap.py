"""E2E's union overlap filter (``--overlap-with``): the source is filtered against the target and further caches."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
from typer.testing import CliRunner

from test_text_encoders import write_word2vec_txt
from zsar.cache.config import CacheConfig
from zsar.cache.features import FeatureSet
from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cli import app
from zsar.errors import ZsarError
from zsar.extract.models.text_encoders import TextEncoderConfig, create_text_encoder, encode_classes
from zsar.heads.experiment import TrainHeadConfig, protocol_data
from zsar.heads.protocol_options import E2E_TAU
from zsar.heads.protocols import ProtocolData, cross_full, source_filter_record, source_mask

pytestmark = pytest.mark.usefixtures("single_thread")

# One axis per word; "rid" is WordNet's shortest base form of "riding" (E2E's lemmatiser), not "ride".
WORDS = ["play", "guitar", "kick", "ball", "ride", "rid", "bike", "eat", "cake"]
SOURCE = ["eating cake", "kicking ball", "playing guitar", "riding a bike"]  # kinetics700
TARGET = ["kick_ball", "ride_bike"]  # hmdb51
OTHER = ["PlayingGuitar"]  # ucf101


@pytest.fixture(scope="module")
def texts(tmp_path_factory):
    """E2E-recipe label text of the three datasets from a 9-word vector file."""
    vectors = {w: np.eye(len(WORDS))[i].tolist() for i, w in enumerate(WORDS)}
    path = write_word2vec_txt(tmp_path_factory.mktemp("w2v") / "v.txt", vectors, header=False)
    encoder = create_text_encoder(TextEncoderConfig("word2vec", model=str(path)))
    return {dataset: encode_classes(encoder, names, names, "e2e", dataset=dataset)
            for dataset, names in (("kinetics700", SOURCE), ("hmdb51", TARGET), ("ucf101", OTHER))}


def _features(names: list[str], dataset: str) -> FeatureSet:
    n = len(names)
    return FeatureSet(features=np.zeros((n, 1, 1, 2), np.float16), labels=np.arange(n),
                      video_ids=[f"v{i}" for i in range(n)], class_names=names,
                      splits={}, config=CacheConfig(dataset=dataset))


def test_union_filter_drops_source_classes_near_any_listed_dataset(texts, caplog):
    alone = ProtocolData(target=_features(TARGET, "hmdb51"), target_text=texts["hmdb51"], source=_features(SOURCE,
                                                                                                           "kinetics700"),
                         source_text=texts["kinetics700"], tau=E2E_TAU)
    # against HMDB51 alone: "kicking ball" = (kick, ball) = "kick_ball", distance 0; "riding a bike" =
    # (rid, bike) vs (ride, bike): cosine 1/2, distance 0.5, kept
    assert source_mask(alone).tolist() == [True, False, True, True]
    union = ProtocolData(target=alone.target, target_text=alone.target_text, source=alone.source,
                         source_text=alone.source_text, tau=E2E_TAU,
                         overlap_text=[texts["ucf101"]])
    assert source_mask(union).tolist() == [True, False, False, True]
    with caplog.at_level(logging.INFO, logger="zsar.heads.protocols"):
        plan = next(cross_full(union, 1))
    assert plan.class_names[:2] == ["kinetics700/eating cake", "kinetics700/riding a bike"]
    assert "against the target's 2 classes and 1 of --overlap-with: training on 2 of 4" in caplog.text
    assert "dropped 'playing guitar': cosine distance 0.000 to 'PlayingGuitar'" in caplog.text
    assert "kept source classes: eating cake; riding a bike" in caplog.text
    record = source_filter_record(union)
    assert record["source_classes"] == ["eating cake", "riding a bike"]
    assert record["overlap_with"] == [{"text": texts["ucf101"].file_stem, "text_key": texts["ucf101"].key,
                                       "n_classes": 1}]
    assert source_filter_record(ProtocolData(target=alone.target, target_text=alone.target_text)) == {}


def _caches(tmp_path, texts):
    """Source, target and overlap caches holding the E2E-recipe text (2-d random features)."""
    rng = np.random.default_rng(0)
    paths = {}
    for dataset, names in (("kinetics700", SOURCE), ("hmdb51", TARGET), ("ucf101", OTHER)):
        labels = np.repeat(np.arange(len(names)), 6)
        paths[dataset] = write_cache_from_arrays(
            tmp_path / dataset, rng.standard_normal((len(labels), 1, 2, 4)).astype(np.float32), labels, names,
            dataset=dataset, backbone="b", text=texts[dataset]).root
    return paths


def test_train_head_overlap_with_records_the_kept_classes(tmp_path, texts):
    paths = _caches(tmp_path, texts)
    result = CliRunner().invoke(app, [
        "train-head", "--features", str(paths["hmdb51"]), "--source-features", str(paths["kinetics700"]),
        "--overlap-with", str(paths["ucf101"]), "--overlap-with", str(paths["hmdb51"]), "--head", "linear",
        "--protocol", "cross-full", "--epochs", "1", "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert config["source_classes"] == ["eating cake", "riding a bike"]
    assert [o["text"] for o in config["overlap_with"]] == [texts["ucf101"].file_stem, texts["hmdb51"].file_stem]


def test_overlap_caches_need_the_source_text_encoder_and_a_source(tmp_path, texts):
    paths = _caches(tmp_path, texts)
    other = encode_classes(create_text_encoder(TextEncoderConfig("tiny-random")), OTHER, OTHER, "plain")
    write_cache_from_arrays(tmp_path / "tiny", np.zeros((2, 1, 2, 4), np.float32), np.zeros(2, int), OTHER,
                            dataset="ucf101", backbone="b", text=other)
    base = dict(features=paths["hmdb51"], out=tmp_path / "run", head="linear", protocol="cross-full")
    with pytest.raises(ZsarError, match=r"--overlap-with .*tiny: its text tiny-random-plain-\w+ is from tiny-random "
                                        r".* the source's from word2vec \(word2vec:v.txt\); add that text.*--filter-text NAME"):
        protocol_data(TrainHeadConfig(source_features=paths["kinetics700"], overlap_with=(tmp_path / "tiny",),
                                           **base))
    with pytest.raises(ZsarError, match="--overlap-with filters the source classes of a cross protocol"):
        protocol_data(TrainHeadConfig(overlap_with=(paths["ucf101"],), **{**base, "protocol": "within-half"}))
