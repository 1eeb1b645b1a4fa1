"""``zsar predict --backbone clip-... --text-encoder clip``: the training-free frozen head, on a tiny random CLIP.

Random weights say nothing about accuracy; the test checks that predict's scores are
exactly ``frozen_scores`` of the cached features against the labels' prompt embeddings,
that labels are encoded with the given prompts, and that a pair of models without one
joint space is refused in one line.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import zsar
from zsar.cache.features import load_features
from zsar.cache.layout import CacheLayout
from zsar.cache.text import list_text_files, read_text_embeddings
from zsar.errors import ZsarError
from zsar.heads.frozen import frozen_scores
from zsar.synth import SynthConfig, generate_dataset
from zsar.testing import write_tiny_clip

LABELS = ["wave hand", "squat", "clap hands", "kick"]


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("frozen")
    data = generate_dataset(SynthConfig(classes=3, per_class=2, frames=8, width=64, height=64), root / "data")
    return root, write_tiny_clip(root / "clip"), data / "videos"


def test_frozen_scores_of_the_cached_features_against_the_prompt_ensemble(setup):
    root, clip, videos = setup
    options = dict(backbone="clip-vit-b16", weights=clip, text_encoder="clip", text_model=str(clip), prompts="plain",
                   frames=4, cache=root / "cache", workers=0, top_k=4)
    result = zsar.predict(videos, LABELS, **options)
    assert len(result) == 6 and result.model == "frozen clip-vit-b16 + clip"
    features = load_features(result.cache_dir)
    [text_file] = list_text_files(CacheLayout(result.cache_dir))
    text = read_text_embeddings(text_file)
    assert text.class_names == LABELS and text.prompts == ["{}"] and text.embeddings.shape[:2] == (4, 1)
    expected = frozen_scores(torch.as_tensor(features.features), torch.as_tensor(text.embeddings)).numpy()
    position = {vid.rsplit("@", 1)[0]: i for i, vid in enumerate(features.video_ids)}  # id: path@size-mtime
    for row in result:
        i = position[row.path]
        assert list(row.labels) == [LABELS[j] for j in np.argsort(-expected[i], kind="stable")]
        assert np.allclose(row.scores, np.sort(expected[i])[::-1], atol=1e-5)
    again = zsar.predict(videos, LABELS, **options)
    assert again.decoded == 0 and again.records() == result.records()


def test_frozen_needs_one_joint_space(setup):
    root, _, videos = setup
    with pytest.raises(ZsarError, match="one joint space"):
        zsar.predict(videos, LABELS, backbone="tiny-random", text_encoder="tiny-random", prompts="plain",
                     cache=root / "cache-tiny", workers=0)
