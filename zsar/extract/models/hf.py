"""Loading Hugging Face models: one place for every CLIP-family model and sentence-transformers id.

Weights come from a local path (a directory written by ``save_pretrained``, or a weights
file beside its ``config.json``) or from the Hugging Face hub cache. A model id not in the
cache is downloaded into it on first use (``fetch``: ``huggingface_hub.snapshot_download``
with its progress bar, the weights in one format only), unless ``HF_HUB_OFFLINE=1`` is set
(``zsar --offline`` sets it): then, as when the download fails (no network), it is one
error naming where zsar looked and the ``hf download`` command that fetches it. The cache
is looked at first, so a model that is there never touches the network. The weights id
records the model id and the hub commit, or the digest of the local files.
"""

from __future__ import annotations

import contextlib
import logging
import os
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from torch import Tensor, nn

from zsar.files import file_digest
from zsar.errors import ZsarError

log = logging.getLogger(__name__)
T = TypeVar("T")

WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth")
OFFLINE_ENV = "HF_HUB_OFFLINE"
_TRUE = ("1", "true", "yes", "on")
# Files of other frameworks and exports that zsar never loads: not downloaded.
OTHER_FORMATS = ("*.h5", "*.msgpack", "*.ot", "*.onnx", "*.onnx_data", "*.tflite", "*.mlmodel", "*.gguf",
                 "onnx/*", "openvino/*", "coreml/*", "tf_model*", "flax_model*", "rust_model*")
TORCH_PICKLES = ("*.bin", "*.pt", "*.pth")  # skipped when the repository has the same weights as safetensors


def hf_cache_dir() -> Path:
    """The Hugging Face hub cache as the environment names it now (HF_HUB_CACHE, HF_HOME, XDG_CACHE_HOME)."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    xdg = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser()
    return xdg / "huggingface" / "hub"


def cached_snapshot(model_id: str) -> Path | None:
    """The snapshot folder of ``model_id`` in the Hugging Face cache if it holds a config and weights, else None.

    Reads the cache's own layout (``models--ORG--NAME/refs/main`` -> ``snapshots/<commit>``); loads nothing.
    """
    repo = hf_cache_dir() / f"models--{model_id.replace('/', '--')}"
    try:
        commit = (repo / "refs" / "main").read_text().strip()
    except OSError:
        return None
    folder = repo / "snapshots" / commit
    has_weights = any(p.suffix in WEIGHT_SUFFIXES for p in folder.glob("*")) if folder.is_dir() else False
    return folder if has_weights and (folder / "config.json").is_file() else None


def offline() -> bool:
    """Whether Hugging Face downloads are off: ``HF_HUB_OFFLINE`` is set to 1/true/yes/on (``zsar --offline``)."""
    return os.environ.get(OFFLINE_ENV, "").strip().lower() in _TRUE


@contextlib.contextmanager
def offline_mode() -> Iterator[None]:
    """Within the block (and the processes it starts) nothing is downloaded: ``HF_HUB_OFFLINE=1``."""
    before = os.environ.get(OFFLINE_ENV)
    os.environ[OFFLINE_ENV] = "1"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(OFFLINE_ENV, None)
        else:
            os.environ[OFFLINE_ENV] = before


def download_command(model_id: str) -> str:
    """The one command that puts ``model_id`` into the Hugging Face cache (``hf`` comes with huggingface_hub)."""
    return f"hf download {model_id}"


def _missing(name: str, model_id: str, weights: Path | None, detail: str = "", flag: str = "--weights") -> ZsarError:
    """No weights for ``name``; ``flag`` is the option that points at local weights ("" when it named the id)."""
    looked = (f"{flag} {weights} and " if weights else f"{flag} (none) and ") if flag else ""
    extra = f" ({detail})" if detail else ""
    return ZsarError(f"no weights for {name}: looked in {looked}the Hugging Face cache {hf_cache_dir()}{extra}; "
                     f"download once with `{download_command(model_id)}` on a machine with network"
                     + (f" (or pass {flag} DIR)" if flag else ""))


def _reason(err: BaseException) -> str:
    return " ".join(str(err).split())[:200] or type(err).__name__


def _ignored(files: list[str]) -> list[str]:
    """What not to download of a repository holding ``files``: other frameworks, and pickles beside safetensors."""
    safetensors = any(f.endswith(".safetensors") for f in files)
    return list(OTHER_FORMATS) + (list(TORCH_PICKLES) if safetensors else [])


def fetch(model_id: str, name: str, flag: str = "--weights") -> Path:
    """Download ``model_id`` into the Hugging Face cache (``hf_cache_dir``), with a progress bar; its snapshot folder.

    Refused when offline; a failed download (no network, an unknown id) is one error naming the download command.
    """
    if offline():
        raise _missing(name, model_id, None, f"{OFFLINE_ENV}=1: nothing is downloaded", flag)
    import huggingface_hub
    from huggingface_hub.utils import are_progress_bars_disabled, enable_progress_bars

    if are_progress_bars_disabled() and os.environ.get("HF_HUB_DISABLE_PROGRESS_BARS") is None:
        enable_progress_bars()  # quiet_loading turned them off for local loads; a download is worth watching
    log.info("downloading %s for %s into the Hugging Face cache %s", model_id, name, hf_cache_dir())
    try:
        listed = huggingface_hub.snapshot_download(model_id, cache_dir=str(hf_cache_dir()), dry_run=True,
                                                   ignore_patterns=list(OTHER_FORMATS))
        files = [getattr(entry, "filename", str(entry)) for entry in listed]
        folder = huggingface_hub.snapshot_download(model_id, cache_dir=str(hf_cache_dir()),
                                                   ignore_patterns=_ignored(files))
    except (OSError, ValueError) as err:
        raise _missing(name, model_id, None, f"the download failed: {_reason(err)}", flag) from None
    return Path(folder)


def quiet_loading() -> None:
    """Turn off transformers' "Loading weights" bars: loading local files takes seconds (``fetch`` turns the
    download bars of huggingface_hub back on)."""
    from transformers.utils import logging as transformers_logging

    transformers_logging.disable_progress_bar()


def from_cache_or_hub(load: Callable[[], T], model_id: str, name: str, flag: str = "--weights") -> T:
    """``load()``, which reads the Hugging Face cache only; if ``model_id`` is not there, ``fetch`` it, load again."""
    quiet_loading()
    try:
        return load()
    except (OSError, ValueError):
        if offline():
            raise _missing(name, model_id, None, flag=flag) from None
    fetch(model_id, name, flag)
    quiet_loading()
    try:
        return load()
    except (OSError, ValueError) as err:
        raise _missing(name, model_id, None, f"downloaded, but it does not load: {_reason(err)}", flag) from None


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
    """``model_cls`` (e.g. ``CLIPModel``) from ``weights``, the HF cache or the hub (first use): ``(model, weights_id)``.

    ``flag`` is the CLI option that sets ``weights``, named in the error when nothing is found.
    """
    if weights is not None:
        return _from_weights_path(model_cls, name, model_id, Path(weights).expanduser(), flag)
    model = from_cache_or_hub(
        lambda: model_cls.from_pretrained(model_id, cache_dir=str(hf_cache_dir()), local_files_only=True),
        model_id, name, flag)
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
