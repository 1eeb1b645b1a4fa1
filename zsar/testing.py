"""Test dummies: data and models with known properties, built in memory or in a folder, offline.

For zsar's tests and benchmarks, and for anyone testing code on top of zsar (as lhotse's
``testing/dummies.py``):

- structured features (``make_structured_features``, ``write_structured_cache``): every
  class c has a random unit text embedding ``t_c``; its videos' frame features are ``A t_c``
  (``A`` one fixed random linear map for all classes, seen and unseen alike) plus per-video
  and per-frame Gaussian noise, and its prompt embeddings are ``t_c`` plus a little noise. A
  head that learns the map on some classes can therefore recognise the others zero-shot;
  with shuffled labels there is nothing to learn. The cache is an ordinary one (three
  seeded 70/30 official-style splits and the text), written by ``zsar.cache.from_arrays``;
- a shared video-text space (``make_shared_space``, ``write_shared_space_cache``): features
  and label text of one joint space (the cache's and the text's ``space`` agree, as CLIP
  features with CLIP text), where the training-free rule (``frozen``) is imperfect and a
  map learned on seen classes transfers: every video's pooled direction is
  ``Q t_c + gap`` plus noise, with ``Q`` one fixed distortion of the identity and ``gap``
  one offset (CLIP's modality gap) for all classes. The frames of a video come in pairs
  ``r (d +- n)`` with ``n`` orthogonal to the planted direction ``d`` and the prompts of a
  class likewise around ``t_c``, so the mean of the normalised frames (and of the
  normalised prompts) points exactly along the planted direction, and ``frozen_top1``
  gives the accuracy the planted structure implies for the training-free rule;
- random label text (``random_text``): seeded unit embeddings for given classes;
- planted objects (``write_planted_objects_cache``, ``random_object_vocabulary``): a cache
  whose object vocabulary (``zsar.cache.objects``: a classifier and object-name text) is
  built so that the classifier's most probable objects of each class's videos are known,
  and each label's text is closest to the names of its class's objects;
- the typed files of a run directory (``dummy_run_config``, ``write_dummy_run_files``: the
  config, and the metrics and predictions of given splits) for code that reads runs, beside
  splits written with ``zsar.runs.results.write_split_result``;
- a model in a Hugging Face hub cache's own layout (``write_hf_snapshot``), as a download leaves it;
- tiny random CLIP / X-CLIP checkpoints (``write_tiny_clip``, ``write_tiny_xclip``, defined
  with the CLIP family's tiny hooks in ``zsar.extract.models.tiny_weights``): a ``CLIPModel``
  32 wide, 2 layers, 32x32 images, 8x8 patches, and a character-level ``CLIPTokenizer``,
  saved with ``save_pretrained``, so ``--weights DIR`` and the ``clip`` text encoder go
  through the same loading path as real weights.

The registries' own tiny entries (the ``tiny-random`` backbone and text encoder) live with
the components they stand in for.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cache.layout import CacheLayout
from zsar.cache.objects import ObjectVocabulary, write_object_vocabulary
from zsar.runs.files import (CacheRecord, RunConfig, RunLayout, RunMetrics, SplitRecord, write_run_config,
                             write_run_metrics)
from zsar.runs.results import SplitResult, write_predictions
from zsar.cache.text import TextEmbeddings
from zsar.extract.models.tiny_weights import (TINY_FRAMES, TINY_PROJECTION,  # noqa: F401 (the dummies of tests)
                                             write_tiny_clip, write_tiny_xclip)
from zsar.vectors import l2_normalise

# --- structured features ------------------------------------------------------------------------

OFFICIAL_TRAIN_FRACTION = 0.7
N_OFFICIAL_SPLITS = 3


@dataclass(frozen=True, kw_only=True)
class StructuredConfig:
    """Sizes and noise levels of a structured feature set (noise relative to unit-variance signal)."""

    classes: int = 20
    videos: int = 400  # spread as evenly as possible over the classes
    clips: int = 1
    frames: int = 4
    dim: int = 32
    text_dim: int = 16
    prompts: int = 3
    video_noise: float = 1.0
    frame_noise: float = 1.0
    prompt_noise: float = 0.3
    seed: int = 0
    chunk: int | None = None  # videos drawn at a time (other values, other draws); None: all at once


@dataclass(kw_only=True)
class StructuredFeatures:
    """``features`` ``(N, clips, T', D)`` float16, ``labels`` ``(N,)``, class names, text, official-style splits."""

    features: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    text: TextEmbeddings
    splits: dict[str, list[str]]


def make_structured_features(config: StructuredConfig, out: np.ndarray | None = None) -> StructuredFeatures:
    """Draw a structured feature set (deterministic for ``config.seed`` and ``config.chunk``).

    ``out``: the float16 ``(N, clips, T', D)`` array to fill (e.g. a memory map, for a set
    larger than memory with ``config.chunk``); a new array by default.
    """
    c = config
    rng = np.random.default_rng(c.seed)
    text = l2_normalise(rng.normal(size=(c.classes, c.text_dim)))
    centres = text @ rng.normal(size=(c.text_dim, c.dim))
    labels = np.sort(np.arange(c.videos) % c.classes)
    n = len(labels)
    frames = np.empty((n, c.clips, c.frames, c.dim), dtype=np.float16) if out is None else out
    for start in range(0, n, c.chunk or max(n, 1)):
        rows = labels[start:start + (c.chunk or n)]
        video = centres[rows] + c.video_noise * rng.normal(size=(len(rows), c.dim))
        noise = c.frame_noise * rng.normal(size=(len(rows), c.clips, c.frames, c.dim))
        frames[start:start + len(rows)] = video[:, None, None, :] + noise
    noise = rng.normal(size=(c.classes, c.prompts, c.text_dim))
    prompts = text[:, None, :] + c.prompt_noise * noise / np.sqrt(c.text_dim)
    names = [f"class_{i:03d}" for i in range(c.classes)]
    embeddings = TextEmbeddings(encoder="structured", model_id=f"structured-seed{c.seed}", prompt_set="plain",
                                class_names=names,
                                class_texts=[name.replace("_", " ") for name in names],
                                prompts=[f"prompt {i}: {{}}" for i in range(c.prompts)],
                                embeddings=l2_normalise(prompts).astype(np.float32))
    return StructuredFeatures(features=frames, labels=labels, class_names=names, text=embeddings,
                              splits=_official_splits(labels, rng))


def _official_splits(labels: np.ndarray, rng: np.random.Generator) -> dict[str, list[str]]:
    """Three seeded splits, each with ~70% of every class's videos ``train`` and the rest ``test``."""
    splits = {}
    for i in range(1, N_OFFICIAL_SPLITS + 1):
        column = np.full(len(labels), "test", dtype=object)
        for label in np.unique(labels):
            members = rng.permutation(np.flatnonzero(labels == label))
            column[members[: int(round(OFFICIAL_TRAIN_FRACTION * len(members)))]] = "train"
        splits[f"split{i}"] = column.tolist()
    return splits


def write_structured_cache(folder: Path, config: StructuredConfig, dataset: str = "structured") -> CacheLayout:
    """Write a structured feature set as a cache at ``folder``.

    With ``config.chunk`` the features are drawn into a temporary memory map beside
    ``folder``, so a set larger than memory (``bench/scale.py``'s 1.6 GB) is written in the
    memory of one chunk and one shard.
    """
    if config.chunk is None:
        return _write_structured(folder, make_structured_features(config), config, dataset)
    Path(folder).parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=Path(folder).parent) as tmp:
        out = np.lib.format.open_memmap(Path(tmp) / "features.npy", mode="w+", dtype=np.float16,
                                        shape=(config.videos, config.clips, config.frames, config.dim))
        return _write_structured(folder, make_structured_features(config, out), config, dataset)


