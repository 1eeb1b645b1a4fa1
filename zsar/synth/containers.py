"""Short videos in each container and codec zsar reads, for the decoder tests and the truncation sweep.

``write_container_video(path, kind)`` writes ``frames`` frames of a moving pattern (a
gradient that shifts each frame, a bright bar that walks across, a frame number in the
red channel) with PyAV. ``KINDS``: what each kind is written as; ``mp4-h264`` keeps the
``moov`` index at the end of the file (PyAV's default), ``mp4-h264-faststart`` moves it to
the front (``-movflags +faststart``), as files made for streaming have it. ``mkv-av1``
is a codec decord's FFmpeg lacks (decord refuses it; PyAV reads it).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np


@dataclass(frozen=True, kw_only=True)
class ContainerKind:
    """A container and codec: file suffix, PyAV format name, encoder, pixel format, muxer and encoder options."""

    suffix: str
    format: str
    codec: str
    pix_fmt: str = "yuv420p"
    muxer: tuple[tuple[str, str], ...] = ()
    encoder: tuple[tuple[str, str], ...] = ()


X264 = (("crf", "20"), ("preset", "veryfast"))
KINDS = {
    "avi-mpeg4": ContainerKind(suffix=".avi", format="avi", codec="mpeg4", encoder=(("qscale", "3"),)),
    "mp4-h264": ContainerKind(suffix=".mp4", format="mp4", codec="libx264", encoder=X264),
    "mp4-h264-faststart": ContainerKind(suffix=".mp4", format="mp4", codec="libx264",
                                        muxer=(("movflags", "+faststart"),), encoder=X264),
    "mkv-h264": ContainerKind(suffix=".mkv", format="matroska", codec="libx264", encoder=X264),
    "webm-vp9": ContainerKind(suffix=".webm", format="webm", codec="libvpx-vp9",
                              encoder=(("crf", "32"), ("b", "0"), ("deadline", "realtime"))),
    "mov-h264": ContainerKind(suffix=".mov", format="mov", codec="libx264", encoder=X264),
    "mkv-av1": ContainerKind(suffix=".mkv", format="matroska", codec="libsvtav1", encoder=(("preset", "12"),)),
}


def pattern_frame(i: int, width: int, height: int) -> np.ndarray:
    """Frame ``i`` of the pattern: uint8 RGB ``(height, width, 3)``."""
    x = np.arange(width, dtype=np.int64)[None, :]
    y = np.arange(height, dtype=np.int64)[:, None]
    frame = np.zeros((height, width, 3), dtype=np.uint8)
    frame[..., 0] = (i * 9) % 256
    frame[..., 1] = ((x * 255) // max(1, width - 1) + i * 5) % 256
    frame[..., 2] = ((y * 255) // max(1, height - 1)) % 256
    bar = (i * 4) % max(1, width - 8)
    frame[:, bar:bar + 8] = 255
    return frame


def write_container_video(path: Path | str, kind: str, frames: int = 48, width: int = 96, height: int = 64,
                          fps: int = 25) -> Path:
    """Write ``frames`` pattern frames to ``path`` as ``KINDS[kind]``; returns ``path``."""
    spec = KINDS[kind]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), mode="w", format=spec.format, options=dict(spec.muxer)) as container:
        stream = container.add_stream(spec.codec, rate=fps, options=dict(spec.encoder))
        stream.width, stream.height, stream.pix_fmt = width, height, spec.pix_fmt
        for i in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(pattern_frame(i, width, height), format="rgb24")):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path
