"""E2E's and AURL's label recipes (``--prompts e2e`` / ``aurl``): words per class and their averaged vectors."""

from __future__ import annotations

import logging

import numpy as np
import pytest

from _extract_data import make_synth
from test_text_encoders import write_word2vec_txt
from zsar.cache.features import load_text
from zsar.errors import ZsarError
from zsar.extract.datasets.label_recipes import (E2E_ACTIVITYNET_FIXES, E2E_HMDB51_FIXES, E2E_KINETICS_FIXES,
                                                 E2E_UCF101_FIXES, LABEL_RECIPES)
from zsar.extract.extractor import ExtractConfig, extract
from zsar.extract.models.prompts import load_prompts
from zsar.extract.models.text_encoders import TextEncoder, TextEncoderConfig, create_text_encoder, encode_classes

E2E = LABEL_RECIPES.get("e2e")


@pytest.mark.parametrize("dataset, name, words", [
    # UCF101: a word at every capital, verbs to their base form; fixes as written (no lemmas, case kept)
    ("ucf101", "PlayingDaf", ("play", "daf")),
    ("ucf101", "WritingOnBoard", ("write", "on", "board")),
    ("ucf101", "CleanAndJerk", ("weight", "lift")),
    ("ucf101", "Skijet", ("Skyjet",)),
    # HMDB51: folder name with spaces, split on spaces, lemmas
    ("hmdb51", "ride_bike", ("ride", "bike")),
    ("hmdb51", "shoot_bow", ("shoot", "bow")),
    # Kinetics: stop-words (incl. "or") out, cut at "(not", parentheses stripped; WordNet's shortest base form
    ("kinetics700", "changing wheel (not on bike)", ("change", "wheel")),
    ("kinetics700", "canoeing or kayaking", ("canoe", "kayak")),
    ("kinetics700", "mountain climber (exercise)", ("mountain", "climber", "exercise")),
    ("kinetics700", "riding a bike", ("rid", "bike")),
    ("kinetics400", "dancing gangnam style", ("dance", "korean")),
    ("kinetics700", "massaging person's head", ("head",)),
    # ActivityNet: fixes keyed with underscores; its stop-words keep "or"
    ("activitynet", "Blow-drying hair", ("dry", "hair")),
    ("activitynet", "Trimming branches or hedges", ("trim", "branch", "or", "hedge")),
    ("activitynet", "Decorating the Christmas tree", ("decorate", "christmas", "tree")),
    # a dataset E2E did not use: the Kinetics rule on the natural text
    ("synthetic", "jump_and_clap", ("jump", "clap")),
])
def test_e2e_words_per_dataset(dataset, name, words):
    assert E2E.words(dataset, name) == words


def test_fix_tables_are_e2es_48_and_aurl_repairs_one_key():
    assert (len(E2E_UCF101_FIXES), len(E2E_HMDB51_FIXES), len(E2E_KINETICS_FIXES),
            len(E2E_ACTIVITYNET_FIXES)) == (11, 1, 27, 9)
    assert "auxiliary_word2vec.py" in E2E.source and "CVPR2022-AURL" in LABEL_RECIPES.get("aurl").source
    aurl = LABEL_RECIPES.get("aurl")
    assert aurl.words("kinetics700", "massaging person's head") == ("massaging", "person", "head")
    differs = [n for n in E2E_KINETICS_FIXES if aurl.words("kinetics700", n) != E2E.words("kinetics700", n)]
    assert differs == ["massaging person's head"]
    assert aurl.words("activitynet", "Ping-pong") == E2E.words("activitynet", "Ping-pong") == ("table", "tennis")


