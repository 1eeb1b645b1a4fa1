"""Video decoders behind one small interface: open a file, count its frames, read frames by number.

Registry ``DECODERS`` (``--decoder``): ``decord`` (decord ``VideoReader.get_batch``),
``pyav`` (PyAV, which zsar installs anyway: the packets are indexed, then each wanted frame
is decoded forward from the keyframe before it, or from the frame before it), ``pyav-nvdec``
(the same on NVDEC, through the CUDA hwaccel of the FFmpeg inside PyAV's wheels:
``zsar.extract.nvdec``) and ``torchcodec`` (the optional extra
``zsar[torchcodec]``: ``VideoDecoder`` in exact seek mode, on the CPU or, with
``device="cuda"``, on NVDEC). ``auto`` is not a decoder but an order (``auto_order``): the
fastest decoder (``AUTO_PREFERENCE``: PyAV, always installed with zsar), and for a file it
cannot read the next one, decord (``auto_order``, ``zsar.extract.decode``).

Every reader numbers frames the same way, in presentation order from 0, and counts them
the same way (the video packets of the file: what decord's ``len`` counts), so the same
file gives the same ``sample_indices`` whichever decoder reads it (``tests/test_decoders.py``).
A reader raises ``DecodeError`` with the decoder's own words; a failure while reading frames
of a file that opened says ``truncated or damaged`` before them.
"""

from __future__ import annotations

import abc
import bisect
import functools
import importlib.util
import os
import re
import threading
from pathlib import Path

import av
import numpy as np
import torch

from zsar.errors import ZsarError
from zsar.extract.datasets.base import broken_link
from zsar.registry import Registry

DECODERS: Registry = Registry("decoder", modules=("zsar.extract.nvdec",))
AUTO = "auto"
# --decoder auto: fastest first, as measured end to end (docs/benchmarks-extract.md); PyAV is always installed.
# torchcodec is left to --decoder torchcodec: it decoded as fast as PyAV alone, but slowed extraction beside a
# CPU backbone by a third, and an optional extra should not change what auto means.
AUTO_PREFERENCE = ("pyav", "decord")
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


@functools.lru_cache(maxsize=None)
def installed(name: str) -> bool:
    """Whether decoder ``name`` can run here (``auto`` skips those that cannot): its package, and FFmpeg for torchcodec."""
    if name == "torchcodec":
        try:
            load_torchcodec()
        except ZsarError:
            return False
        return True
    return importlib.util.find_spec({"pyav": "av", "pyav-nvdec": "av"}.get(name, name)) is not None


def auto_order() -> tuple[str, ...]:
    """What ``--decoder auto`` tries on each file, in turn: PyAV, then decord (those installed)."""
    return tuple(name for name in AUTO_PREFERENCE if installed(name))


def decoder_names() -> list[str]:
    """The ``--decoder`` choices: ``auto`` and every registered decoder."""
    return [AUTO] + DECODERS.names()


def check_decoder(name: str) -> None:
    """Refuse an unknown ``--decoder``, listing the valid ones."""
    if name not in decoder_names():
        raise ZsarError(f"--decoder {name!r}: choose one of {', '.join(decoder_names())}")


class Reader(abc.ABC):
    """One open video: ``n_frames``, ``fps``, and ``read(index)`` -> uint8 ``(n, H, W, 3)`` (sorted distinct index).

    ``on_cuda``: the decoder decodes on the GPU when given a CUDA ``device`` (in threads of
    one process: ``zsar.extract.gpu_loader``); ``needs_cuda``: it decodes nowhere else.
    """

    name = ""
    n_frames: int = 0
    fps: float = 0.0
    on_cuda = False
    needs_cuda = False

    @classmethod
    def cuda_problem(cls, device: str) -> str:
        """Why this decoder cannot decode on ``device`` here, in words ("" when it can, or cannot tell before a file)."""
        return ""

    @abc.abstractmethod
    def read(self, index: np.ndarray) -> torch.Tensor:
        """The frames numbered ``index`` (sorted, distinct), uint8 ``(len(index), H, W, 3)``."""

    def close(self) -> None:
        """Release the file (readers close themselves when collected, too)."""


# The first bytes of the containers zsar reads: a file that starts like one but will not open was cut or damaged.
_SIGNATURES = (b"RIFF", b"\x1aE\xdf\xa3")            # AVI; Matroska and WebM (EBML)
_ISO_BOXES = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")   # .mp4 / .mov top-level boxes


