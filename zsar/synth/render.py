"""The synthetic action dataset: stick-figure clips written as real videos in the HMDB51 layout.

``generate_dataset(SynthConfig(...), out)`` writes::

    out/synth.json                                  the generating config (for resume)
    out/videos/<class>/<class>_<k>.avi              one clip per file (mpeg4 .avi or h264 .mp4)
    out/splits/<class>_test_split{1,2,3}.txt        lines "<clip> <0|1|2>" (1 train, 2 test)

Every clip draws its own body size, position, speed, phase, colours, background texture,
camera jitter and leading side from a generator seeded by ``(seed, action, clip)``, so a
clip's content does not depend on how many classes or clips were asked for, and the same
seed gives the same decoded frames. A run that is interrupted resumes: finished files are
kept, each file is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import numpy as np
from PIL import Image

from zsar import __version__
from zsar.errors import ZsarError
from zsar.files import atomic_write, atomic_write_text, write_error
from zsar.synth.actions import ACTIONS, Action, Style, action_folder
from zsar.synth.figure import SEGMENTS, Placement, draw_skeleton, forward_kinematics
from zsar.progress import progress

log = logging.getLogger(__name__)

FPS = 25
SUPERSAMPLE = 2
JITTER_MARGIN = 6  # pixels of camera shake allowed at output resolution
TRAIN_FRACTION = 0.7  # as HMDB51's official 70/30 splits
N_SPLITS = 3
CODECS = {"avi": "mpeg4", "mp4": "h264"}
TEXTURES = ("solid", "gradient", "noise", "stripes", "checker")
WRITE_FIX = "choose a writable OUT folder"


@dataclass(frozen=True, kw_only=True)
class SynthConfig:
    """What to generate: the first ``classes`` actions, ``per_class`` clips each."""

    classes: int = 20
    per_class: int = 8
    frames: int = 32
    width: int = 112
    height: int = 112
    seed: int = 0
    format: str = "avi"

    def __post_init__(self) -> None:
        if not 2 <= self.classes <= len(ACTIONS):
            raise ZsarError(f"--classes {self.classes}: choose between 2 and {len(ACTIONS)} actions")
        if self.per_class < 1:
            raise ZsarError(f"--per-class {self.per_class}: need at least 1 clip per class")
        if self.frames < 2:
            raise ZsarError(f"--frames {self.frames}: need at least 2 frames per clip")
        if self.width < 32 or self.height < 32 or self.width % 2 or self.height % 2:
            raise ZsarError(f"--size {self.width}x{self.height}: use even sizes of at least 32x32 "
                            "(the yuv420p codecs need even dimensions)")
        if self.format not in CODECS:
            raise ZsarError(f"--format {self.format!r}: choose one of {', '.join(CODECS)}")

    @property
    def actions(self) -> tuple[Action, ...]:
        return ACTIONS[: self.classes]


def parse_size(text: str) -> tuple[int, int]:
    """``"112x112"`` -> ``(112, 112)`` (width, height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise ZsarError(f"--size {text!r}: write it as WIDTHxHEIGHT, e.g. 112x112") from None
    return w, h


def clip_name(action: Action, index: int, fmt: str) -> str:
    return f"{action_folder(action.name)}_{index:03d}.{fmt}"


# --------------------------------------------------------------------------- rendering


def _background(rng: np.random.Generator, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """A textured background (uint8 ``(h, w, 3)``, texture within +-35 of a base colour) and its mean colour."""
    base = rng.uniform(0, 255, size=3)
    kind = TEXTURES[rng.integers(len(TEXTURES))]
    amp = rng.uniform(10, 35)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if kind == "solid":
        field = np.zeros((h, w), np.float32)
    elif kind == "gradient":
        angle = rng.uniform(0, 2 * np.pi)
        field = (np.cos(angle) * xx + np.sin(angle) * yy) / max(h, w) * 2 - 1
    elif kind == "noise":
        coarse = rng.uniform(-1, 1, size=(h // 16 + 2, w // 16 + 2)).astype(np.float32)
        field = np.asarray(Image.fromarray(coarse, mode="F").resize((w, h), Image.BICUBIC))
    elif kind == "stripes":
        period = rng.uniform(10, 40)
        angle = rng.uniform(0, np.pi)
        field = np.sin((np.cos(angle) * xx + np.sin(angle) * yy) * 2 * np.pi / period)
    else:
        cell = int(rng.integers(8, 24))
        field = (((xx // cell) + (yy // cell)) % 2) * 2 - 1
    field = field - field.mean()
    field = field / max(float(np.abs(field).max()), 1e-6)  # zero mean, within [-1, 1]
    tint = rng.uniform(0.5, 1.0, size=3)
    image = np.clip(base[None, None, :] + amp * field[..., None] * tint[None, None, :], 0, 255)
    return image.astype(np.uint8), image.reshape(-1, 3).mean(axis=0)


def _line_colour(rng: np.random.Generator, background: np.ndarray) -> tuple[int, int, int]:
    """A colour that stands out from ``background`` (luminance difference of at least 90)."""
    weights = np.array([0.299, 0.587, 0.114])
    bg_lum = float(background @ weights)
    for _ in range(64):
        colour = rng.uniform(0, 255, size=3)
        if abs(float(colour @ weights) - bg_lum) >= 90:
            break
    else:
        colour = np.full(3, 0.0 if bg_lum > 127 else 255.0)
    return tuple(int(c) for c in colour)


def render_clip(action: Action, rng: np.random.Generator, frames: int, width: int,
                height: int) -> np.ndarray:
    """Render one clip of ``action`` as uint8 RGB frames ``(frames, height, width, 3)``."""
    s = SUPERSAMPLE
    margin = JITTER_MARGIN * s
    bg, bg_mean = _background(rng, height * s + 2 * margin, width * s + 2 * margin)
    figure_height = rng.uniform(0.5, 0.8) * height * s
    placement = Placement(
        ground_x=rng.uniform(0.3, 0.7) * width * s,
        ground_y=rng.uniform(0.88, 0.97) * height * s,
        height=figure_height,
        facing=float(rng.choice([-1.0, 1.0])),
        color=_line_colour(rng, bg_mean),
        line_width=max(2, int(round(figure_height * rng.uniform(0.035, 0.06)))),
    )
    proportions = {name: float(rng.uniform(0.9, 1.1)) for name in SEGMENTS}
    style = Style(amp=float(rng.uniform(0.8, 1.15)), side=float(rng.choice([-1.0, 1.0])))
    cycles = action.rate * rng.uniform(0.7, 1.4) * frames / FPS
    phase = rng.uniform(0, 1)
    shake = np.cumsum(rng.normal(0, 0.6 * s, size=(frames, 2)), axis=0)
    shake = np.clip(shake, -margin, margin).round().astype(int)
    out = np.empty((frames, height, width, 3), np.uint8)
    for i in range(frames):
        q = i / (frames - 1)
        pose = action.pose(phase + cycles * q, q, style)
        dx, dy = shake[i]
        canvas = Image.fromarray(bg[margin + dy: margin + dy + height * s,
                                    margin + dx: margin + dx + width * s])
        moved = Placement(ground_x=placement.ground_x - dx, ground_y=placement.ground_y - dy, height=placement.height,
                          facing=placement.facing, color=placement.color, line_width=placement.line_width)
        draw_skeleton(canvas, forward_kinematics(pose, proportions), moved)
        out[i] = np.asarray(canvas.resize((width, height), Image.BOX))
    return out


# --------------------------------------------------------------------------- writing


def write_video(frames: np.ndarray, path: Path, fmt: str, fps: int = FPS) -> None:
    """Encode uint8 RGB ``(T, H, W, 3)`` frames to ``path`` atomically (temp name, then rename)."""
    with atomic_write(path, WRITE_FIX) as tmp, av.open(str(tmp), mode="w", format=fmt) as container:
        stream = container.add_stream(CODECS[fmt], rate=fps)
        stream.width, stream.height = frames.shape[2], frames.shape[1]
        stream.pix_fmt = "yuv420p"
        if fmt == "avi":
            stream.bit_rate = max(400_000, 2 * stream.width * stream.height * fps)
        else:
            stream.options = {"crf": "18", "preset": "veryfast"}
        for frame in frames:
            for packet in stream.encode(av.VideoFrame.from_ndarray(frame, format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)


def split_assignment(config: SynthConfig, action_index: int, split: int) -> np.ndarray:
    """Per clip of one action: 1 (train) or 2 (test) in official split ``split`` (1-based)."""
    rng = np.random.default_rng([config.seed, 1000 + split, action_index])
    n = config.per_class
    n_test = max(1, round((1 - TRAIN_FRACTION) * n)) if n >= 2 else 0
    ids = np.ones(n, dtype=int)
    ids[rng.permutation(n)[:n_test]] = 2
    return ids


def _check_output(config: SynthConfig, out: Path) -> None:
    """Refuse to mix settings in one folder; allow resuming the same settings."""
    meta = out / "synth.json"
    if out.exists() and not out.is_dir():
        raise ZsarError(f"{out} is a file, not a folder; choose a new OUT folder for the synthetic set")
    if meta.exists():
        try:
            old = json.loads(meta.read_text())["config"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError):
            raise ZsarError(f"{meta} is damaged; delete {out} (or choose another OUT) and run again") from None
        new = asdict(config)
        diff = {k: (old.get(k), v) for k, v in new.items() if old.get(k) != v}
        if diff:
            said = ", ".join(f"{k} {a!r} -> {b!r}" for k, (a, b) in diff.items())
            raise ZsarError(f"{out} holds a synthetic set made with other settings ({said}); "
                            "choose another OUT or delete it")
    elif out.exists() and any(out.iterdir()):
        raise ZsarError(f"{out} exists and is not a zsar synth folder; choose an empty or new OUT")


def generate_dataset(config: SynthConfig, out: Path) -> Path:
    """Write the synthetic dataset into ``out`` (resuming a previous run) and return ``out``."""
    out = Path(out)
    _check_output(config, out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as err:  # a read-only folder, a file on the way
        raise write_error(out, err, WRITE_FIX) from None
    atomic_write_text(out / "synth.json", json.dumps({
        "config": asdict(config), "zsar": __version__, "fps": FPS,
        "classes": [a.name for a in config.actions]}, indent=2) + "\n")
    action_index = {a.name: i for i, a in enumerate(ACTIONS)}
    jobs = [(a, k) for a in config.actions for k in range(config.per_class)]
    bar = progress(jobs, desc="synth", unit="clip")
    for action, k in bar:
        folder = out / "videos" / action_folder(action.name)
        path = folder / clip_name(action, k, config.format)
        if path.exists():
            continue
        folder.mkdir(parents=True, exist_ok=True)
        rng = np.random.default_rng([config.seed, action_index[action.name], k])
        frames = render_clip(action, rng, config.frames, config.width, config.height)
        write_video(frames, path, config.format)
    split_dir = out / "splits"
    split_dir.mkdir(exist_ok=True)
    for action in config.actions:
        for split in range(1, N_SPLITS + 1):
            ids = split_assignment(config, action_index[action.name], split)
            lines = "".join(f"{clip_name(action, k, config.format)} {ids[k]} \n"
                            for k in range(config.per_class))
            atomic_write_text(split_dir / f"{action_folder(action.name)}_test_split{split}.txt", lines)
    log.info("wrote %d clips of %d actions to %s", len(jobs), config.classes, out)
    return out
