"""The NVDEC table of ``bench/gpu.sh``: decoding on the GPU in threads of one process, beside CPU worker processes.

One row per decoding path and thread (or worker) count, printed as soon as it is measured:

- ``pyav-nvdec``: PyAV on NVDEC (``zsar.extract.nvdec``), in threads;
- ``pyav, CPU workers``: PyAV on the CPU in worker processes (what ``--decoder auto`` does), on the same files;
- ``pyav-nvdec, every frame downloaded``: the same with PyAV's ``is_hw_owned`` off (FFmpeg
  copies every decoded frame to system memory, not only the sampled ones);
- ``torchcodec on CUDA``: ``--decoder torchcodec --device cuda``, in threads.

A row reads ``64 + 48 x threads`` of the videos, spread over the list as ``--limit`` spreads
them (so one thread does not take minutes). Columns: decode only (the extraction's loader,
no backbone; those videos again and again until ``--min-seconds`` have passed), the decoder
utilisation ``nvidia-smi`` reported meanwhile (mean / peak %), the files decoded on the CPU
instead (``cpu_fallback``) and the files that failed, out of those read once, the pixel
check against the CPU decoder (max / mean absolute difference in levels of 255, over the
first videos decoded on the GPU), and end to end (``extract()`` with each backbone and
``--limit`` that many, clips/s over its loop).

A GPU row needs a CUDA device for torch; without one it says ``unavailable: <reason>``. The
decoder's own check (``check_cuda_decoding``) is printed above the table; where it refuses,
decode only still runs, one pass over the list (its ``cpu_fallback`` and failed columns say
what happened), and end to end says ``refused``. Every cell is guarded: an error is that cell's text, on one line.

    PYTHONPATH=$PWD python bench/nvdec_rows.py --data DIR --backbone clip-vit-b16 --weights DIR \\
        --device cuda --precision fp16 --threads 1,7,14 [--resolution 224] [--min-seconds 3]
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Path_:
    """One decoding path of the table: its label, ``--decoder``, whether it decodes on the GPU, PyAV's frame download."""

    label: str
    decoder: str
    on_gpu: bool
    keep_on_gpu: bool = True


NVDEC = Path_("pyav-nvdec, threads", "pyav-nvdec", True)
CPU = Path_("pyav, CPU worker processes", "pyav", False)
DOWNLOAD_ALL = Path_("pyav-nvdec, every frame downloaded, threads", "pyav-nvdec", True, keep_on_gpu=False)
TORCHCODEC = Path_("torchcodec on CUDA, threads", "torchcodec", True)


def one_line(err: BaseException) -> str:
    text = " ".join(str(err).split()) or type(err).__name__
    return f"error: {type(err).__name__}: {text[:300]}".replace("|", "/")


def guarded(compute) -> str:
    """``compute()``'s text, or its error on one line: one cell never stops the table."""
    try:
        return compute()
    except Exception as err:  # noqa: BLE001 - a benchmark row reports any failure and the table goes on
        return one_line(err)


def _loader_pass(records, sampling, size: int, threads: int, settings) -> tuple[int, int, object]:
    """One pass of the loader over ``records``: clips, failed videos, and the GPU loader's stats (None on CPUs)."""
    from zsar.extract.loader import make_loader

    loader = make_loader(records, sampling, size, threads, settings)
    clips = failed = 0
    for item in loader:
        clips += item.n_clips
        failed += item.decoded is None
    return clips, failed, getattr(loader, "stats", None)


def decode_only(records, sampling, size: int, path: Path_, threads: int, device: str, min_seconds: float) -> list[str]:
    """Cells: clips/s, utilisation, cpu_fallback and failed files (of the list), pixels vs the CPU decoder."""
    from zsar.extract.loader import DecodeSettings

    settings = DecodeSettings(decoder=path.decoder, device=device if path.on_gpu else "cpu", digest=True)
    clips, passes, start = 0, [], time.perf_counter()
    with DecoderUtilisation() as util:
        while not passes or time.perf_counter() - start < min_seconds:
            done, failed, stats = _loader_pass(records, sampling, size, threads, settings)
            clips += done
            passes.append((failed, stats))
    rate = clips / (time.perf_counter() - start)
    failed, stats = passes[0]
    n = len(records)
    if stats is None:
        return [f"{rate:.1f}", util.describe(), "-", f"{failed} / {n}", "-"]
    pixels = f"{stats.max_abs} / {stats.mean_abs:.2f} ({stats.checked} videos)" if stats.checked else "none checked"
    if stats.warnings:
        pixels += f"; {len(stats.warnings)} warning(s)"
    return [f"{rate:.1f}", util.describe(), f"{stats.cpu_fallback} / {n}", f"{failed} / {n}", pixels]


@contextlib.contextmanager
def frames_download(path: Path_):
    """PyAV's ``is_hw_owned`` as ``path`` has it, for the ``with`` block (the NVDEC reader reads it at each open)."""
    from zsar.extract import nvdec

    nvdec.KEEP_ON_GPU = path.keep_on_gpu
    try:
        yield
    finally:
        nvdec.KEEP_ON_GPU = True


def end_to_end(data: Path, args, path: Path_, threads: int, backbone: str, weights, limit: int, cache: Path) -> str:
    """Clips/s of ``extract()`` decoding with ``path`` in ``threads`` threads (GPU) or worker processes (CPU)."""
    from zsar.extract.extractor import ExtractConfig, extract

    with frames_download(path):
        result = extract(ExtractConfig(dataset="synthetic", root=data, backbone=backbone, weights=weights,
                                       text_encoder="none", decoder=path.decoder, resolution=args.resolution,
                                       cache=cache, batch_size=args.batch_size, workers=threads, device=args.device,
                                       precision=args.precision, limit=limit))
    shutil.rmtree(cache, ignore_errors=True)
    return f"{result.clips_per_s:.1f}" + (f" ({result.failed} failed)" if result.failed else "")


