"""How close `zsar extract` gets to its two limits, decoding and the backbone, and what its main process costs.

For the same videos and backbone(s), one Markdown table with a column per ``--workers`` value:

- decode only: the extraction's loader (``--workers`` processes, resize + centre crop into
  shared memory, content digest of each file), no backbone: first with today's defaults
  (``--decoder auto --resize uint8``), then one row per decoder of ``--decoders`` and resize
  of ``--resizes`` (``decord, float`` is what zsar did before issue 32), and the speed-up of
  the defaults over ``decord, float`` measured in the same run on the same files;
- backbone only: ``Backbone.encode`` on decoded uint8 frames (copy to the device and
  normalisation included), batches of ``--batch-size`` clips, with the torch threads
  ``extract()`` gives the process beside that many workers;
- end to end: ``extract()`` into a fresh cache (clips over the extraction loop's time, after
  the models are loaded), and its ratio to the slower of the two limits (target: >= 0.8);
  ``--digest-cost`` adds the same without the content digest, and the ratio of the two;
- NVDEC (``--nvdec-threads 1,7,14``, with ``--device cuda``): decode only and end to end with
  ``--decoder torchcodec`` on the GPU at each thread count, the NVDEC utilisation that
  ``nvidia-smi`` reports meanwhile, and the pixel check against the CPU decoder; a row says
  ``unavailable: <reason>`` when torchcodec cannot decode on CUDA here;
- main-process CPU per video with a free backbone (a registered backbone whose features
  cost nothing, on ``--device``): the CPU time of the extracting process, all its threads
  (batching, the writer thread; not the decoding workers), over the extraction loop, per
  video, with ``--free-threads`` torch threads. The video list is repeated up to
  ``--free-videos`` so the one-off costs (starting workers, first touches of the buffers)
  are spread as in a long run; they are printed too (the same over the list once).

::

    PYTHONPATH=$PWD python bench/extract.py [--backbone efficientnet-lite0[,clip-vit-l14]]
        [--weights DIR[,DIR]] [--device cpu|cuda] [--precision fp32|fp16] [--resolution 112]
        [--workers 0,1] [--threads N] [--batch-size N] [--data DIR] [--free-threads 1,2]
        [--decoders decord,pyav,torchcodec] [--resizes float,uint8] [--digest-cost] [--nvdec-threads 1,7,14]

``--data`` reuses a dataset folder (a ``zsar synth`` output, or any HMDB51 layout); without
it a synthetic set is made from ``--classes``/``--per-class``/``--video-frames``/``--size``.
The header describes the videos actually read. The machine's load average is printed:
on a shared machine the figures move with other people's work (``--repeat N`` keeps the
fastest of N runs of every stage).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

FREE = "free"     # the zero-cost backbone's registered name
FREE_DIM = 16


def make_data(folder: Path, classes: int, per_class: int, frames: int, size: str) -> Path:
    from zsar.synth import SynthConfig, generate_dataset, parse_size

    width, height = parse_size(size)
    generate_dataset(SynthConfig(classes=classes, per_class=per_class, frames=frames, width=width,
                                 height=height), folder)
    return folder


def describe_videos(data: Path, records: list) -> str:
    """What was read: how many videos, from where, and the first one's frames, size, fps and container."""
    import av

    from zsar.extract.decoders import open_reader

    first = records[0].path
    reader = open_reader("pyav", first)
    stream = reader.container.streams.video[0]
    width, height, codec = stream.codec_context.width, stream.codec_context.height, stream.codec_context.name
    reader.close()
    files = {(stat.st_dev, stat.st_ino) for stat in (os.stat(r.path) for r in records)}  # links: one file
    distinct = "" if len(files) == len(records) else f" ({len(files)} distinct files)"
    return (f"{len(records)} videos{distinct} in {data} (the first: {reader.n_frames} frames of {width}x{height} "
            f"at {reader.fps:.0f} fps, {first.suffix[1:]} {codec}; PyAV {av.__version__})")


