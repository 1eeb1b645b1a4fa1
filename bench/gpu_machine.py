"""What a GPU machine has for decoding, and what NVDEC does with each codec: the preamble of ``bench/gpu.sh``.

Prints (Markdown) the GPU and driver (``nvidia-smi``), torch and its CUDA, PyAV with its
FFmpeg's hardware devices and NVDEC (cuvid) decoders, whether the driver's ``libcuda`` and
``libnvcuvid`` load, the container's NVIDIA variables, torchcodec and decord, and the check
``--decoder pyav-nvdec`` runs first (``zsar.extract.nvdec.nvdec_problem``). Then, for a short
320x240 file of each container and codec zsar reads (``zsar.synth.containers.KINDS``):
whether ``pyav-nvdec`` decoded it on NVDEC or on the CPU (``cpu_fallback``, with the
reason), whether it counts the frames as PyAV and decord on the CPU do, and by how much
the 8 sampled frames differ from theirs (levels of 255, before any resize). Every line is
guarded: an error is that line's text, so a failed row of the tables can be read here.

    PYTHONPATH=$PWD python bench/gpu_machine.py [--device cuda]
"""

from __future__ import annotations

import argparse
import ctypes
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SMI_FIELDS = "name,driver_version,memory.total,compute_cap"
ENV = ("NVIDIA_DRIVER_CAPABILITIES", "NVIDIA_VISIBLE_DEVICES", "CUDA_VISIBLE_DEVICES")
FRAMES, SIZE = 48, (320, 240)


def guarded(compute) -> str:
    try:
        return compute()
    except Exception as err:  # noqa: BLE001 - a diagnostic line reports any failure and the rest go on
        return f"error: {type(err).__name__}: {' '.join(str(err).split())[:300]}".replace("|", "/")


def nvidia_smi() -> str:
    if not shutil.which("nvidia-smi"):
        return "no nvidia-smi on PATH"
    done = subprocess.run(["nvidia-smi", f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader"], capture_output=True,
                          text=True, timeout=20)
    return "; ".join(done.stdout.strip().splitlines()) or done.stderr.strip()[:300]


def torch_line() -> str:
    import torch

    text = f"{torch.__version__} (CUDA build {torch.version.cuda}), CUDA visible: {torch.cuda.is_available()}"
    if torch.cuda.is_available():
        text += f", {torch.cuda.device_count()} device(s), the first: {torch.cuda.get_device_name(0)}"
    return text


def pyav_line() -> str:
    import av
    from av.codec.hwaccel import hwdevices_available

    cuvid = sorted(name for name in av.codecs_available if name.endswith("_cuvid"))
    ffmpeg = ".".join(str(v) for v in av.library_versions.get("libavcodec", ()))
    return (f"{av.__version__} (libavcodec {ffmpeg}); hardware devices: {', '.join(hwdevices_available()) or 'none'}; "
            f"cuvid decoders: {', '.join(cuvid) or 'none'}")


def library_line(name: str) -> str:
    try:
        ctypes.CDLL(name)
    except OSError as err:
        return f"{name}: cannot be loaded ({' '.join(str(err).split())[:200]})"
    return f"{name}: loads"


def torchcodec_line() -> str:
    from importlib import metadata

    try:
        version = metadata.version("torchcodec")
    except metadata.PackageNotFoundError:
        return "not installed"
    from zsar.extract.decoders import installed

    return f"{version}, {'loads' if installed('torchcodec') else 'cannot load (no FFmpeg libraries it takes)'}"


def decord_line() -> str:
    import decord

    return decord.__version__


def machine_lines(device: str) -> list[str]:
    from zsar.extract.nvdec import nvdec_problem

    return ["## The machine", "",
            f"- host: {os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.platform()}",
            f"- GPU ({SMI_FIELDS}): {guarded(nvidia_smi)}",
            f"- torch: {guarded(torch_line)}",
            f"- PyAV: {guarded(pyav_line)}",
            *(f"- {guarded(lambda: library_line(name))}" for name in ("libcuda.so.1", "libnvcuvid.so.1")),
            "- environment: " + ", ".join(f"{k}={os.environ.get(k, '(unset)')}" for k in ENV),
            f"- torchcodec: {guarded(torchcodec_line)}; decord: {guarded(decord_line)}",
            f"- pyav-nvdec's check on {device}: {guarded(lambda: nvdec_problem(device) or 'passed')}"]


def _read(name: str, path: Path, device: str, index):
    from zsar.extract.decoders import open_reader

    start = time.perf_counter()
    reader = open_reader(name, path, 1, device)
    try:
        frames = reader.read(index)
    finally:
        reader.close()
    return reader, frames, 1000 * (time.perf_counter() - start)


def _diff(a, b) -> str:
    if a.shape != b.shape:
        return f"shapes differ: {tuple(a.shape)} and {tuple(b.shape)}"
    diff = (a.int() - b.int()).abs()
    return f"{int(diff.max())} / {float(diff.float().mean()):.2f}"


def codec_row(kind: str, folder: Path, device: str) -> str:
    """One row of the per-codec table (see the module doc)."""
    import numpy as np

    from zsar.extract.decoders import installed
    from zsar.extract.sampling import SamplingConfig, sample_indices
    from zsar.synth.containers import KINDS, write_container_video

    path = write_container_video(folder / f"{kind}{KINDS[kind].suffix}", kind, frames=FRAMES, width=SIZE[0],
                                 height=SIZE[1])
    cpu_index = np.unique(sample_indices(FRAMES, SamplingConfig()))
    cpu, cpu_frames, cpu_ms = _read("pyav", path, "cpu", cpu_index)
    index = np.unique(sample_indices(cpu.n_frames, SamplingConfig()))
    gpu, gpu_frames, gpu_ms = _read("pyav-nvdec", path, device, index)
    where = f"CPU (cpu_fallback: {gpu.fallback_reason})" if gpu.cpu_fallback else "NVDEC"
    counts = {"pyav": cpu.n_frames, "pyav-nvdec": gpu.n_frames}
    versus_decord = "decord not installed"
    if installed("decord"):
        other = guarded(lambda: _read("decord", path, "cpu", index))
        if isinstance(other, str):
            versus_decord = other
        else:
            counts["decord"] = other[0].n_frames
            versus_decord = _diff(gpu_frames, other[1])
    same = "yes" if len(set(counts.values())) == 1 else "no: " + ", ".join(f"{k} {v}" for k, v in counts.items())
    cells = [kind, where, f"{same} ({gpu.n_frames})", _diff(gpu_frames, cpu_frames), versus_decord,
             f"{gpu_ms:.0f} / {cpu_ms:.0f}"]
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def codec_lines(device: str) -> list[str]:
    from zsar.synth.containers import KINDS

    lines = ["", f"## pyav-nvdec per container and codec ({FRAMES} frames of {SIZE[0]}x{SIZE[1]}, 8 sampled)", "",
             "| file | decoded on | frame count as PyAV and decord on the CPU | pixels vs PyAV on the CPU (max / mean) "
             "| pixels vs decord (max / mean) | ms to open and read (pyav-nvdec / pyav) |", "|---|---|---|---|---|---:|"]
    with tempfile.TemporaryDirectory() as tmp:
        for kind in KINDS:
            text = guarded(lambda: codec_row(kind, Path(tmp), device))
            lines.append(text if text.startswith("|") else f"| {kind} | {text} | - | - | - | - |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="the CUDA device NVDEC is asked for")
    args = parser.parse_args()
    for line in machine_lines(args.device) + codec_lines(args.device):
        print(line, flush=True)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
