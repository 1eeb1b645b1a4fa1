"""Tiny random CLIP and X-CLIP checkpoints, and each backbone family's tiny instance for tests.

``write_tiny_clip`` / ``write_tiny_xclip`` save a ``CLIPModel`` / ``XCLIPModel`` 32 wide, 2
layers, 32x32 images, 8x8 patches (and a character-level ``CLIPTokenizer``) with
``save_pretrained``, so ``--weights DIR`` and the ``clip`` text encoder go through the same
loading path as real weights. ``tiny_clip_config`` and ``tiny_xclip_config`` are the CLIP
family's ``tiny`` hooks in ``BACKBONES``: the contract test builds every registered backbone
from its hook (``zsar.testing`` hands the writers to tests as its dummies).
"""

from __future__ import annotations

import string
from pathlib import Path

from zsar.extract.models.backbones import BackboneConfig

TINY_IMAGE = 32
TINY_PATCH = 8
TINY_WIDTH = 32
TINY_PROJECTION = 24
TINY_FRAMES = 8
_CHARS = string.ascii_lowercase + string.digits + ",.?!'"


def _tiny_vocab() -> dict[str, int]:
    """Special tokens + every character alone and word-final (CLIP's ``</w>``); no merges."""
    vocab = {"<|startoftext|>": 0, "<|endoftext|>": 1}
    for ch in _CHARS:
        vocab[ch] = len(vocab)
        vocab[ch + "</w>"] = len(vocab)
    return vocab


def _text_config(vocab_size: int) -> dict:
    return dict(vocab_size=vocab_size, hidden_size=TINY_WIDTH, intermediate_size=2 * TINY_WIDTH,
                num_hidden_layers=2, num_attention_heads=2, max_position_embeddings=77,
                bos_token_id=0, eos_token_id=1, pad_token_id=1)


def _vision_config() -> dict:
    return dict(hidden_size=TINY_WIDTH, intermediate_size=2 * TINY_WIDTH, num_hidden_layers=2,
                num_attention_heads=2, image_size=TINY_IMAGE, patch_size=TINY_PATCH)


def write_tiny_clip(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random CLIP model + tokenizer into ``folder``; returns ``folder``."""
    import torch
    from transformers import CLIPConfig, CLIPModel, CLIPTokenizer

    vocab = _tiny_vocab()
    torch.manual_seed(seed)
    config = CLIPConfig(text_config=_text_config(len(vocab)), vision_config=_vision_config(),
                        projection_dim=TINY_PROJECTION)
    folder = Path(folder)
    CLIPModel(config).save_pretrained(folder)
    CLIPTokenizer(vocab=vocab, merges=[]).save_pretrained(folder)
    return folder


def write_tiny_xclip(folder: Path, seed: int = 0) -> Path:
    """Save a tiny random X-CLIP model (8 frames) into ``folder``; returns ``folder``."""
    import torch
    from transformers import XCLIPConfig, XCLIPModel

    torch.manual_seed(seed)
    vision = dict(_vision_config(), mit_hidden_size=TINY_PROJECTION, mit_intermediate_size=2 * TINY_PROJECTION,
                  mit_num_attention_heads=2, num_frames=TINY_FRAMES)
    config = XCLIPConfig(text_config=_text_config(len(_tiny_vocab())), vision_config=vision,
                         projection_dim=TINY_PROJECTION, prompt_num_attention_heads=2)
    folder = Path(folder)
    XCLIPModel(config).save_pretrained(folder)
    return folder


def tiny_clip_config(name: str, folder: Path) -> BackboneConfig:
    """A CLIP backbone ``name`` on tiny random weights written into ``folder``."""
    return BackboneConfig(name=name, weights=write_tiny_clip(Path(folder) / "tiny-clip"))


def tiny_xclip_config(name: str, folder: Path) -> BackboneConfig:
    """An X-CLIP backbone ``name`` on tiny random weights (8 frames) written into ``folder``."""
    return BackboneConfig(name=name, weights=write_tiny_xclip(Path(folder) / "tiny-xclip"))
