"""Extending zsar from your own module: a dataset, a backbone, a text encoder and a head.

Each component registers itself with a decorator when the module is imported. The CLI
imports the modules named in ``ZSAR_PLUGINS`` first, so with this folder on ``PYTHONPATH``::

    ZSAR_PLUGINS=zsar_plugin_example zsar extract --dataset flat --root clips/ \\
        --backbone colour-grid --text-encoder char-trigrams --prompts plain
    ZSAR_PLUGINS=zsar_plugin_example zsar train-head --features CACHE --head mlp \\
        --protocol within-half --splits 2 --out runs/mlp

(``tests/test_plugins.py`` runs exactly this.) From Python, ``import zsar_plugin_example``
does the same.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from zsar.extract.datasets import DATASETS, DatasetConfig, VideoDataset, VideoRecord, check_root, make_dataset, videos_in
from zsar.extract.models import (BACKBONES, TEXT_ENCODERS, Backbone, BackboneConfig, FramewiseNet, PixelNorm,
                                 TextEncoder, TextEncoderConfig)
from zsar.heads.base import HEADS, ClassText, Head, HeadDims

# --- a dataset: every video in one folder, named "<label>__<anything>.<ext>" -------------------

LABEL_SEPARATOR = "__"


@DATASETS.register("flat", help="one folder of <label>__<id>.mp4 files (example plugin)")
def load_flat(config: DatasetConfig) -> VideoDataset:
    root = check_root("flat", config.root)
    records = [VideoRecord(video_id=path.stem, path=path, label=path.stem.split(LABEL_SEPARATOR)[0])
               for path in videos_in(root) if LABEL_SEPARATOR in path.stem]
    return make_dataset("flat", records, f"{len(records)} videos named <label>__<id> in {root}", root=root)


# --- a backbone: the mean colour of a 4x4 grid of each frame (48-d, no weights) ---------------

GRID = 4
UNIT_NORM = PixelNorm((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))  # pixels in [0, 1]


@BACKBONES.register("colour-grid", help="mean colour of a 4x4 grid per frame (example plugin)")
def create_colour_grid(config: BackboneConfig) -> Backbone:
    grid = nn.Sequential(nn.AdaptiveAvgPool2d(GRID), nn.Flatten())  # (N, 3, S, S) -> (N, 3 * GRID * GRID)
    return Backbone(FramewiseNet(grid), name=config.name, input_size=64, kind="frame",
                    feature_dim=3 * GRID * GRID, weights_id="colour-grid:none", norm=UNIT_NORM,
                    config=config, any_size=True)


# --- a text encoder: hashed character trigrams (64-d) -----------------------------------------

TRIGRAM_DIM = 64


class CharTrigramEncoder(TextEncoder):
    """Counts of the text's character trigrams, hashed into ``TRIGRAM_DIM`` buckets."""

    def __init__(self, name: str) -> None:
        self.name, self.model_id, self.dim = name, "char-trigrams-md5", TRIGRAM_DIM

    def _embed(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            padded = f"  {text.lower()} "
            for j in range(len(padded) - 2):
                out[i, hashlib.md5(padded[j:j + 3].encode()).digest()[0] % self.dim] += 1.0
        return out


@TEXT_ENCODERS.register("char-trigrams", help="hashed character trigrams (example plugin)")
def create_char_trigrams(config: TextEncoderConfig) -> TextEncoder:
    return CharTrigramEncoder(config.name)


# --- a head: a two-layer MLP into the text space, cross-entropy on scaled cosines -------------

@dataclass(frozen=True)
class MLPConfig:
    hidden: int = 256
    scale: float = 10.0


@HEADS.register("mlp", help="two-layer MLP into the text space (example plugin)")
class MLPHead(Head):
    Config = MLPConfig
    tiny_options = {"hidden": 16}  # what zsar's contract test builds it with

    def __init__(self, dims: HeadDims, config: MLPConfig) -> None:
        super().__init__(dims, config)
        self.net = nn.Sequential(nn.Linear(dims.video_dim, config.hidden), nn.ReLU(),
                                 nn.Linear(config.hidden, dims.text_dim))

    def encode_clips(self, clips: Tensor) -> Tensor:  # (B, T', D) -> (B, Dt)
        return self.net(clips.mean(dim=1))

    def embed_classes(self, text: ClassText) -> Tensor:  # (C, 1, Dt): the prompts' normalised mean
        return text.mean[:, None]

    def loss(self, video: Tensor, targets: Tensor, text: ClassText, rng: torch.Generator) -> Tensor:
        logits = self.config.scale * self.embed_video(video) @ text.mean.T
        return F.cross_entropy(logits, targets)
