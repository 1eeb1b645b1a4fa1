"""Video decoders behind one small interface: open a file, count its frames, read frames by number.

Registry ``DECODERS`` (``--decoder``): ``decord`` (decord ``VideoReader.get_batch``),
``pyav`` (PyAV, which zsar installs anyway: the packets are counted, then the frames are
decoded in order up to the last one asked for) and ``torchcodec`` (the optional extra
``zsar[torchcodec]``: ``VideoDecoder`` in exact seek mode, on the CPU or, with
``device="cuda"``, on NVDEC). ``auto`` is not a decoder but an order: ``AUTO_ORDER``, the
fastest first, with PyAV as the fallback of every file the first one cannot read
(``zsar.extract.decode``).

Every reader numbers frames the same way, in presentation order from 0, and counts them
the same way (the video packets of the file: what decord's ``len`` counts), so the same
file gives the same ``sample_indices`` whichever decoder reads it (``tests/test_decoders.py``).
A reader raises ``DecodeError`` with the decoder's own words; a failure while reading frames
of a file that opened says ``truncated or damaged`` before them.
"""

from __future__ import annotations

import importlib.util
import os
import re
from pathlib import Path

import av
import numpy as np
import torch

from zsar.errors import ZsarError
from zsar.registry import Registry

DECODERS: Registry = Registry("decoder")
AUTO = "auto"
AUTO_ORDER = ("decord", "pyav")   # measured fastest first (docs/benchmarks-extract.md); PyAV is the fallback
TORCHCODEC_FIX = ("pip install 'zsar[torchcodec]' (torchcodec 0.11 runs beside torch 2.11-2.13) and the FFmpeg "
                  "shared libraries (e.g. apt-get install libavcodec59 libavformat59 libavutil57 libswscale6 "
                  "libswresample4 libavdevice59 libavfilter8)")


class DecodeError(Exception):
    """A video that could not be decoded; ``str()`` is the reason, with the decoder's message."""


_LOG_PREFIX = re.compile(r"\[\d\d:\d\d:\d\d\] \S+:\d+: ")  # decord's "[12:00:00] file.cc:42: "


def first_line(err: BaseException) -> str:
    """The decoder's message on one line, without decord's timestamp and source-file prefixes."""
    text = _LOG_PREFIX.sub("", str(err)).strip() or type(err).__name__
    return " ".join(text.split())[:500]


def installed(name: str) -> bool:
    """Whether decoder ``name``'s Python package is installed (``auto`` skips those that are not)."""
    return importlib.util.find_spec({"pyav": "av"}.get(name, name)) is not None


def decoder_names() -> list[str]:
    """The ``--decoder`` choices: ``auto`` and every registered decoder."""
    return [AUTO] + DECODERS.names()


def check_decoder(name: str) -> None:
    """Refuse an unknown ``--decoder``, listing the valid ones."""
    if name not in decoder_names():
        raise ZsarError(f"--decoder {name!r}: choose one of {', '.join(decoder_names())}")


class Reader:
    """One open video: ``n_frames``, ``fps``, and ``read(index)`` -> uint8 ``(n, H, W, 3)`` (sorted distinct index)."""

    name = ""
    n_frames: int = 0
    fps: float = 0.0

    def read(self, index: np.ndarray) -> torch.Tensor:
        raise NotImplementedError

    def close(self) -> None:
        """Release the file (readers close themselves when collected, too)."""


def _window_error(index: np.ndarray, err: BaseException) -> DecodeError:
    return DecodeError(f"truncated or damaged: decoding frames {index[0]}..{index[-1]} failed: {first_line(err)}")


def _short_read(index: np.ndarray, got: int) -> DecodeError:
    return DecodeError(f"truncated or damaged: asked for {len(index)} frames from {index[0]}, "
                       f"the decoder returned {got}")


@DECODERS.register("decord", help="decord VideoReader.get_batch (CPU)")
class DecordReader(Reader):
    name = "decord"

    def __init__(self, path: Path, threads: int = 1, device: str = "cpu") -> None:
        import decord

        decord.logging.set_level(decord.logging.QUIET)  # damaged streams' complaints go into manifest rows
        self._errors = (decord.DECORDError, RuntimeError)
        try:
            self.reader = decord.VideoReader(str(path), ctx=decord.cpu(0), num_threads=threads)
        except self._errors as err:  # decord raises RuntimeError for unreadable files
            raise DecodeError(f"cannot open video: {first_line(err)}") from None
        self.n_frames = len(self.reader)
        self.fps = float(self.reader.get_avg_fps())

    def read(self, index: np.ndarray) -> torch.Tensor:
        try:
            batch = self.reader.get_batch(index.tolist()).asnumpy()
        except self._errors as err:
            raise _window_error(index, err) from None
        if batch.shape[0] != len(index):
            raise _short_read(index, batch.shape[0])
        return torch.from_numpy(batch)


