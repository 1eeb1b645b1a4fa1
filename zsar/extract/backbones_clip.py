"""CLIP and X-CLIP backbones (Hugging Face ``transformers``), registered into ``BACKBONES``.

Weights come from ``--weights`` (a directory written by ``save_pretrained``, or a weights
file beside a ``config.json``) or from the Hugging Face cache with ``local_files_only``:
nothing is downloaded at run time. ``load_hf_model`` is shared with the CLIP text encoder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from zsar.errors import ZsarError
from zsar.digests import file_digest
from zsar.extract.backbones import BACKBONES, CLIP_NORM, Backbone, BackboneConfig, FramewiseNet

CLIP_MODEL_IDS = {
    "clip-vit-b32": "openai/clip-vit-base-patch32",
    "clip-vit-b16": "openai/clip-vit-base-patch16",
    "clip-vit-l14": "openai/clip-vit-large-patch14",
}
XCLIP_MODEL_IDS = {
    "xclip-b32": "microsoft/xclip-base-patch32",
    "xclip-b16": "microsoft/xclip-base-patch16",
}
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as the environment names it now (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return xdg / "huggingface" / "hub"


def _missing(name: str, model_id: str, weights: Path | None, detail: str = "", flag: str = "--weights") -> ZsarError:
    looked = f"{flag} {weights}" if weights else f"{flag} (none)"
    extra = f" ({detail})" if detail else ""
    return ZsarError(f"no weights for {name}: looked in {looked} and the Hugging Face cache {hf_cache_dir()}{extra}; "
                     f"download once with `huggingface-cli download {model_id}` on a machine with network "
                     f"(or pass {flag} DIR)")


def _load_state_file(path: Path) -> dict[str, Any]:
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file
        return load_file(str(path))
    import torch
    return torch.load(path, map_location="cpu", weights_only=True)


def _from_weights_path(model_cls: Any, name: str, model_id: str, weights: Path, flag: str) -> tuple[nn.Module, str]:
    """Load from a save_pretrained directory, or a weights file whose directory holds config.json."""
    if not weights.exists():
        raise _missing(name, model_id, weights, f"{weights} does not exist", flag)
    folder = weights if weights.is_dir() else weights.parent
    if not (folder / "config.json").is_file():
        raise _missing(name, model_id, weights, f"no config.json in {folder}", flag)
    config = model_cls.config_class.from_pretrained(folder, local_files_only=True)
    if config.model_type != model_cls.config_class.model_type:
        raise ZsarError(f"{weights} holds a {config.model_type!r} model, but {name} needs "
                        f"{model_cls.config_class.model_type!r} weights such as {model_id}")
    try:
        if weights.is_dir():
            model = model_cls.from_pretrained(folder, local_files_only=True)
            files = [p for p in folder.iterdir() if p.suffix in WEIGHT_SUFFIXES]
        else:
            model = model_cls(config)
            model.load_state_dict(_load_state_file(weights))
            files = [weights]
    except (OSError, RuntimeError, ValueError) as e:
        raise _missing(name, model_id, weights, str(e).splitlines()[0], flag) from None
    return model.float(), f"{model_id}@sha256:{file_digest(files)}"


def load_hf_model(model_cls: Any, name: str, model_id: str, weights: Path | None,
                  flag: str = "--weights") -> tuple[nn.Module, str]:
    """``model_cls`` (e.g. ``CLIPModel``) from ``weights`` or the HF cache; returns ``(model, weights_id)``.

    ``flag`` is the CLI option that sets ``weights``, named in the error when nothing is found.
    """
    if weights is not None:
        return _from_weights_path(model_cls, name, model_id, Path(weights).expanduser(), flag)
    try:
        model = model_cls.from_pretrained(model_id, cache_dir=str(hf_cache_dir()), local_files_only=True)
    except OSError as e:
        raise _missing(name, model_id, None, flag=flag) from e
    revision = getattr(model.config, "_commit_hash", None) or "hf-cache"
    return model.float(), f"{model_id}@{revision}"


def pooled_embedding(output: Any) -> Tensor:
    """transformers 5 returns a ModelOutput whose ``pooler_output`` is the projected embedding; 4.x a tensor."""
    return output if isinstance(output, Tensor) else output.pooler_output


class _ClipImageFeatures(nn.Module):
    """CLIP vision tower + projection: ``(N, 3, S, S)`` -> ``(N, projection_dim)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return pooled_embedding(self.model.get_image_features(pixel_values=x))


class _XClipVideoFeatures(nn.Module):
    """X-CLIP video encoder (frames + multi-frame integration transformer): ``(B, T, 3, S, S)`` -> ``(B, 1, D)``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: Tensor) -> Tensor:
        return pooled_embedding(self.model.get_video_features(pixel_values=x)).unsqueeze(1)


def joint_space(model_id: str, weights: Path | None) -> str:
    """The joint space a paired text encoder must name: the model id, or the local weights folder."""
    if weights is None:
        return model_id
    folder = Path(weights).expanduser()
    return str((folder if folder.is_dir() else folder.parent).resolve())


def _create_clip(config: BackboneConfig) -> Backbone:
    from transformers import CLIPModel

    model_id = CLIP_MODEL_IDS[config.name]
    model, weights_id = load_hf_model(CLIPModel, config.name, model_id, config.weights)
    model.text_model = None  # only the vision tower and projection are used
    return Backbone(FramewiseNet(_ClipImageFeatures(model)), name=config.name,
                    input_size=int(model.config.vision_config.image_size), kind="frame",
                    feature_dim=int(model.config.projection_dim), weights_id=weights_id, norm=CLIP_NORM,
                    config=config, space=joint_space(model_id, config.weights))


def _create_xclip(config: BackboneConfig) -> Backbone:
    from transformers import XCLIPModel

    model_id = XCLIP_MODEL_IDS[config.name]
    model, weights_id = load_hf_model(XCLIPModel, config.name, model_id, config.weights)
    vision = model.config.vision_config
    return Backbone(_XClipVideoFeatures(model), name=config.name, input_size=int(vision.image_size),
                    kind="video", feature_dim=int(model.config.projection_dim), weights_id=weights_id,
                    norm=CLIP_NORM, config=config, frames_in=int(vision.num_frames),
                    space=joint_space(model_id, config.weights))


for _name, _id in CLIP_MODEL_IDS.items():
    BACKBONES.add(_name, _create_clip, help=f"CLIP image tower {_id} (transformers; frame-level)")
for _name, _id in XCLIP_MODEL_IDS.items():
    BACKBONES.add(_name, _create_xclip, help=f"X-CLIP video encoder {_id} (transformers; video-level, 8 frames)")
