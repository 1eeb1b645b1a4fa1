"""Features with a known structure, for tests and benchmarks of the heads.

Every class c has a random unit text embedding ``t_c``; its videos' frame features are
``A t_c`` (``A`` one fixed random linear map for all classes, seen and unseen alike) plus
per-video and per-frame Gaussian noise, and its prompt embeddings are ``t_c`` plus a
little noise. A head that learns the map on some classes can therefore recognise the
others zero-shot; with shuffled labels there is nothing to learn.

``write_structured_cache`` stores such a set as an ordinary feature cache (with three
seeded 70/30 official-style splits and the text embeddings), through
``zsar.cache.from_arrays``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cache.layout import CacheLayout
from zsar.cache.text import TextEmbeddings
from zsar.vectors import l2_normalise

OFFICIAL_TRAIN_FRACTION = 0.7
N_OFFICIAL_SPLITS = 3


@dataclass(frozen=True)
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


@dataclass
class StructuredFeatures:
    """``features`` ``(N, clips, T', D)`` float16, ``labels`` ``(N,)``, class names, text, official-style splits."""

    features: np.ndarray
    labels: np.ndarray
    class_names: list[str]
    text: TextEmbeddings
    splits: dict[str, list[str]]


def make_structured_features(config: StructuredConfig) -> StructuredFeatures:
    """Draw a structured feature set (deterministic for ``config.seed``)."""
    c = config
    rng = np.random.default_rng(c.seed)
    text = l2_normalise(rng.normal(size=(c.classes, c.text_dim)))
    mapping = rng.normal(size=(c.text_dim, c.dim))
    labels = np.sort(np.arange(c.videos) % c.classes)
    n = len(labels)
    video = (text @ mapping)[labels] + c.video_noise * rng.normal(size=(n, c.dim))
    frames = video[:, None, None, :] + c.frame_noise * rng.normal(size=(n, c.clips, c.frames, c.dim))
    prompts = text[:, None, :] + c.prompt_noise * rng.normal(size=(c.classes, c.prompts, c.text_dim)) / np.sqrt(c.text_dim)
    names = [f"class_{i:03d}" for i in range(c.classes)]
    embeddings = TextEmbeddings("structured", f"structured-seed{c.seed}", "plain", names,
                                [name.replace("_", " ") for name in names],
                                [f"prompt {i}: {{}}" for i in range(c.prompts)],
                                l2_normalise(prompts).astype(np.float32))
    return StructuredFeatures(frames.astype(np.float16), labels, names, embeddings, _official_splits(labels, rng))


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
    """Write a structured feature set as a cache at ``folder``."""
    data = make_structured_features(config)
    return write_cache_from_arrays(folder, data.features, data.labels, data.class_names, dataset=dataset,
                                   backbone="structured", splits=data.splits, text=data.text,
                                   extra_config={"structured_seed": config.seed})
