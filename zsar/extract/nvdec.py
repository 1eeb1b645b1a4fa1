"""``--decoder pyav-nvdec``: PyAV decoding on NVDEC, through the CUDA hwaccel of the FFmpeg inside PyAV's wheels.

PyAV (>= 14) decodes on a hardware device when ``av.open`` is given an ``HWAccel``; the
FFmpeg its PyPI wheels bundle has the CUDA hwaccel (``hwdevices_available()`` lists
``cuda``), which drives NVDEC through the NVIDIA driver's ``libnvcuvid``. No CUDA build of
anything else is needed, unlike torchcodec on CUDA. ``PyAVNvdecReader`` is ``PyAVReader``
on such a container, so it indexes the same packets, numbers the frames the same way and
seeks to the same keyframes as the CPU decoders (the same ``sample_indices`` for a file):

- the device is CUDA's primary context (``primary_ctx``, the one torch uses), so opening a
  file creates an NVDEC decoder but no CUDA context. FFmpeg retains that context only when
  its scheduling flags are ``CU_CTX_SCHED_BLOCKING_SYNC`` and refuses it once torch has
  made it with its default flags ("Primary context already active with incompatible
  flags"), so ``align_primary_context`` sets those flags first, through the driver
  (``cuDevicePrimaryCtxSetFlags``: allowed on an active context since CUDA 11). For torch
  it only means that a thread waiting for the GPU sleeps instead of spinning;
- decoded frames stay on the GPU (``is_hw_owned``); only the sampled ones are copied to
  system memory, by PyAV's converter to RGB (``zsar.extract.decoders._rgb``), and resized
  on the CPU by the decoding thread;
- FFmpeg's own software fallback is off (``allow_software_fallback=False``): a stream that
  NVDEC cannot take fails instead of decoding on the CPU unseen. The reader then reads the
  file with PyAV on the CPU and sets ``cpu_fallback`` (counted in the run summary by
  ``zsar.extract.gpu_loader``): a codec FFmpeg has no CUDA hwaccel for (AV1, which this
  FFmpeg decodes with libdav1d), a stream NVDEC refuses (a profile or size it lacks), or a
  CUDA failure while opening or decoding the file. A file the CPU cannot read either
  fails with the CPU decoder's message, as with ``--decoder pyav``.

``nvdec_problem(device)`` says in one line why NVDEC cannot decode here ("" when it can):
no CUDA hwaccel in PyAV's FFmpeg, no ``libcuda`` or ``libnvcuvid`` (a container started
without the driver's ``video`` capability), no CUDA device for FFmpeg, or a test H.264
stream that does not come out of NVDEC.
"""

from __future__ import annotations

import ctypes
import functools
import io
import logging
from pathlib import Path

import av
import numpy as np
from av.codec.hwaccel import HWAccel, hwdevices_available

from zsar.extract.decoders import DECODERS, DecodeError, PyAVReader, first_line

log = logging.getLogger(__name__)

NVDEC_OPTIONS = {"primary_ctx": "1"}   # av_hwdevice_ctx_create: retain CUDA's primary context, make none
CU_CTX_SCHED_BLOCKING_SYNC = 0x04      # the primary context's flags FFmpeg's primary_ctx insists on
KEEP_ON_GPU = True                     # is_hw_owned: download only the sampled frames (bench/nvdec_rows.py times both)
LIBCUDA = "libcuda.so.1"
DRIVER_LIBRARIES = (LIBCUDA, "libnvcuvid.so.1")
PROBE_SIZE = (128, 96)                 # the test stream's frames: above NVDEC's smallest H.264 size (48x16)
PROBE_FRAMES = 4


def cuda_index(device: str) -> str | None:
    """The CUDA device number FFmpeg takes: ``cuda:1`` -> ``"1"``; ``cuda`` -> None (the default device)."""
    _, _, index = device.partition(":")
    return index or None