def _write_structured(folder: Path, data: StructuredFeatures, config: StructuredConfig, dataset: str) -> CacheLayout:
    return write_cache_from_arrays(folder, data.features, data.labels, data.class_names, dataset=dataset,
                                   backbone="structured", splits=data.splits, text=data.text,
                                   extra_config={"structured_seed": config.seed})


# --- a shared video-text space -------------------------------------------------------------------

SHARED_MARGIN = 2e-3  # min gap between a video's cosines to any two classes (float16 storage stays exact)
MAX_REDRAWS = 100


@dataclass(frozen=True, kw_only=True)
class SharedSpaceConfig:
    """Sizes and strengths of a shared-space feature set: ``distortion`` of ``Q`` (0: the identity),
    length of the ``gap``, noise of each video's direction, of its frames and of the prompts."""

    classes: int = 64
    videos: int = 768
    clips: int = 1
    frames: int = 4  # even: frames come in +- pairs
    dim: int = 24
    prompts: int = 4  # even: prompts come in +- pairs
    distortion: float = 1.5
    gap: float = 0.5
    video_noise: float = 0.5
    frame_noise: float = 1.0
    prompt_noise: float = 0.5
    seed: int = 0
    space: str = "shared-test"


@dataclass(kw_only=True)
class SharedSpace(StructuredFeatures):
    """A shared-space set: ``directions`` ``(N, D)`` are each video's planted pooled direction and
    ``text.mean`` the classes' planted directions."""

    directions: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def frozen_top1(self, rows: np.ndarray, candidates: np.ndarray) -> float:
        """The training-free top-1 (percent) the planted structure implies for ``rows`` among class ``candidates``."""
        scores = self.directions[rows] @ self.text.mean[candidates].T
        return 100 * float(np.mean(candidates[scores.argmax(axis=1)] == self.labels[rows]))