def register_free_backbone() -> None:
    """Register ``free``: a frame-level backbone whose features cost nothing (zeros on its device)."""
    import torch
    from torch import nn

    from zsar.extract.models.backbones import BACKBONES, TINY_NORM, Backbone

    class FreeBackbone(Backbone):
        def features(self, frames: torch.Tensor) -> torch.Tensor:
            return torch.zeros(frames.shape[0], frames.shape[1], FREE_DIM, device=frames.device)

    if FREE not in BACKBONES.names():
        BACKBONES.add(FREE, lambda config: FreeBackbone(
            nn.Identity(), name=FREE, input_size=224, kind="frame", feature_dim=FREE_DIM, weights_id=FREE,
            norm=TINY_NORM, config=config, any_size=True), help="features that cost nothing (bench only)")


def _free_loop_cpu(records: list, sampling, size: int, workers: int, threads: int, batch_size: int,
                   device: str, folder: Path) -> float:
    """CPU seconds of this process in ``extract_chunks`` over ``records`` with the free backbone."""
    import shutil

    from zsar.cache.layout import CacheLayout
    from zsar.devices import torch_threads
    from zsar.extract.chunk_writer import ChunkContext, extract_chunks
    from zsar.extract.models.backbones import BackboneConfig, create_backbone
    from zsar.extract.plan import rank_chunks

    shutil.rmtree(folder, ignore_errors=True)
    layout = CacheLayout(folder)
    layout.make_dirs()
    backbone = create_backbone(BackboneConfig(name=FREE, device=device))
    classes = sorted({r.label for r in records})
    context = ChunkContext(layout=layout, rank=0, key="free", records=records, class_names=classes, root=folder,
                           sampling=sampling, size=size, batch_size=batch_size, workers=workers,
                           pinned=backbone.device.type == "cuda")
    with torch_threads(threads):
        return extract_chunks(context, rank_chunks(len(records), 64, 0, 1), backbone.launch).cpu_seconds