# Decoder words that mean bytes are missing or wrong (FFmpeg's AVERROR_INVALIDDATA and AVERROR_EOF among them),
# not a codec the decoder lacks.
_DAMAGE_WORDS = ("invalid data", "av_read_frame", "moov", "end of file", "broken metadata", "1094995529",
                 "541478725", "could not seek")
MOOV_MISSING = ("its moov index is missing (an .mp4/.mov cut short: files written without +faststart keep the "
                "index at the end)")


def _complete_boxes(path: Path) -> list[bytes]:
    """The top-level boxes of an ISO media (.mp4, .mov) file that its bytes hold whole."""
    boxes, size = [], path.stat().st_size
    with open(path, "rb") as f:
        offset = 0
        while offset + 8 <= size and len(boxes) < 64:
            f.seek(offset)
            head = f.read(16)
            length, kind = int.from_bytes(head[:4], "big"), head[4:8]
            if length == 1 and len(head) == 16:
                length = int.from_bytes(head[8:16], "big")
            if length < 8 or offset + length > size:
                break
            boxes.append(kind)
            offset += length
    return boxes


def damage(path: Path, words: str) -> str:
    """``"truncated or damaged[: what]"`` when a file that starts like a video fails with words of missing or bad
    bytes (or is an .mp4/.mov without its whole index); ``""`` otherwise (not a video, a codec the decoder lacks)."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        iso = head[4:8] in _ISO_BOXES
        if iso and b"moov" not in _complete_boxes(path):
            return f"truncated or damaged: {MOOV_MISSING}"
    except OSError:
        return ""
    if (iso or head.startswith(_SIGNATURES)) and any(w in words.lower() for w in _DAMAGE_WORDS):
        return "truncated or damaged"
    return ""


def open_error(path: Path, err: BaseException) -> DecodeError:
    """The ``DecodeError`` of a file a decoder cannot open, saying ``truncated or damaged`` where it is (``damage``)."""
    words = first_line(err)
    return DecodeError(joined_reason(damage(path, words), f"cannot open video: {words}"))


def joined_reason(reason: str, words: str) -> str:
    """``words`` after ``reason`` (``"truncated or damaged: ..."``), or alone when there is no reason."""
    if not reason:
        return words
    return f"{reason}{'; ' if ':' in reason else ': '}{words}"


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
            raise open_error(path, err) from None
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


_LOCAL = threading.local()


def _rgb(frame) -> np.ndarray:
    """``frame`` as uint8 RGB ``(H, W, 3)``, with one reusable converter per thread and process.

    ``VideoFrame.to_ndarray`` sets up a new swscale context for every file (1.9 ms a frame
    against 0.18 ms with the converter kept), for the same pixels. The converter runs one
    swscale thread (parallelism comes from the decoding workers) and is made anew in a
    forked worker: a context made before a fork waits forever for slice threads the child
    does not have.
    """
    if getattr(_LOCAL, "pid", None) != os.getpid():
        from av.video.reformatter import VideoReformatter

        _LOCAL.reformatter, _LOCAL.pid = VideoReformatter(), os.getpid()
    return _LOCAL.reformatter.reformat(frame, format="rgb24", threads=1).to_ndarray()


@DECODERS.register("pyav", help="PyAV: seeks to the keyframe before each wanted frame and decodes forward (CPU)")
class PyAVReader(Reader):
    """Frames numbered as decord numbers them: the sorted presentation times of the stream's packets.

    Opening reads every packet's header (no decoding): frame ``i`` is the one whose time is
    the ``i``-th smallest, and the keyframes say where a seek may land. ``read`` decodes
    forward from where it is when the next wanted frame comes before the next keyframe,
    and seeks to the keyframe before it otherwise, so a long video is never decoded whole.
    """

    name = "pyav"

    def __init__(self, path: Path, threads: int = 1, device: str = "cpu") -> None:
        self.path, self.threads = path, threads
        self.container = None
        self._frames = None      # the open decoding generator
        self.next = 0            # the number of the frame it gives next
        try:
            self.container = self._open_container()
            if not self.container.streams.video:
                raise ValueError("the file has no video stream")
            stream = self.container.streams.video[0]
            stream.thread_count = threads
            rate = stream.average_rate or stream.guessed_rate
            self.fps = float(rate) if rate else 0.0
            packets = [(p.pts, p.is_keyframe) for p in self.container.demux(stream) if p.size > 0 and p.pts is not None]
        except (av.FFmpegError, IndexError, OSError, ValueError) as err:
            self.close()
            raise open_error(path, err) from None
        self.pts = sorted(pts for pts, _ in packets)
        self.number = {pts: i for i, pts in enumerate(self.pts)}
        self.keyframes = sorted(self.number[pts] for pts, key in packets if key) or [0]
        self.n_frames = len(self.pts)

    def _open_container(self):
        """The file opened for decoding (a subclass may open it on a device)."""
        return av.open(str(self.path))

    def _seek(self, frame: int) -> None:
        """Start decoding at the keyframe at or before ``frame``."""
        key = self.keyframes[max(0, bisect.bisect_right(self.keyframes, frame) - 1)]
        stream = self.container.streams.video[0]
        if key == 0:
            self.container.seek(0, stream=stream, backward=True)
        else:
            self.container.seek(self.pts[key], stream=stream, backward=True)
        self._frames = self.container.decode(stream)
        self.next = key

    def _needs_seek(self, frame: int) -> bool:
        if self._frames is None or self.next > frame:
            return True
        key = self.keyframes[max(0, bisect.bisect_right(self.keyframes, frame) - 1)]
        return key > self.next

    def read(self, index: np.ndarray) -> torch.Tensor:
        out: list[np.ndarray | None] = [None] * len(index)
        try:
            for k, target in enumerate(int(i) for i in index):
                if self._needs_seek(target):
                    self._seek(target)
                while self.next <= target:
                    frame = next(self._frames, None)
                    if frame is None:
                        break
                    number = self.number.get(frame.pts, self.next)
                    self.next = number + 1
                    if number == target:
                        out[k] = _rgb(frame)
                if out[k] is None:
                    break
        except (av.FFmpegError, OSError, ValueError) as err:
            self._frames = None
            raise _window_error(index, err) from None
        got = sum(o is not None for o in out)
        if got != len(index):
            raise _short_read(index, got)
        return torch.from_numpy(np.stack(out))

    def rescan(self) -> int:
        """Count the frames that really decode, in order up to the first error; renumber them; return the count.

        For a file whose index lists more frames than its bytes hold (an .mp4 with its index
        at the front, cut short): the frames before the cut are then read as a shorter video.
        """
        self.close()
        self.container = self._open_container()
        decoded = []
        try:
            for frame in self.container.decode(self.container.streams.video[0]):
                if frame.pts is not None:
                    decoded.append(frame.pts)
        except (av.FFmpegError, OSError, ValueError):
            pass
        keys = set(self.pts[i] for i in self.keyframes)
        self.pts = sorted(decoded)
        self.number = {pts: i for i, pts in enumerate(self.pts)}
        self.keyframes = sorted(self.number[pts] for pts in keys if pts in self.number) or [0]
        self.n_frames, self._frames = len(self.pts), None
        return self.n_frames

    def close(self) -> None:
        container, self.container, self._frames = self.container, None, None
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
    on_cuda = True

    def __init__(self, path: Path, threads: int = 1, device: str = "cpu") -> None:
        decoders = load_torchcodec()
        try:
            self.decoder = decoders.VideoDecoder(str(path), dimension_order="NHWC", num_ffmpeg_threads=threads,
                                                 device=device, seek_mode="exact")
        except (RuntimeError, ValueError, OSError) as err:
            raise open_error(path, err) from None
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
        raise DecodeError(f"file not found: {broken_link(path) or path}")
    if os.path.getsize(path) == 0:
        raise DecodeError("empty file (0 bytes)")
    try:
        os.fsencode(path).decode("utf-8")
    except UnicodeDecodeError:
        raise DecodeError(f"the file name {str(path)!r} is not valid UTF-8; rename the file") from None
    reader = DECODERS.get(name)(path, threads, device)
    if reader.n_frames <= 0 or not reader.fps > 0:
        reader.close()
        words = f"no decodable video stream ({reader.n_frames} frames at {reader.fps} fps)"
        raise DecodeError(joined_reason(damage(path, "end of file") if reader.n_frames <= 0 else "", words))
    return reader