def test_e2e_vector_is_the_normalised_mean_of_unit_word_vectors(tmp_path):
    words = {"weight": [3.0, 0.0, 0.0, 0.0], "lift": [0.0, 4.0, 0.0, 0.0], "play": [0.0, 0.0, 2.0, 0.0],
             "daf": [0.0, 0.0, 0.0, 5.0], "Skyjet": [1.0, 1.0, 0.0, 0.0], "skyjet": [0.0, 0.0, 1.0, 1.0]}
    path = write_word2vec_txt(tmp_path / "v.txt", words, header=False)
    encoder = create_text_encoder(TextEncoderConfig("word2vec", model=str(path)))
    names = ["CleanAndJerk", "PlayingDaf", "Skijet"]
    text = encode_classes(encoder, names, ["clean and jerk", "playing daf", "skijet"], "e2e", dataset="ucf101")
    h = 1 / np.sqrt(2)
    # weight + lift: unit vectors first (E2E's init_sims), so (1, 1)/sqrt 2, not (3, 4)/5
    expected = np.array([[h, h, 0, 0], [0, 0, h, h], [h, h, 0, 0]], dtype=np.float32)
    np.testing.assert_allclose(text.embeddings[:, 0], expected, atol=1e-6)
    assert text.embeddings.shape == (3, 1, 4) and text.prompts == ["{}"]
    assert text.class_names == names and text.class_texts == ["weight lift", "play daf", "Skyjet"]
    assert text.prompt_set == "e2e" and text.file_stem.startswith("word2vec-e2e-")
    np.testing.assert_allclose(text.words[0], [[1, 0, 0, 0], [0, 1, 0, 0]], atol=1e-6)
    assert text.word_mask.tolist() == [[True, True], [True, True], [True, False]]


def test_missing_words_warn_and_a_class_with_none_is_an_error(tmp_path, caplog):
    path = write_word2vec_txt(tmp_path / "v.txt", {"play": [1.0, 0.0, 0.0]}, header=False)
    encoder = create_text_encoder(TextEncoderConfig("word2vec", model=str(path)))
    with caplog.at_level(logging.WARNING):
        text = encode_classes(encoder, ["PlayingDaf"], ["playing daf"], "e2e", dataset="ucf101")
    np.testing.assert_allclose(text.embeddings[0, 0], [1, 0, 0])
    assert "['daf'] are not in word2vec:v.txt" in caplog.text
    with pytest.raises(ZsarError, match=r"class 'YoYo': none of its words \['yoyo'\]"):
        encode_classes(encoder, ["YoYo"], ["yo yo"], "e2e", dataset="ucf101")


def test_recipes_need_a_word_vector_encoder():
    class Sentences(TextEncoder):
        name, model_id, dim = "sentences", "s", 2

        def _embed(self, texts):
            return np.ones((len(texts), 2))

    with pytest.raises(ZsarError, match="--prompts e2e averages word vectors; use it with --text-encoder word2vec"):
        encode_classes(Sentences(), ["a"], ["a"], "e2e", dataset="ucf101")
    assert load_prompts("e2e") == ("e2e", ["{}"]) and load_prompts("aurl") == ("aurl", ["{}"])


def test_extract_writes_the_e2e_text_beside_the_plain_one(tmp_path):
    synth = make_synth(tmp_path / "synth", classes=2, per_class=1, frames=8)
    config = dict(backbone="tiny-random", text_encoder="tiny-random", cache=tmp_path / "cache", workers=0,
                  resolution=40)
    first = extract(ExtractConfig(dataset="synthetic", root=synth, prompts="plain", **config))
    second = extract(ExtractConfig(dataset="synthetic", root=synth, prompts="e2e", **config))
    assert first.cache_dir == second.cache_dir and second.skipped == 2
    stems = sorted(p.stem.rsplit("-", 1)[0] for p in (first.cache_dir / "text").glob("*.h5"))
    assert stems == ["tiny-random-e2e", "tiny-random-plain"]
    text = load_text(first.cache_dir, "tiny-random-e2e")
    assert text.prompt_set == "e2e" and text.embeddings.shape == (2, 1, 16)
    assert text.class_texts == [" ".join(E2E.words("synthetic", n)) for n in text.class_names]