def check(path: Path_, first_video: Path, device: str) -> str:
    """``check_cuda_decoding`` of ``path``'s decoder on ``device``: "" when it passes, else its one-line refusal."""
    from zsar.errors import ZsarError
    from zsar.extract.gpu_loader import check_cuda_decoding

    try:
        check_cuda_decoding(first_video, path.decoder, device)
    except ZsarError as err:
        return str(err)
    return ""


def render(cells: list[str]) -> str:
    return "| " + " | ".join(c.replace("|", "/") for c in cells) + " |"


def header(backbones: list) -> list[str]:
    names = "".join(f" end to end ({name}), clips/s |" for name, _ in backbones)
    return ["| decoding | threads or workers | decode only, clips/s | NVDEC utilisation % (mean / peak) | "
            f"cpu_fallback files | failed files | pixels vs CPU decoder, levels (max / mean) |{names}",
            "|---|---:|---:|---:|---:|---:|---|" + "---:|" * len(backbones)]


def row(context: dict, path: Path_, threads: int) -> str:
    """One row of the table (see the module doc); ``context``: what every row shares (``rows``)."""
    from zsar.extract.extractor import limit_records

    records, backbones, args = context["records"], context["backbones"], context["args"]
    cells = [path.label, str(threads)]
    refusal = context["checks"].get(path.decoder, "") if path.on_gpu else ""
    if path.on_gpu and not context["cuda"]:
        return render(cells + [f"unavailable: {refusal}"] + ["-"] * (4 + len(backbones)))
    limit = min(len(records), 64 + 48 * threads)
    share = limit_records(records, limit)
    once = 0.0 if refusal else args.min_seconds  # refused by its check: one pass says what happens
    with frames_download(path):
        decode = guarded(lambda: decode_only(share, context["sampling"], context["size"], path, threads,
                                             context["device"], once))
    cells += decode if isinstance(decode, list) else [decode] + ["-"] * 4
    for name, weights in backbones:
        cache = context["tmp"] / f"e2e-{path.decoder}-{threads}-{name}"
        cells.append("refused by its check (above)" if refusal else
                     guarded(lambda: end_to_end(context["data"], args, path, threads, name, weights, limit, cache)))
    return render(cells)


def rows(records, data: Path, sampling, size: int, args, backbones: list, tmp: Path, counts: list[int]):
    """The table's lines, one at a time: the decoders' checks, the header, then a row per path and count."""
    import torch

    device = args.device if args.device.startswith("cuda") else "cuda"  # NVDEC is a GPU's (a --dry run says so)
    context = dict(records=records, data=data, sampling=sampling, size=size, args=args, backbones=backbones, tmp=tmp,
                   device=device, cuda=torch.cuda.is_available(), checks={})
    for path in (NVDEC, TORCHCODEC):
        context["checks"][path.decoder] = guarded(lambda: check(path, records[0].path, device))
        yield f"- {context['checks'][path.decoder] or f'--decoder {path.decoder} --device {device}: its check passed'}"
    yield ""
    yield from header(backbones)
    order = [(NVDEC, c) for c in counts] + [(CPU, c) for c in counts] + [(TORCHCODEC, c) for c in counts]
    for path, threads in order + [(DOWNLOAD_ALL, counts[len(counts) // 2])]:
        yield row(context, path, threads)


def nvdec_table(records, data: Path, sampling, size: int, args, backbones: list, tmp: Path) -> str:
    """The whole table as one string (``bench/extract.py --nvdec-threads``)."""
    args.min_seconds = getattr(args, "min_seconds", 0.0)
    counts = [int(t) for t in args.nvdec_threads.split(",") if t]
    return "\n".join(rows(records, data, sampling, size, args, backbones, tmp, counts))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a dataset folder in HMDB51 layout (zsar synth)")
    parser.add_argument("--backbone", default="", help="comma-separated backbones of the end-to-end columns")
    parser.add_argument("--weights", default="", help="comma-separated --weights of the backbones")
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--precision", default="fp16")
    parser.add_argument("--threads", default="1,7,14", help="decoding threads (GPU) and worker processes (CPU)")
    parser.add_argument("--resolution", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=None)
    parser.add_argument("--min-seconds", type=float, default=3.0, help="decode only repeats the list this long")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import tempfile

    from extract import describe_videos
    from zsar.extract.datasets import DatasetConfig, create_dataset
    from zsar.extract.sampling import SamplingConfig

    names = [n for n in args.backbone.split(",") if n]
    weights = [Path(w) if w else None for w in (args.weights.split(",") if args.weights else [""] * len(names))]
    records = create_dataset("synthetic", DatasetConfig(args.data)).records
    sampling = SamplingConfig()
    print(f"{describe_videos(args.data, records)}; {sampling.describe()} -> {args.resolution}x{args.resolution}, "
          f"{args.device} ({args.precision}); decode only for at least {args.min_seconds:g} s a row\n", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        counts = [int(t) for t in args.threads.split(",") if t]
        for line in rows(records, args.data, sampling, args.resolution, args, list(zip(names, weights)), Path(tmp),
                         counts):
            print(line, flush=True)


if __name__ == "__main__":
    main()
