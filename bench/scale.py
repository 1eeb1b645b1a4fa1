"""How `zsar train-head` scales: time per epoch and peak memory of each head on a Kinetics-sized cache.

Writes (or reuses, with ``--cache DIR``) a cache of ``--videos`` videos in ``--classes``
classes, 1 clip x 8 frames x 512-d float16 per video (200,000 x 700 by default: 1.6 GB of
features), made of ``zsar.testing``'s structured features with 512-d label text and 16
prompts (noisy enough that top-1 is not 100 %), then runs for each head, each in its own process::

    zsar train-head --features CACHE --head HEAD --protocol within-half --splits 1 --no-select --epochs 1

and prints the seconds of its one training epoch (from the run's ``log.jsonl``; the ridge
head's exact solve), the wall seconds of the whole command (reading the cache, the epoch,
embedding the test videos, writing the run), the peak resident memory of the process and
the unseen top-1::

    PYTHONPATH=$PWD python bench/scale.py [--videos 200000] [--classes 700] [--heads ridge,linear,...]
        [--cache DIR] [--threads N] [--load-only] [--repeats 3]

First it prints what the read checks cost (issue 22): ``load_features`` of the whole cache
without checks (the reader before them), with them (each shard's content digest and
``video_row`` against its manifest rows), and with them on the same shards recorded the way
an older zsar recorded them (no digest: the file's SHA-256 is checked as it is read). CPU
seconds of this process (``time.process_time``), best of ``--repeats``, the three taken in turn.

The load average is printed before and after: on a shared machine times move with other work.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GB = 1e9
NOISE = 6.0  # per-dim noise of videos and frames: at 1.0, 700 classes in 512 dims are all told apart


def make_cache(folder: Path, videos: int, classes: int) -> Path:
    """The structured cache at ``folder`` (written once; an existing one is reused)."""
    from zsar.testing import StructuredConfig, write_structured_cache

    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    config = StructuredConfig(classes=classes, videos=videos, clips=1, frames=8, dim=512, text_dim=512, prompts=16,
                              video_noise=NOISE, frame_noise=NOISE, chunk=8192)
    start = time.perf_counter()
    write_structured_cache(folder, config, dataset="scale")
    print(f"wrote {folder} in {time.perf_counter() - start:.0f} s", flush=True)
    return folder


def legacy_view(cache: Path, folder: Path) -> Path:
    """The cache as an older zsar recorded it: the same shards (linked), manifest rows without content digests."""
    import pyarrow as pa

    from zsar.cache.layout import CacheLayout
    from zsar.cache.manifest import compact_manifest, read_manifest

    folder.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "text"):
        (folder / name).symlink_to(cache / name)
    (folder / "shards").symlink_to(cache / "shards")
    table = read_manifest(CacheLayout(cache), 0)
    index = table.schema.get_field_index("shard_digest")
    table = table.set_column(index, table.schema.field(index), pa.array([""] * table.num_rows, type=pa.string()))
    compact_manifest(CacheLayout(folder), 0, table)
    return folder


def load_overhead(cache: Path, legacy: Path, repeats: int) -> None:
    """Print CPU seconds of ``load_features`` without and with the read checks (see the module doc)."""
    import gc

    from zsar.cache.features import load_features

    cases = [("no checks (the reader before issue 22)", cache, False), ("digest + video_row checks", cache, True),
             ("older cache: SHA-256 as read + video_row", legacy, True)]
    best = {name: (float("inf"), 0.0) for name, _, _ in cases}
    for _ in range(repeats):
        for name, path, check in cases:
            gc.collect()
            cpu, wall = time.process_time(), time.perf_counter()
            features = load_features(path, check=check)
            cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
            del features
            best[name] = min(best[name], (cpu, wall))
    base = best[cases[0][0]][0]
    print("| load_features | CPU (s) | wall (s) | CPU overhead vs no checks |")
    print("|---|---|---|---|")
    for name, (cpu, wall) in best.items():
        print(f"| {name} | {cpu:.2f} | {wall:.2f} | {100 * (cpu / base - 1):+.1f} % |", flush=True)


def run_head(cache: Path, head: str, out: Path, threads: int | None) -> dict[str, float]:
    """One ``zsar train-head`` in its own process: epoch and wall seconds, peak RSS, unseen top-1."""
    env = dict(os.environ, **({"OMP_NUM_THREADS": str(threads)} if threads else {}))
    command = [sys.executable, "-m", "zsar", "-q", "train-head", "--features", str(cache), "--head", head,
               "--protocol", "within-half", "--splits", "1", "--no-select", "--epochs", "1", "--out", str(out)]
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - start
    errors = process.stderr.read() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{errors}")
    from zsar.runs.results import RunReader

    reader = RunReader(out)
    records = reader.log()
    return {"epoch_s": sum(r.seconds for r in records), "steps": records[-1].step, "wall_s": wall,
            "peak_gb": usage.ru_maxrss * 1024 / GB, "top1": reader.finished_metrics().mean["top1"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=int, default=200_000)
    parser.add_argument("--classes", type=int, default=700)
    parser.add_argument("--heads", default=None, help="comma-separated heads (default: every registered head)")
    parser.add_argument("--cache", type=Path, default=None, help="write the cache here and keep it (reused)")
    parser.add_argument("--threads", type=int, default=None, help="OMP_NUM_THREADS of train-head (default: torch's)")
    parser.add_argument("--load-only", action="store_true", help="measure the read checks only, train no head")
    parser.add_argument("--repeats", type=int, default=3, help="load_features runs per case (the best is shown)")
    args = parser.parse_args()

    from zsar.heads.base import HEADS

    heads = args.heads.split(",") if args.heads else sorted(HEADS.names(), key=lambda h: (h != "ridge", h))
    with tempfile.TemporaryDirectory() as tmp:
        cache = make_cache(args.cache or Path(tmp) / "cache", args.videos, args.classes)
        config = json.loads((cache / "config.json").read_text())
        features_gb = config["n_videos"] * config["clips"] * config["frames_out"] * config["feature_dim"] * 2 / GB
        print(f"{config['n_videos']} videos, {len(config['class_names'])} classes, 1 clip x 8 x 512 float16 "
              f"({features_gb:.2f} GB of features); within-half split 0, --no-select --epochs 1; "
              f"{os.cpu_count()} cores, threads {args.threads or 'torch default'}, load average {os.getloadavg()[0]:.2f}", flush=True)
        load_overhead(cache, legacy_view(cache, Path(tmp) / "legacy"), args.repeats)
        if args.load_only:
            print(f"load average after: {os.getloadavg()[0]:.2f}")
            return
        print(f"| head | epoch (s) | steps | train-head wall (s) | peak RSS (GB) | unseen top-1 (%) |")
        print("|---|---|---|---|---|---|", flush=True)
        for head in heads:
            r = run_head(cache, head, Path(tmp) / f"run-{head}", args.threads)
            print(f"| {head} | {r['epoch_s']:.1f} | {r['steps']:.0f} | {r['wall_s']:.1f} | {r['peak_gb']:.2f} | "
                  f"{r['top1']:.1f} |", flush=True)
        print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
