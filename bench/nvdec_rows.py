"""The NVDEC rows of ``bench/extract.py --nvdec-threads 1,7,14``: torchcodec decoding on the GPU, in threads.

For each thread count: decode only (``make_loader`` with ``--decoder torchcodec`` on the
GPU), end to end with each backbone (``extract(decoder="torchcodec", device=cuda)``), the
NVDEC utilisation ``nvidia-smi`` reported meanwhile (mean and peak, when ``nvidia-smi``
is there), the files torchcodec decoded on the CPU instead (``cpu_fallback``) and the pixel
check against the CPU decoders. Where torchcodec cannot decode on CUDA (no CUDA build of
it, no GPU), every row says ``unavailable: <the one-line reason>`` and the table still prints.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path


class DecoderUtilisation:
    """Samples ``nvidia-smi``'s decoder utilisation (%) every ``period`` seconds while in a ``with`` block."""

    def __init__(self, period: float = 0.25) -> None:
        self.period, self.samples = period, []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                out = subprocess.run(["nvidia-smi", "--query-gpu=utilization.decoder", "--format=csv,noheader,nounits"],
                                     capture_output=True, text=True, timeout=5).stdout.split()
                self.samples.append(float(out[0]))
            except (OSError, subprocess.SubprocessError, ValueError, IndexError):
                return
            self._stop.wait(self.period)

    def __enter__(self) -> "DecoderUtilisation":
        if shutil.which("nvidia-smi"):
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def describe(self) -> str:
        if not self.samples:
            return "no nvidia-smi"
        return f"{sum(self.samples) / len(self.samples):.0f} / {max(self.samples):.0f}"


def _decode(records, sampling, size: int, threads: int, device: str):
    from zsar.extract.loader import DecodeSettings, make_loader

    loader = make_loader(records, sampling, size, threads, DecodeSettings(decoder="torchcodec", device=device,
                                                                          digest=True))
    clips, start = 0, time.perf_counter()
    with DecoderUtilisation() as util:
        for item in loader:
            clips += item.n_clips
    return clips / (time.perf_counter() - start), util.describe(), loader.stats


def nvdec_table(records, data: Path, sampling, size: int, args, backbones: list, tmp: Path) -> str:
    """The Markdown table of the NVDEC rows (see the module doc)."""
    from zsar.errors import ZsarError
    from zsar.extract.extractor import ExtractConfig, extract
    from zsar.extract.gpu_loader import check_cuda_decoding

    counts = [int(t) for t in args.nvdec_threads.split(",") if t]
    device = args.device if args.device.startswith("cuda") else "cuda"  # NVDEC is a GPU's (a --dry run says so)
    header = ("| NVDEC threads | decode only, clips/s | NVDEC utilisation % (mean / peak) | cpu_fallback files | "
              "pixels vs CPU decoder (max / mean abs) | " + " | ".join(f"end to end ({n}), clips/s" for n, _ in backbones)
              + " |")
    lines = [header, "|---:|" + "---:|" * (4 + len(backbones))]
    try:
        check_cuda_decoding(records[0].path, "torchcodec", device)
    except ZsarError as err:
        reason = "unavailable: " + str(err).replace("|", "/")
        return "\n".join(lines + [f"| {t} | " + " | ".join([reason] + ["-"] * (3 + len(backbones))) + " |"
                                  for t in counts])
    for threads in counts:
        rate, util, stats = _decode(records, sampling, size, threads, device)
        cells = [f"{rate:.1f}", util, str(stats.cpu_fallback), f"{stats.max_abs} / {stats.mean_abs:.2f}"]
        for name, weight in backbones:
            result = extract(ExtractConfig(dataset="synthetic", root=data, backbone=name, weights=weight,
                                           text_encoder="none", decoder="torchcodec", resolution=args.resolution,
                                           cache=tmp / f"nvdec-{name}-{threads}", batch_size=args.batch_size,
                                           workers=threads, device=device, precision=args.precision))
            cells.append(f"{result.clips_per_s:.1f}")
        lines.append(f"| {threads} | " + " | ".join(cells) + " |")
    return "\n".join(lines)
