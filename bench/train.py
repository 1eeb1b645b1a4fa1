"""Time the 10-split within-half protocol per head on an HMDB51-sized cache, with default settings.

The cache has HMDB51's size (6,766 videos, 51 classes, 1 clip x 8 frames x 512-d, float16)
and 16 prompts of 512-d text per class. Its features have a known structure
(``zsar.testing``: each class's frames are a fixed random linear map of its text
embedding plus noise), so the table also shows that the default settings still learn:
unseen-class top-1 against chance (1/25 = 4%).

Each head runs in its own process (``zsar train-head`` with no training options: the
default budget and model selection on held-out seen classes included), so the peak
resident memory is that head's alone. ``--ridge-videos N`` adds a row for the ridge head
on a Kinetics-sized cache (N videos x 1 x 1 x 512, 700 classes, one split)::

    PYTHONPATH=$PWD python bench/train.py [--heads linear,aurl] [--splits 10] [--threads N] [--keep DIR]
                                          [--ridge-videos 650000]

``--threads`` sets ``OMP_NUM_THREADS`` for the children (default: torch's, one per core).
The machine's load average is printed with the table: on a shared machine two OpenMP
threads competing with other work spin and can run several times slower than one.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HMDB51 = {"classes": 51, "videos": 6766, "frames": 8, "dim": 512, "text_dim": 512, "prompts": 16}
KINETICS = {"classes": 700, "frames": 1, "dim": 512, "text_dim": 512, "prompts": 1}
TARGET_SECONDS = 120.0
# The child runs the CLI in-process and then writes its own peak RSS (kB on Linux) to argv[1].
CHILD = ("import json, resource, sys\n"
         "from zsar.cli import app\n"
         "try:\n"
         "    app(sys.argv[2:], standalone_mode=False)\n"
         "finally:\n"
         "    open(sys.argv[1], 'w').write(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))\n")


def build_cache(folder: Path, sizes: dict = HMDB51, dataset: str = "hmdb51-sized") -> Path:
    from zsar.testing import StructuredConfig, write_structured_cache

    if (folder / "config.json").is_file():
        return folder  # kept from an earlier run with --keep
    start = time.perf_counter()
    layout = write_structured_cache(folder, StructuredConfig(**sizes, seed=0), dataset=dataset)
    print(f"wrote a {dataset} cache ({sizes}) in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return layout.root


def run_head(cache: Path, head: str, splits: int, out: Path, threads: int | None) -> dict:
    """Run ``zsar train-head`` for ``head`` in a child process; its wall time and peak RSS."""
    shutil.rmtree(out, ignore_errors=True)  # a kept run would be reused, not timed
    rss_file = out.with_name(f"{out.name}.rss")
    cmd = [sys.executable, "-c", CHILD, str(rss_file), "-q", "train-head", "--features", str(cache),
           "--head", head, "--protocol", "within-half", "--splits", str(splits), "--out", str(out)]
    start = time.perf_counter()
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, env=env)
    seconds = time.perf_counter() - start
    from zsar.runs.results import RunReader
    from zsar.sweep.table import summarise_selected

    metrics = RunReader(out).finished_metrics()
    return {"seconds": seconds, "mean": metrics.mean, "std": metrics.std,
            "selected": summarise_selected([s.selected for s in metrics.splits]),
            "train_seconds": _train_seconds(out), "rss_mb": json.loads(rss_file.read_text()) / 1024}


def _train_seconds(run: Path) -> float:
    from zsar.runs.results import RunReader

    return sum(record.seconds for record in RunReader(run).log())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--heads", default="ridge,linear,actionclip,aurl,rest")
    parser.add_argument("--splits", type=int, default=10)
    parser.add_argument("--threads", type=int, help="OMP_NUM_THREADS for the runs (default: torch's)")
    parser.add_argument("--keep", type=Path, help="keep the cache and runs in this folder")
    parser.add_argument("--ridge-videos", type=int, default=0, help="add a ridge row on a cache of this many videos")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="zsar-bench-"))
    cache = build_cache(root / "cache")
    rows = []
    for head in filter(None, args.heads.split(",")):
        rows.append((head, args.splits, run_head(cache, head, args.splits, root / f"run-{head}", args.threads)))
    if args.ridge_videos:
        sizes = {**KINETICS, "videos": args.ridge_videos}
        big = build_cache(root / f"cache-{args.ridge_videos}", sizes, dataset=f"kinetics-sized-{args.ridge_videos}")
        rows.append((f"ridge, {args.ridge_videos:,} videos x 512, 700 classes", 1,
                     run_head(big, "ridge", 1, root / "run-ridge-big", args.threads)))
    print(f"threads: {args.threads or 'torch default'}; load average (1, 5, 15 min) after the runs: "
          f"{', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"| head | splits | total s (selection included) | s / split | final training s / split | peak RSS MB | "
          f"unseen top-1 % (chance {100 / (HMDB51['classes'] // 2):.0f}) | selected | under {TARGET_SECONDS:.0f} s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for head, splits, r in rows:
        print(f"| {head} | {splits} | {r['seconds']:.1f} | {r['seconds'] / splits:.2f} | "
              f"{r['train_seconds'] / splits:.2f} | {r['rss_mb']:.0f} | "
              f"{r['mean']['top1']:.1f} ± {r['std']['top1']:.1f} | {r['selected']} | "
              f"{'yes' if r['seconds'] < TARGET_SECONDS else 'NO'} |")


if __name__ == "__main__":
    main()
