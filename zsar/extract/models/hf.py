"""Loading Hugging Face ``transformers`` models offline: one place for every CLIP-family model.

Weights come from a local path (a directory written by ``save_pretrained``, or a weights
file beside its ``config.json``) or from the Hugging Face hub cache with
``local_files_only``: nothing is downloaded at run time. A model that is not there is one
error naming where zsar looked and the ``huggingface-cli download`` command that fetches it.
The weights id records the model id and the hub commit, or the digest of the local files.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from torch import Tensor, nn

from zsar.files import file_digest
from zsar.errors import ZsarError

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


def joint_space(model_id: str, weights: Path | None) -> str:
    """The joint space a paired text encoder must name: the model id, or the local weights folder."""
    if weights is None:
        return model_id
    folder = Path(weights).expanduser()
    return str((folder if folder.is_dir() else folder.parent).resolve())