@functools.lru_cache(maxsize=None)
def align_primary_context(index: int) -> str:
    """Give CUDA device ``index``'s primary context the flags FFmpeg retains it with; "" when it has them, else why not.

    Once per process and device: the flags stay with the device's primary context.
    """
    try:
        cuda = ctypes.CDLL(LIBCUDA)
    except OSError as err:
        return f"the NVIDIA driver cannot be loaded ({first_line(err)[:160]})"
    device, flags, active = ctypes.c_int(), ctypes.c_uint(), ctypes.c_int()
    for name, args in (("cuInit", (0,)), ("cuDeviceGet", (ctypes.byref(device), index)),
                       ("cuDevicePrimaryCtxGetState", (device, ctypes.byref(flags), ctypes.byref(active)))):
        status = getattr(cuda, name)(*args)
        if status:
            return f"{name} failed (CUresult {status})"
    if flags.value == CU_CTX_SCHED_BLOCKING_SYNC:
        return ""
    set_flags = getattr(cuda, "cuDevicePrimaryCtxSetFlags_v2", None) or cuda.cuDevicePrimaryCtxSetFlags
    status = set_flags(device, CU_CTX_SCHED_BLOCKING_SYNC)
    if status:
        return (f"cuDevicePrimaryCtxSetFlags failed (CUresult {status}; the context's flags {flags.value:#x}, "
                f"{'active' if active.value else 'inactive'})")
    log.debug("CUDA device %d's primary context: flags %#x -> %#x for FFmpeg's NVDEC", index, flags.value,
              CU_CTX_SCHED_BLOCKING_SYNC)
    return ""


def nvdec_accel(device: str) -> HWAccel:
    """PyAV's hardware decoding settings for NVDEC on ``device`` (see the module doc), its primary context aligned."""
    problem = align_primary_context(int(cuda_index(device) or 0))
    if problem:
        log.debug("CUDA device %s: %s", device, problem)
    return HWAccel("cuda", device=cuda_index(device), allow_software_fallback=False, is_hw_owned=KEEP_ON_GPU,
                   options=NVDEC_OPTIONS)


def open_on_nvdec(source, device: str) -> tuple[av.container.InputContainer, bool]:
    """``source`` (a path or a file object) opened for decoding on NVDEC, and whether its first video stream does.

    Raises what ``av.open`` raises: ``av.FFmpegError`` (no CUDA device, a damaged file) and
    ``RuntimeError`` (no stream of the file has a CUDA hwaccel).
    """
    container = av.open(source if hasattr(source, "read") else str(source), hwaccel=nvdec_accel(device))
    video = container.streams.video
    return container, bool(video and video[0].codec_context.is_hwaccel)


@DECODERS.register("pyav-nvdec", help="PyAV on NVDEC (FFmpeg's CUDA hwaccel in PyAV's wheels; --device cuda), "
                                      "in threads; a file NVDEC cannot take is read on the CPU (cpu_fallback)")
