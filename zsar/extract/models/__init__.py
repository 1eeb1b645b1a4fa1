"""The models of extraction: visual backbones, text encoders and what they read.

- ``backbones``: ``BACKBONES``, ``Backbone`` (frozen, a pure tensor function) and the
  built-in networks (tiny-random, efficientnet-lite0, r2plus1d-18);
- ``clip``: the CLIP and X-CLIP backbones and the CLIP text tower;
- ``text_encoders``: ``TEXT_ENCODERS``, ``encode_classes`` and the sentence and word-vector
  encoders;
- ``word_vectors``: GloVe and word2vec tables; ``prompts``: prompt templates as data;
- ``hf``: the one place Hugging Face models are loaded (offline).

``BACKBONES`` and ``TEXT_ENCODERS`` import ``clip`` (which registers the CLIP family) the
first time they are read, whichever of these modules was imported first.

The names below are imported on first use (``__getattr__``), so importing a light module of
this package (``prompts``, ``hf``) does not import torch.
"""

import importlib
from typing import Any

_FROM = {**dict.fromkeys(("BACKBONES", "Backbone", "BackboneConfig", "FramewiseNet", "PixelNorm", "create_backbone",
                          "list_backbones"), "zsar.extract.models.backbones"),
         **dict.fromkeys(("TEXT_ENCODERS", "TextEncoder", "TextEncoderConfig", "create_text_encoder", "encode_classes",
                          "list_text_encoders"), "zsar.extract.models.text_encoders")}

__all__ = sorted(_FROM)


def __getattr__(name: str) -> Any:
    if name in _FROM:
        return getattr(importlib.import_module(_FROM[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