def _pairs(rng: np.random.Generator, centres: np.ndarray, count: int, noise: float) -> np.ndarray:
    """``(N, count, D)``: ``centres`` ``(N, D)`` (unit) +- noise orthogonal to them, ``count // 2`` pairs each."""
    n, dim = centres.shape
    offsets = noise * rng.normal(size=(n, count // 2, dim)) / np.sqrt(dim)
    offsets -= np.einsum("nkd,nd->nk", offsets, centres)[..., None] * centres[:, None]
    return centres[:, None] + np.concatenate([offsets, -offsets], axis=1)


def _video_directions(c: SharedSpaceConfig, rng: np.random.Generator, text: np.ndarray,
                      labels: np.ndarray) -> np.ndarray:
    """Unit ``Q t_c + gap + noise`` per video, redrawn where two classes score within ``SHARED_MARGIN``."""
    q = np.eye(c.dim) + c.distortion * rng.normal(size=(c.dim, c.dim)) / np.sqrt(c.dim)
    centres = l2_normalise(text @ q.T) + c.gap * l2_normalise(rng.normal(size=c.dim))
    directions = np.zeros((len(labels), c.dim))
    todo = np.arange(len(labels))
    for _ in range(MAX_REDRAWS):
        noise = c.video_noise * rng.normal(size=(len(todo), c.dim)) / np.sqrt(c.dim)
        directions[todo] = l2_normalise(centres[labels[todo]] + noise)
        cosines = np.sort(directions[todo] @ text.T, axis=1)
        todo = todo[np.diff(cosines, axis=1).min(axis=1) < SHARED_MARGIN]
        if not len(todo):
            break
    return directions


def make_shared_space(config: SharedSpaceConfig) -> SharedSpace:
    """Draw a shared-space feature set (deterministic for ``config.seed``); see the module docstring."""
    c = config
    if c.frames % 2 or c.prompts % 2:
        raise ValueError(f"frames ({c.frames}) and prompts ({c.prompts}) must be even: they come in +- pairs")
    rng = np.random.default_rng(c.seed)
    text = l2_normalise(rng.normal(size=(c.classes, c.dim)))
    labels = np.sort(np.arange(c.videos) % c.classes)
    directions = _video_directions(c, rng, text, labels)
    frames = _pairs(rng, np.repeat(directions, c.clips, axis=0), c.frames, c.frame_noise)
    scale = rng.uniform(0.5, 2.0, size=(len(labels), 1, 1, 1))
    features = (scale * frames.reshape(len(labels), c.clips, c.frames, c.dim)).astype(np.float16)
    names = [f"class_{i:03d}" for i in range(c.classes)]
    prompts = l2_normalise(_pairs(rng, text, c.prompts, c.prompt_noise))
    embeddings = TextEmbeddings(encoder="shared", model_id=f"shared-seed{c.seed}", prompt_set="plain",
                                class_names=names,
                                class_texts=[name.replace("_", " ") for name in names],
                                prompts=[f"prompt {i}: {{}}" for i in range(c.prompts)],
                                embeddings=prompts.astype(np.float32),
                                space=c.space)
    return SharedSpace(features=features, labels=labels, class_names=names, text=embeddings,
                       splits=_official_splits(labels, rng), directions=directions)


def write_shared_space_cache(folder: Path, config: SharedSpaceConfig, dataset: str = "shared") -> SharedSpace:
    """Write a shared-space set as a cache at ``folder`` (its ``space`` is the text's); returns the set."""
    data = make_shared_space(config)
    write_cache_from_arrays(folder, data.features, data.labels, data.class_names, dataset=dataset,
                            backbone="shared", splits=data.splits, text=data.text,
                            extra_config={"space": config.space, "shared_seed": config.seed})
    return data


# --- random label text --------------------------------------------------------------------------

def random_text(class_names: list[str], class_texts: list[str] | None = None, prompts: int = 1, dim: int = 8,
                seed: int = 0) -> TextEmbeddings:
    """Seeded random unit label embeddings ``(C, prompts, dim)``; classes with equal texts get equal vectors.

    ``class_texts`` default to the names with spaces for underscores.
    """
    rng = np.random.default_rng(seed)
    texts = list(class_texts) if class_texts is not None else [c.replace("_", " ") for c in class_names]
    vectors = {t: rng.normal(size=(prompts, dim)) for t in dict.fromkeys(texts)}
    templates = ["{}"] if prompts == 1 else [f"prompt {i}: {{}}" for i in range(prompts)]
    return TextEmbeddings(encoder="test-enc", model_id="random", prompt_set="plain", class_names=list(class_names),
                          class_texts=texts, prompts=templates,
                          embeddings=l2_normalise(np.stack([vectors[t] for t in texts])).astype(np.float32))


# --- planted objects (the objects head) ------------------------------------------------------------

OBJECT_CLASSES = 1000  # the ImageNet-1k classes a vocabulary holds


def random_object_vocabulary(video_dim: int, text_dim: int, seed: int = 0, weights_id: str = "test-classifier",
                             encoder: str = "test-enc", model_id: str = "random") -> ObjectVocabulary:
    """A seeded random classifier ``(1000, video_dim)`` and unit object text ``(1000, text_dim)``."""
    rng = np.random.default_rng(seed)
    return ObjectVocabulary(names=[f"object {i}" for i in range(OBJECT_CLASSES)], template="{}",
                            weight=rng.normal(size=(OBJECT_CLASSES, video_dim)).astype(np.float32),
                            bias=np.zeros(OBJECT_CLASSES, np.float32),
                            embeddings=l2_normalise(rng.normal(size=(OBJECT_CLASSES, text_dim))).astype(np.float32),
                            weights_id=weights_id, encoder=encoder, model_id=model_id, names_sha256="test")


@dataclass(frozen=True, kw_only=True)
class PlantedObjectsConfig:
    """``classes`` x ``videos`` per class; class c's videos show ``objects`` objects of their own (``strength``:
    their logit, over a background near 0); ``dim`` features (at least ``classes * objects``), ``text_dim`` text."""

    classes: int = 6
    videos: int = 6
    objects: int = 2
    dim: int = 32
    text_dim: int = 64
    frames: int = 4
    strength: float = 8.0
    noise: float = 0.2
    seed: int = 0


@dataclass(kw_only=True)
class PlantedObjects:
    """The cache's layout, each class's planted objects ``(C, objects)``, labels and the vocabulary."""

    layout: CacheLayout
    class_objects: np.ndarray
    labels: np.ndarray
    vocabulary: ObjectVocabulary
    text: TextEmbeddings


def write_planted_objects_cache(folder: Path, config: PlantedObjectsConfig = PlantedObjectsConfig()) -> PlantedObjects:
    """A cache whose classifier's top objects are known, and each label's text closest to its objects' names.

    The classifier gives object ``O[c, j]`` the feature direction ``e_(c * objects + j)`` with weight
    ``strength`` and every other object small random weights; a video of class c has features
    ``sum_j e_(c * objects + j)`` plus noise, so its most probable objects are ``O[c]``. Object
    texts are random unit vectors; label c's text is the normalised mean of ``O[c]``'s texts plus noise.
    """
    c = config
    assert c.dim >= c.classes * c.objects, "one feature direction per planted object"
    rng = np.random.default_rng(c.seed)
    class_objects = rng.choice(OBJECT_CLASSES, size=(c.classes, c.objects), replace=False)
    vocabulary = random_object_vocabulary(c.dim, c.text_dim, c.seed)
    vocabulary.weight *= 0.05
    for k, obj in enumerate(class_objects.ravel()):
        vocabulary.weight[obj] = 0
        vocabulary.weight[obj, k] = c.strength
    labels = np.repeat(np.arange(c.classes), c.videos)
    features = rng.normal(scale=c.noise, size=(len(labels), 1, c.frames, c.dim)).astype(np.float32)
    for i, label in enumerate(labels):
        features[i, :, :, label * c.objects:(label + 1) * c.objects] += 1.0
    label_vectors = vocabulary.embeddings[class_objects].mean(axis=1)
    label_vectors += rng.normal(scale=0.02, size=label_vectors.shape)
    names = [f"action {i}" for i in range(c.classes)]
    text = TextEmbeddings(encoder=vocabulary.encoder, model_id=vocabulary.model_id, prompt_set="plain",
                          class_names=names, class_texts=names, prompts=["{}"],
                          embeddings=l2_normalise(label_vectors)[:, None].astype(np.float32))
    split = {"split1": ["train" if i % c.videos < c.videos // 2 else "test" for i in range(len(labels))]}
    layout = write_cache_from_arrays(folder, features, labels, names, dataset="planted-objects", splits=split,
                                     text=text, extra_config={"weights_id": vocabulary.weights_id})
    write_object_vocabulary(layout.root, vocabulary)
    return PlantedObjects(layout=layout, class_objects=class_objects, labels=labels, vocabulary=vocabulary, text=text)


# --- a Hugging Face hub cache ---------------------------------------------------------------------


def write_hf_snapshot(cache_dir: Path, model_id: str, source: Path, commit: str = "0" * 40) -> Path:
    """Copy the files of ``source`` into a Hugging Face hub cache as ``model_id``'s snapshot at ``commit``.

    The hub's layout (``models--ORG--NAME/snapshots/<commit>/`` and ``refs/main``), so
    ``from_pretrained(model_id, cache_dir=..., local_files_only=True)`` finds it: what a
    download would leave. Returns the snapshot folder.
    """
    import shutil

    repo = Path(cache_dir) / f"models--{model_id.replace('/', '--')}"
    snapshot = repo / "snapshots" / commit
    shutil.copytree(source, snapshot, dirs_exist_ok=True)
    (repo / "refs").mkdir(parents=True, exist_ok=True)
    (repo / "refs" / "main").write_text(commit)
    return snapshot


def dummy_run_config(**changes: Any) -> RunConfig:
    """A ``RunConfig`` of a ``linear`` head on ``within-half`` reading a made-up cache; ``changes`` override fields."""
    cache = CacheRecord(path="/nowhere/cache", key="0" * 12, text="minilm-default-000000000000",
                        text_key="0" * 12, text_encoder="minilm", videos="0" * 16, videos_splits="0" * 16)
    from zsar.heads.protocols import WITHIN_HALF

    values: dict[str, Any] = dict(zsar="0", head="linear", head_config={}, protocol=WITHIN_HALF, splits=1,
                                  train={}, selection={}, transfer={}, rerank="none", features=cache)
    return RunConfig(**{**values, **changes})


def write_dummy_run_files(root: Path, results: list[SplitResult], **changes: Any) -> RunLayout:
    """Write ``config.json`` (``dummy_run_config(**changes)``) and, as ``zsar train-head`` does for the split
    ``results``, ``metrics.json`` and ``predictions.parquet`` to ``root``."""
    from zsar.heads.zero_shot import split_metrics, summarise_splits

    layout = RunLayout(root)
    config = dummy_run_config(**changes)
    per_split = [split_metrics(result)[0] for result in results]
    mean, std = summarise_splits(per_split)
    write_run_config(layout, config)
    write_predictions(layout.root, results)
    write_run_metrics(layout, RunMetrics(protocol=config.protocol, head=config.head, mean=mean, std=std,
                                         splits=tuple(SplitRecord(**m) for m in per_split)))
    return layout