def free_backbone_cpu(records: list, sampling, size: int, workers: int, threads: int, batch_size: int,
                      device: str, n_videos: int, folder: Path) -> tuple[float, float]:
    """Main-process CPU ms per video with the free backbone, and the one-off ms of a run.

    Two runs: the list once (n) and repeated up to ``n_videos`` (m); per video is the
    difference over ``m - n``, the one-off cost what the first run spent beyond that.
    """
    repeats = max(2, -(-n_videos // len(records)))
    once = _free_loop_cpu(records, sampling, size, workers, threads, batch_size, device, folder)
    many = _free_loop_cpu(records * repeats, sampling, size, workers, threads, batch_size, device, folder)
    per_video = (many - once) / ((repeats - 1) * len(records))
    return 1000 * per_video, 1000 * (once - per_video * len(records))


def decode_only(records, sampling, size: int, workers: int, keep: int, settings=None) -> tuple[float, list]:
    """Clips/s of the loader alone; also returns up to ``keep`` decoded clips for the backbone-only run."""
    from zsar.extract.loader import DecodeSettings, make_loader

    kept: list = []
    clips = 0
    loader = make_loader(records, sampling, size, workers, settings or DecodeSettings(digest=True))
    start = time.perf_counter()
    for item in loader:
        if item.decoded is not None:
            clips += item.n_clips
            if sum(f.shape[0] for f in kept) < keep:
                kept.append(item.decoded.frames.clone())  # the loader's slot is reused after this item
    seconds = time.perf_counter() - start
    return clips / seconds, kept


def backbone_only(backbone, clips: list, batch_size: int) -> float:
    import torch

    frames = torch.cat(clips)
    if frames.shape[0] < batch_size:
        frames = frames.repeat((batch_size // frames.shape[0] + 1,) + (1,) * (frames.ndim - 1))
    backbone.encode(frames[:batch_size])  # warm-up (allocator, kernels)
    start = time.perf_counter()
    for lo in range(0, frames.shape[0], batch_size):
        backbone.encode(frames[lo:lo + batch_size])
    return frames.shape[0] / (time.perf_counter() - start)


def end_to_end(data: Path, args, backbone: str, weights: Path | None, workers: int, cache: Path,
               digest: bool = True, decoder: str = "auto") -> float:
    """Clips/s of ``extract()``; ``digest=False`` leaves out the content digest (to measure what it costs)."""
    import dataclasses
    from unittest import mock

    from zsar.extract import extractor
    from zsar.extract.extractor import ExtractConfig, extract

    real = extractor.decode_settings
    settings = real if digest else (lambda *a: dataclasses.replace(real(*a), digest=False))
    with mock.patch.object(extractor, "decode_settings", settings):
        result = extract(ExtractConfig(dataset="synthetic", root=data, backbone=backbone, weights=weights,
                                       text_encoder="none", decoder=decoder,
                                       resolution=args.resolution, cache=cache, batch_size=args.batch_size,
                                       workers=workers, threads=args.threads, device=args.device,
                                       precision=args.precision))
    return result.clips_per_s


def decode_rows(records, sampling, size: int, workers: int, args, put) -> float:
    """The decode-only rows: today's defaults, then each decoder and resize; returns the defaults' clips/s.

    Each repeat runs every combination once, in turn, so a load spike hits them alike; the
    fastest of the repeats is kept.
    """
    from zsar.extract.decoders import installed
    from zsar.extract.loader import DecodeSettings

    default, before = ("auto", "uint8"), ("decord", "float")
    combos = [default] + [(d, r) for d in args.decoders.split(",") if d for r in args.resizes.split(",") if r]
    combos += [before] if args.decoders and before not in combos else []
    runnable = [c for c in dict.fromkeys(combos) if c[0] == "auto" or installed(c[0])]
    rate = dict.fromkeys(runnable, 0.0)
    for _ in range(args.repeat):
        for decoder, resize in runnable:
            settings = DecodeSettings(decoder=decoder, resize=resize, digest=True)
            rate[decoder, resize] = max(rate[decoder, resize], decode_only(records, sampling, size, workers, 0,
                                                                           settings)[0])
    put("decode only, clips/s", f"{rate[default]:.1f}")
    for decoder, resize in combos[1:]:
        value = rate.get((decoder, resize))
        put(f"decode only ({decoder}, {resize} resize{': before' if (decoder, resize) == before else ''}), clips/s",
            "unavailable (not installed, or it cannot load)" if value is None else f"{value:.1f}")
    if before in rate:
        put("decode only: defaults / before", f"{rate[default] / rate[before]:.2f}x")
    return rate[default]


def end_to_end_rows(data: Path, args, name: str, weight, workers: int, tmp: Path, put) -> float:
    """End to end clips/s (best of ``--repeat``); with ``--digest-cost`` also without the content digest."""
    variants = (True, False) if args.digest_cost else (True,)
    rate = dict.fromkeys(variants, 0.0)
    for i in range(args.repeat):
        for digest in variants:  # alternated, so a load spike hits both alike
            cache = tmp / f"cache-{name}-{workers}-{i}-{int(digest)}"
            rate[digest] = max(rate[digest], end_to_end(data, args, name, weight, workers, cache, digest))
    put(f"end to end ({name}), clips/s", f"{rate[True]:.1f}")
    if args.digest_cost:
        put(f"end to end without the content digest ({name}), clips/s", f"{rate[False]:.1f}")
        put(f"end to end with / without the digest ({name})", f"{rate[True] / rate[False]:.3f}")
    return rate[True]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet-lite0",
                        help="comma-separated backbone names ('': only the decode and free-backbone rows)")
    parser.add_argument("--weights", default="", help="comma-separated --weights of the backbones ('' for none)")
    parser.add_argument("--resolution", type=int, default=None, help="frame side (default: the backbone's)")
    parser.add_argument("--workers", default="0,1", help="comma-separated decoding worker counts")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: extract()'s)")
    parser.add_argument("--batch-size", type=int, default=None, help="clips per batch (default: the device's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--free-threads", default="1,2", help="torch threads of the free-backbone rows ('' : none)")
    parser.add_argument("--free-videos", type=int, default=480, help="videos of the free-backbone rows")
    parser.add_argument("--backbone-clips", type=int, default=512, help="clips timed in backbone-only")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each stage this many times and keep the fastest (a shared machine's load spikes)")
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--video-frames", type=int, default=32)
    parser.add_argument("--size", default="160x120")
    parser.add_argument("--data", type=Path, default=None, help="read (or make, if missing) the videos here")
    parser.add_argument("--decoders", default="decord,pyav,torchcodec",
                        help="decoders of the per-decoder decode rows, with (decord, float resize), the code before "
                             "issue 32 ('' : none; one not installed says so)")
    parser.add_argument("--resizes", default="float,uint8", help="resize methods of the per-decoder decode rows")
    parser.add_argument("--digest-cost", action="store_true",
                        help="also time end to end without the content digest, and print the ratio")
    parser.add_argument("--nvdec-threads", default="", help="NVDEC rows at these thread counts (--device cuda)")
    return parser.parse_args()


def main() -> None:
    args = parse_args()
    import torch

    from zsar.devices import backbone_threads, default_batch_size, keep_freed_memory, process_cores, torch_threads
    from zsar.extract.datasets import DatasetConfig, create_dataset
    from zsar.extract.models.backbones import BackboneConfig, create_backbone
    from zsar.extract.sampling import SamplingConfig

    names = [n for n in args.backbone.split(",") if n]  # none: only the decode and free-backbone rows
    weights = [Path(w) if w else None for w in (args.weights.split(",") if args.weights else [""] * len(names))]
    worker_counts = [int(w) for w in args.workers.split(",")]
    keep_freed_memory()  # as extract() does on CPU, so backbone-only is timed the same way
    register_free_backbone()
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "synthetic"
        if not (data / "videos").is_dir():
            make_data(data, args.classes, args.per_class, args.video_frames, args.size)
        records = create_dataset("synthetic", DatasetConfig(data)).records
        backbones = [create_backbone(BackboneConfig(name=n, weights=w, device=args.device,
                                                    precision=args.precision)) for n, w in zip(names, weights)]
        device = torch.device(args.device)
        size = args.resolution or (backbones[0].input_size if backbones else 224)
        args.batch_size = args.batch_size or default_batch_size(device.type)
        sampling = SamplingConfig()
        device_name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
        print(f"{describe_videos(data, records)}; {sampling.describe()} -> {size}x{size}; device {device_name} "
              f"({args.precision}), batch {args.batch_size}, {process_cores()} cores, "
              f"load average {os.getloadavg()[0]:.2f}\n")
        rows: dict[str, list[str]] = {}

        def put(label: str, value: str) -> None:
            rows.setdefault(label, []).append(value)

        best = range(args.repeat)
        for workers in worker_counts:
            decode_rate = decode_rows(records, sampling, size, workers, args, put)
            decoded = decode_only(records, sampling, size, workers, args.backbone_clips)[1] if backbones else []
            for name, weight, backbone in zip(names, weights, backbones):
                threads = backbone_threads(args.threads, workers, backbone.device.type)
                with torch_threads(threads):
                    backbone_rate = max(backbone_only(backbone, decoded, args.batch_size) for _ in best)
                put(f"backbone only ({name}), clips/s", f"{backbone_rate:.1f}")
                e2e = end_to_end_rows(data, args, name, weight, workers, Path(tmp), put)
                put(f"end to end / min(decode, backbone) ({name})", f"{e2e / min(decode_rate, backbone_rate):.2f}")
            del decoded
            for threads in (int(t) for t in args.free_threads.split(",") if t):
                per_video, once = free_backbone_cpu(records, sampling, size, workers, threads, args.batch_size,
                                                    args.device, args.free_videos, Path(tmp) / "free")
                put(f"main-process CPU ms/video, free backbone, {threads} torch thread(s) "
                    f"[one-off ms]", f"{per_video:.2f} [{once:.0f}]")
            print(f"workers {workers} done (load average {os.getloadavg()[0]:.2f})", file=sys.stderr, flush=True)
        print("| stage | " + " | ".join(f"{w} worker(s)" for w in worker_counts) + " |")
        print("|---|" + "---:|" * len(worker_counts))
        for label, values in rows.items():
            print(f"| {label} | " + " | ".join(values) + " |")
        if args.nvdec_threads:
            from nvdec_rows import nvdec_table

            print()
            print(nvdec_table(records, data, sampling, size, args, list(zip(names, weights)), Path(tmp)))


if __name__ == "__main__":
    main()
