"""Shared test data for the head tests: structured feature sets in memory, and fast training settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from zsar.cache.config import CacheConfig
from zsar.cache.features import FeatureSet
from zsar.cache.text import TextEmbeddings
from zsar.heads.protocols import ProtocolData
from zsar.heads.train import TrainConfig
from zsar.testing import StructuredConfig, make_structured_features

FAST = TrainConfig(epochs=8, batch_size=32, lr=1e-2)
TWELVE_CLASSES = StructuredConfig(classes=12, videos=144, frames=2, dim=16, text_dim=8)  # a cache for CLI runs


def structured_set(config: StructuredConfig = StructuredConfig(classes=40, videos=800)) -> tuple[FeatureSet, TextEmbeddings]:
    """A ``FeatureSet`` with known structure (no files) and its text embeddings."""
    data = make_structured_features(config)
    ids = [f"v{i:05d}" for i in range(len(data.labels))]
    splits = {k: np.asarray(v, dtype=object) for k, v in data.splits.items()}
    config = CacheConfig(key="test", dataset="s")
    return FeatureSet(features=data.features, labels=data.labels, video_ids=ids, class_names=data.class_names,
                      splits=splits, config=config), data.text


def protocol_data(config: StructuredConfig = StructuredConfig(classes=40, videos=800)) -> ProtocolData:
    features, text = structured_set(config)
    return ProtocolData(target=features, target_text=text)