class PyAVNvdecReader(PyAVReader):
    """``PyAVReader`` on NVDEC; ``cpu_fallback`` and ``fallback_reason`` when the file was read on the CPU."""

    name = "pyav-nvdec"
    on_cuda = True
    needs_cuda = True

    def __init__(self, path: Path, threads: int = 1, device: str = "cuda") -> None:
        self.device, self.path = device, path
        self.cpu_fallback, self.fallback_reason = False, ""
        super().__init__(path, threads, device)

    @classmethod
    def cuda_problem(cls, device: str) -> str:
        return nvdec_problem(device)

    @property
    def on_gpu(self) -> bool:
        return self.device != "cpu" and not self.cpu_fallback

    def _fall_back(self, reason: str) -> None:
        self.cpu_fallback, self.fallback_reason = True, reason
        log.debug("%s: decoded on the CPU (%s)", self.path, reason)

    def _open_container(self):
        if self.on_gpu:
            try:
                container, accelerated = open_on_nvdec(self.path, self.device)
            except RuntimeError as err:  # PyAV: no stream of the file has a CUDA hwaccel
                self._fall_back(f"no stream of the file has an NVDEC decoder in FFmpeg ({first_line(err)})")
            except (av.FFmpegError, OSError, ValueError) as err:
                self._fall_back(f"NVDEC cannot open it: {first_line(err)}")
            else:
                if accelerated:
                    return container
                codec = container.streams.video[0].codec_context.name if container.streams.video else "none"
                container.close()
                self._fall_back(f"FFmpeg has no NVDEC decoder for its codec ({codec})")
        return av.open(str(self.path))

    def read(self, index: np.ndarray):
        if not self.on_gpu:
            return super().read(index)
        try:
            return super().read(index)
        except DecodeError as err:  # NVDEC refused the stream, or the file is damaged: the CPU tells which
            self._fall_back(f"NVDEC failed on it ({str(err).removeprefix('truncated or damaged: ')})")
        self.close()
        self.container = av.open(str(self.path))
        self.container.streams.video[0].thread_count = self.threads
        return super().read(index)


def _probe_stream() -> bytes | None:
    """A few frames of H.264 in Matroska, made here (None: this FFmpeg has no H.264 encoder)."""
    encoder = next((name for name in ("libx264", "libopenh264") if name in av.codecs_available), None)
    if encoder is None:
        return None
    width, height = PROBE_SIZE
    buffer = io.BytesIO()
    with av.open(buffer, mode="w", format="matroska") as container:
        stream = container.add_stream(encoder, rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(PROBE_FRAMES):
            image = np.full((height, width, 3), 40 * i, dtype=np.uint8)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(image, format="rgb24")))
        container.mux(stream.encode())
    return buffer.getvalue()


def _driver_problem() -> str:
    for library in DRIVER_LIBRARIES:
        try:
            ctypes.CDLL(library)
        except OSError as err:
            what = "the NVIDIA driver's video decoding library" if "nvcuvid" in library else "the NVIDIA driver"
            hint = ("; a container gets it with NVIDIA_DRIVER_CAPABILITIES including video"
                    if "nvcuvid" in library else "")
            return f"{library} ({what}) cannot be loaded: {first_line(err)[:160]}{hint}"
    return ""


@functools.lru_cache(maxsize=None)
def nvdec_problem(device: str = "cuda") -> str:
    """Why PyAV cannot decode on NVDEC on ``device`` here, in one line; "" when a test H.264 stream decodes there."""
    if "cuda" not in hwdevices_available():
        return (f"the FFmpeg inside PyAV {av.__version__} has no CUDA hwaccel (its hardware devices: "
                f"{', '.join(hwdevices_available()) or 'none'}); install PyAV's PyPI wheel (pip install 'av>=14')")
    problem = _driver_problem()
    if problem:
        return problem
    try:
        nvdec_accel(device).create(av.codec.Codec("h264", "r"))
    except (av.FFmpegError, NotImplementedError, OSError, ValueError) as err:
        index = int(cuda_index(device) or 0)
        flags = align_primary_context(index)
        return (f"FFmpeg cannot open CUDA device {index} ({first_line(err)})"
                + (f"; its primary context's flags could not be set: {flags}" if flags else ""))
    data = _probe_stream()
    if data is None:
        return ""  # nothing to test with: the first video tells (its cpu_fallback)
    try:
        container, accelerated = open_on_nvdec(io.BytesIO(data), device)
        with container:
            formats = {frame.format.name for frame in container.decode(container.streams.video[0])}
    except (av.FFmpegError, RuntimeError, OSError, ValueError) as err:
        return f"a test H.264 stream does not decode on NVDEC ({first_line(err)})"
    if not accelerated or (KEEP_ON_GPU and formats != {"cuda"}):
        return f"a test H.264 stream decoded on the CPU, not on NVDEC (frames: {', '.join(sorted(formats))})"
    return ""