@DECODERS.register("pyav", help="PyAV: frames decoded in order up to the last one asked for (CPU)")
class PyAVReader(Reader):
    name = "pyav"

    def __init__(self, path: Path, threads: int = 1, device: str = "cpu") -> None:
        self.path, self.threads = path, threads
        self.next = 0            # the number of the frame the open decoder gives next
        self._frames = None
        try:
            self.container = av.open(str(path))
            stream = self.container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else 0.0
            self.n_frames = sum(1 for p in self.container.demux(stream) if p.size > 0 and p.pts is not None)
        except (av.FFmpegError, IndexError, OSError, ValueError) as err:
            self.close()
            raise DecodeError(f"cannot open video: {first_line(err)}") from None

    def _restart(self) -> None:
        self.close()
        self.container = av.open(str(self.path))
        stream = self.container.streams.video[0]
        stream.thread_count = self.threads
        self._frames = self.container.decode(stream)
        self.next = 0

    def read(self, index: np.ndarray) -> torch.Tensor:
        wanted = {int(i): k for k, i in enumerate(index)}
        out: list[np.ndarray | None] = [None] * len(index)
        try:
            if self._frames is None or self.next > int(index[0]):
                self._restart()
            while self.next <= int(index[-1]):
                frame = next(self._frames, None)
                if frame is None:
                    break
                if self.next in wanted:
                    out[wanted[self.next]] = frame.to_ndarray(format="rgb24")
                self.next += 1
        except (av.FFmpegError, OSError, ValueError) as err:
            raise _window_error(index, err) from None
        got = sum(o is not None for o in out)
        if got != len(index):
            raise _short_read(index, got)
        return torch.from_numpy(np.stack(out))

    def close(self) -> None:
        container, self.container, self._frames = getattr(self, "container", None), None, None
        if container is not None:
            container.close()


def load_torchcodec():
    """The ``torchcodec.decoders`` module; a ``ZsarError`` naming the fix when it or FFmpeg is missing."""
    try:
        from torchcodec import decoders
    except (ImportError, OSError, RuntimeError) as err:
        raise ZsarError(f"--decoder torchcodec: torchcodec cannot be loaded ({first_line(err)[:200]}); "
                        f"{TORCHCODEC_FIX}") from None
    return decoders


@DECODERS.register("torchcodec", help="torchcodec VideoDecoder, exact seek mode (CPU, or NVDEC with --device cuda)")
class TorchcodecReader(Reader):
    name = "torchcodec"

    def __init__(self, path: Path, threads: int = 1, device: str = "cpu") -> None:
        decoders = load_torchcodec()
        try:
            self.decoder = decoders.VideoDecoder(str(path), dimension_order="NHWC", num_ffmpeg_threads=threads,
                                                 device=device, seek_mode="exact")
        except (RuntimeError, ValueError, OSError) as err:
            raise DecodeError(f"cannot open video: {first_line(err)}") from None
        meta = self.decoder.metadata
        self.n_frames = int(meta.num_frames or 0)
        self.fps = float(meta.average_fps or 0.0)

    @property
    def cpu_fallback(self) -> bool:
        """Whether torchcodec decoded this file on the CPU although it was asked for CUDA."""
        status = getattr(self.decoder, "cpu_fallback", None)
        return bool(getattr(status, "status_known", False) and status)

    def read(self, index: np.ndarray) -> torch.Tensor:
        try:
            frames = self.decoder.get_frames_at(index.tolist()).data
        except (RuntimeError, IndexError, ValueError) as err:
            raise _window_error(index, err) from None
        if frames.shape[0] != len(index):
            raise _short_read(index, frames.shape[0])
        return frames


def open_reader(name: str, path: Path, threads: int = 1, device: str = "cpu") -> Reader:
    """Open ``path`` with decoder ``name``; ``DecodeError`` for a file it cannot open."""
    if not path.is_file():
        raise DecodeError(f"file not found: {path}")
    if os.path.getsize(path) == 0:
        raise DecodeError("empty file (0 bytes)")
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"the file name {str(path)!r} is not valid UTF-8; rename the file") from None
    reader = DECODERS.get(name)(path, threads, device)
    if reader.n_frames <= 0 or not reader.fps > 0:
        reader.close()
        raise DecodeError(f"no decodable video stream ({reader.n_frames} frames at {reader.fps} fps)")
    return reader
