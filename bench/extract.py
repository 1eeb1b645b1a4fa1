"""How close `zsar extract` gets to its two limits: decoding and the backbone.

For the same videos (the synthetic set: ``--classes`` x ``--per-class`` clips of
``--video-frames`` frames at ``--size``) and backbone, it measures:

- decode-only: the extraction's loader (decord in ``--workers`` DataLoader processes,
  resize + centre crop), no backbone;
- backbone-only: ``Backbone.encode`` on pre-decoded frames, batches of ``--batch-size`` clips,
  with the torch threads ``extract()`` gives the backbone beside that many workers;
- end to end: ``extract()`` into a fresh cache (clips over the extraction loop's time,
  after the models are loaded);

and prints ``ratio = end-to-end / min(decode, backbone)`` (target: at least 0.8)::

    PYTHONPATH=$PWD python bench/extract.py [--backbone efficientnet-lite0] [--resolution 224]
        [--workers 0,1] [--threads 2] [--data DIR]

``--workers`` takes a comma-separated list: one table row per value. The machine's load
average is printed too: on a shared machine the figures move with other people's work.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path


def make_data(folder: Path, classes: int, per_class: int, frames: int, size: str) -> Path:
    from zsar.synth import SynthConfig, generate_dataset, parse_size

    width, height = parse_size(size)
    generate_dataset(SynthConfig(classes=classes, per_class=per_class, frames=frames, width=width,
                                 height=height), folder)
    return folder


def decode_only(records, sampling, size: int, workers: int) -> tuple[float, list]:
    """Clips/s of the loader alone; also returns the decoded clips for the backbone-only run."""
    from zsar.extract.loader import make_loader

    start = time.perf_counter()
    decoded = [item.decoded.frames for item in make_loader(records, sampling, size, workers)]
    seconds = time.perf_counter() - start
    return sum(f.shape[0] for f in decoded) / seconds, decoded


def backbone_only(backbone, clips: list, batch_size: int) -> float:
    import torch

    frames = torch.cat(clips)
    backbone.encode(frames[:batch_size])  # warm-up (allocator, kernels)
    start = time.perf_counter()
    for lo in range(0, frames.shape[0], batch_size):
        backbone.encode(frames[lo:lo + batch_size])
    return frames.shape[0] / (time.perf_counter() - start)


def end_to_end(data: Path, args, workers: int, cache: Path) -> float:
    from zsar.extract.extractor import ExtractConfig, extract

    result = extract(ExtractConfig("synthetic", data, backbone=args.backbone, text_encoder="none",
                                   resolution=args.resolution, cache=cache, batch_size=args.batch_size,
                                   workers=workers, threads=args.threads, device=args.device,
                                   precision=args.precision))
    return result.clips_per_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", default="efficientnet-lite0")
    parser.add_argument("--resolution", type=int, default=None, help="frame side (default: the backbone's)")
    parser.add_argument("--workers", default="0,1", help="comma-separated decoding worker counts")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--batch-size", type=int, default=None, help="clips per batch (default: the device's)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--precision", default="fp32")
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--per-class", type=int, default=4)
    parser.add_argument("--video-frames", type=int, default=32)
    parser.add_argument("--size", default="160x120")
    parser.add_argument("--data", type=Path, default=None, help="keep the synthetic videos here")
    args = parser.parse_args()

    import torch

    from zsar.devices import backbone_threads, default_batch_size, keep_freed_memory, process_cores, torch_threads
    from zsar.extract.models.backbones import BackboneConfig, create_backbone
    from zsar.extract.datasets import DatasetConfig, create_dataset
    from zsar.extract.sampling import SamplingConfig

    if args.threads:
        torch.set_num_threads(args.threads)
    keep_freed_memory()  # as extract() does on CPU, so backbone-only is timed the same way
    with tempfile.TemporaryDirectory() as tmp:
        data = args.data or Path(tmp) / "synthetic"
        if not (data / "videos").is_dir():
            make_data(data, args.classes, args.per_class, args.video_frames, args.size)
        records = create_dataset("synthetic", DatasetConfig(data)).records
        backbone = create_backbone(BackboneConfig(args.backbone, device=args.device, precision=args.precision))
        size = args.resolution or backbone.input_size
        args.batch_size = args.batch_size or default_batch_size(backbone.device.type)
        sampling = SamplingConfig()
        print(f"{len(records)} videos ({args.video_frames} frames at {args.size}), {sampling.describe()} "
              f"-> {size}x{size}, backbone {args.backbone} on {args.device} ({args.precision}), "
              f"batch {args.batch_size}, torch threads {torch.get_num_threads()}, {process_cores()} cores, "
              f"load average {os.getloadavg()[0]:.2f}")
        print(f"{'workers':>7} {'threads':>7} {'decode clips/s':>15} {'backbone clips/s':>17} {'e2e clips/s':>12} "
              f"{'ratio':>6}")
        default_threads = torch.get_num_threads()
        backbone_rates: dict[int, float] = {}
        for workers in (int(w) for w in args.workers.split(",")):
            decode_rate, decoded = decode_only(records, sampling, size, workers)
            # the backbone alone, with the threads extract() gives it next to `workers` decoders
            threads = backbone_threads(args.threads, workers, backbone.device.type) or default_threads
            if threads not in backbone_rates:
                with torch_threads(threads):
                    backbone_rates[threads] = backbone_only(backbone, decoded, args.batch_size)
            backbone_rate = backbone_rates[threads]
            e2e = end_to_end(data, args, workers, Path(tmp) / f"cache-{workers}")
            ratio = e2e / min(decode_rate, backbone_rate)
            print(f"{workers:>7} {threads:>7} {decode_rate:>15.1f} {backbone_rate:>17.1f} {e2e:>12.1f} {ratio:>6.2f}")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
