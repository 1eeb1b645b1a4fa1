"""CLIP in zsar: the CLIP and X-CLIP backbones (``BACKBONES``) and the CLIP text tower (``TEXT_ENCODERS``).

All come from Hugging Face ``transformers``, loaded by ``hf.load_hf_model`` (``--weights`` /
``--text-model``, the Hugging Face cache, or the hub on first use unless offline). A CLIP backbone and the
``clip`` text encoder made from the same weights name the same joint ``space``, so raw
features can be scored against the label text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor, nn

from zsar.devices import resolve_device
from zsar.errors import ZsarError
from zsar.extract.models.backbones import BACKBONES, CLIP_NORM, Backbone, BackboneConfig, FramewiseNet, ModelCall
from zsar.extract.models.hf import from_cache_or_hub, hf_cache_dir, joint_space, load_hf_model, pooled_embedding
from zsar.extract.models.text_encoders import BATCH_SIZE, TEXT_ENCODERS, TextEncoder, TextEncoderConfig
from zsar.extract.models.tiny_weights import tiny_clip_config, tiny_xclip_config
from zsar.registry import JOINT_SPACE

CLIP_MODEL_IDS = {
    "clip-vit-b32": "openai/clip-vit-base-patch32",
    "clip-vit-b16": "openai/clip-vit-base-patch16",
    "clip-vit-l14": "openai/clip-vit-large-patch14",
}
XCLIP_MODEL_IDS = {
    "xclip-b32": "microsoft/xclip-base-patch32",
    "xclip-b16": "microsoft/xclip-base-patch16",
}
DEFAULT_CLIP_TEXT_MODEL = "openai/clip-vit-base-patch16"


def backbone_space(name: str, weights: Path | None) -> str | None:
    """The joint space CLIP backbone ``name`` names with ``weights`` (None: not a CLIP backbone), loading nothing."""
    return joint_space(CLIP_MODEL_IDS[name], weights) if name in CLIP_MODEL_IDS else None


def text_model_reference(model: str | None) -> tuple[str, Path | None]:
    """``--text-model`` of the clip text encoder -> ``(hub id, local weights or None)`` (default: ViT-B/16's)."""
    model_ref = model or DEFAULT_CLIP_TEXT_MODEL
    local = Path(model_ref).expanduser()
    weights = local if local.exists() else None
    return (DEFAULT_CLIP_TEXT_MODEL if weights is not None else model_ref), weights


def text_space(model: str | None) -> str:
    """The joint space the clip text encoder names with ``--text-model`` ``model``, loading nothing."""
    return joint_space(*text_model_reference(model))


def clip_image_features(model: nn.Module, x: Tensor) -> Tensor:
    """CLIP vision tower + projection: ``(N, 3, S, S)`` -> ``(N, projection_dim)``."""
    return pooled_embedding(model.get_image_features(pixel_values=x))


def xclip_video_features(model: nn.Module, x: Tensor) -> Tensor:
    """X-CLIP video encoder (frames + multi-frame integration transformer): ``(B, T, 3, S, S)`` -> ``(B, 1, D)``."""
    return pooled_embedding(model.get_video_features(pixel_values=x)).unsqueeze(1)


def _create_clip(config: BackboneConfig) -> Backbone:
    from transformers import CLIPModel

    model_id = CLIP_MODEL_IDS[config.name]
    model, weights_id = load_hf_model(CLIPModel, config.name, model_id, config.weights)
    model.text_model = None  # only the vision tower and projection are used
    return Backbone(FramewiseNet(ModelCall(model, clip_image_features)), name=config.name,
                    input_size=int(model.config.vision_config.image_size), kind="frame",
                    feature_dim=int(model.config.projection_dim), weights_id=weights_id, norm=CLIP_NORM,
                    config=config, space=joint_space(model_id, config.weights))


def _create_xclip(config: BackboneConfig) -> Backbone:
    from transformers import XCLIPModel

    model_id = XCLIP_MODEL_IDS[config.name]
    model, weights_id = load_hf_model(XCLIPModel, config.name, model_id, config.weights)
    vision = model.config.vision_config
    return Backbone(ModelCall(model, xclip_video_features), name=config.name, input_size=int(vision.image_size),
                    kind="video", feature_dim=int(model.config.projection_dim), weights_id=weights_id,
                    norm=CLIP_NORM, config=config, frames_in=int(vision.num_frames),
                    space=joint_space(model_id, config.weights))


for _name, _id in CLIP_MODEL_IDS.items():
    BACKBONES.add(_name, _create_clip, help=f"CLIP image tower {_id} (transformers; frame-level)",
                  tags=(JOINT_SPACE,), tiny=tiny_clip_config)
for _name, _id in XCLIP_MODEL_IDS.items():
    BACKBONES.add(_name, _create_xclip, help=f"X-CLIP video encoder {_id} (transformers; video-level, 8 frames)",
                  tiny=tiny_xclip_config)


# --- the CLIP text tower ---------------------------------------------------------------------

class ClipTextEncoder(TextEncoder):
    """The CLIP text tower + projection (``get_text_features``), in the space of the same CLIP backbone."""

    def __init__(self, name: str, model: Any, tokenizer: Any, model_id: str, space: str, device: Any) -> None:
        self.name, self.model, self.tokenizer = name, model, tokenizer
        self.model_id, self.space, self.device = model_id, space, device
        self.dim = int(model.config.projection_dim)
        self.max_length = int(model.config.text_config.max_position_embeddings)

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), BATCH_SIZE):
                batch = self.tokenizer(texts[start:start + BATCH_SIZE], padding=True, truncation=True,
                                       max_length=self.max_length, return_tensors="pt").to(self.device)
                chunks.append(pooled_embedding(self.model.get_text_features(**batch)).float().cpu().numpy())
        return np.concatenate(chunks)


@TEXT_ENCODERS.register("clip", help="CLIP text tower (--text-model HF id or dir; pairs with the CLIP backbone)",
                        tags=(JOINT_SPACE,))
def create_clip_text(config: TextEncoderConfig) -> TextEncoder:
    device = resolve_device(config.device)
    from transformers import CLIPModel, CLIPTokenizer

    model_ref = config.model or DEFAULT_CLIP_TEXT_MODEL
    model_id, weights = text_model_reference(config.model)
    model, weights_id = load_hf_model(CLIPModel, "the clip text encoder", model_id, weights, flag="--text-model")
    model.vision_model = None  # only the text tower and projection are used
    folder = (weights if weights.is_dir() else weights.parent) if weights is not None else None
    try:
        tokenizer = (CLIPTokenizer.from_pretrained(folder, local_files_only=True) if folder is not None else
                     from_cache_or_hub(lambda: CLIPTokenizer.from_pretrained(
                         model_id, cache_dir=str(hf_cache_dir()), local_files_only=True),
                         model_id, "the clip text encoder", "--text-model"))
    except (OSError, ValueError, TypeError) as e:
        raise ZsarError(f"no CLIP tokenizer for {model_ref} (looked in {folder or hf_cache_dir()}); save it "
                        f"beside the weights with CLIPTokenizer.save_pretrained ({type(e).__name__})") from None
    model.to(device).eval().requires_grad_(False)
    return ClipTextEncoder(config.name, model, tokenizer, weights_id, joint_space(model_id, weights), device)
