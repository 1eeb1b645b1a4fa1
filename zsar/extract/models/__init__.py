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
"""

from zsar.extract.models.backbones import (BACKBONES, Backbone, BackboneConfig, FramewiseNet, PixelNorm,
                                           create_backbone, list_backbones)
from zsar.extract.models.text_encoders import (TEXT_ENCODERS, TextEncoder, TextEncoderConfig, create_text_encoder,
                                               encode_classes, list_text_encoders)

__all__ = ["BACKBONES", "Backbone", "BackboneConfig", "FramewiseNet", "PixelNorm", "TEXT_ENCODERS", "TextEncoder",
           "TextEncoderConfig", "create_backbone", "create_text_encoder", "encode_classes", "list_backbones",
           "list_text_encoders"]
