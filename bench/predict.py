"""How long `zsar predict` takes on new videos from a trained run: the first call (decode + backbone + label
text) and the second (everything from the cache).

It renders a training set (``--classes`` synthetic actions x ``--per-class`` clips) and
``--videos`` held-out clips of five unseen composed actions, extracts the training set
with efficientnet-lite0 frames (``--resolution`` px, 8 per clip) and MiniLM label text,
trains a ``ridge`` run on it (``within-half``, one split), then times two identical
``zsar predict FOLDER --labels ... --run RUN`` commands, each a fresh process as a user
runs it (imports and model loading included)::

    PYTHONPATH=$PWD python bench/predict.py [--videos 100] [--resolution 112] [--workers 0] [--data DIR]

It prints wall time and CPU time (user + system of the child process) per call, the
videos decoded, top-1 on the held-out clips and the machine's load average: on a shared
machine wall time moves with other people's work, CPU time much less.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))
UNSEEN = ("jump and raise arms", "walk and raise arms", "squat and wave", "run and wave", "walk and punch")


def prepare(root: Path, args: argparse.Namespace) -> tuple[Path, Path, dict[str, str]]:
    """The training set's run and the held-out clips (reused when ``root`` holds them already)."""
    from _predict_data import render_actions

    from zsar.extract.extractor import ExtractConfig, extract
    from zsar.extract.sampling import SamplingConfig
    from zsar.heads.experiment import TrainHeadConfig, train_head
    from zsar.heads.selection import SelectionConfig
    from zsar.synth import SynthConfig, generate_dataset

    size = args.size
    train = generate_dataset(SynthConfig(classes=args.classes, per_class=args.per_class, frames=32, width=size,
                                         height=size), root / "train")
    per_action = -(-args.videos // len(UNSEEN))
    clips = root / f"clips-{args.videos}"
    truth_file = clips.with_suffix(".json")
    if not truth_file.is_file():
        truth = render_actions(UNSEEN, per_action, clips, seed=7, flat=True, size=size, frames=32)
        for extra in sorted(clips.glob("*.avi"))[args.videos:]:
            extra.unlink()
            truth.pop(extra.name)
        truth_file.write_text(json.dumps(truth))
    truth = json.loads(truth_file.read_text())
    cache = extract(ExtractConfig(dataset="synthetic", root=train, backbone="efficientnet-lite0",
                                  text_encoder="minilm", sampling=SamplingConfig(frames=8),
                                  resolution=args.resolution, cache=root / "cache", workers=args.workers)).cache_dir
    run = root / "run"
    train_head(TrainHeadConfig(features=cache, out=run, head="ridge", protocol="within-half", splits=1,
                               selection=SelectionConfig(enabled=False), replace_other_run=True))
    return run, clips, truth


def timed_call(args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall and CPU seconds (user + system of the child) of ``python -m zsar ARGS``, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "zsar", "-q", *args], capture_output=True, text=True, env=env,
                          cwd=REPO)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"zsar predict failed:\n{done.stderr}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, done.stdout


def top1(predictions: Path, truth: dict[str, str]) -> float:
    """Percent of the clips whose first label is their action (from the call's ``--out`` JSON lines)."""
    rows = [json.loads(line) for line in predictions.read_text().splitlines()]
    return 100 * sum(r["labels"][:1] == [truth[Path(r["video"]).name]] for r in rows) / len(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--videos", type=int, default=100)
    parser.add_argument("--classes", type=int, default=20)
    parser.add_argument("--per-class", type=int, default=8)
    parser.add_argument("--size", type=int, default=112, help="rendered frame side")
    parser.add_argument("--resolution", type=int, default=112, help="backbone input side")
    parser.add_argument("--workers", type=int, default=0)
    parser.add_argument("--data", type=Path, default=None, help="keep the data here (default: a temp folder)")
    args = parser.parse_args()
    import torch

    torch.set_num_threads(1)
    root = args.data or Path(tempfile.mkdtemp(prefix="zsar-bench-predict-"))
    run, clips, truth = prepare(root, args)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    cache = root / f"predict-cache-{args.videos}"
    command = ["predict", str(clips), "--labels", ", ".join(UNSEEN), "--run", str(run), "--top-k", "3",
               "--workers", str(args.workers), "--cache", str(cache), "--out", str(root / "predictions.jsonl")]
    print(f"zsar predict: {args.videos} clips ({args.size}x{args.size}, 32 frames), efficientnet-lite0 at "
          f"{args.resolution} px x 8 frames + MiniLM, ridge run; {os.cpu_count()} cores, load average "
          f"{' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    print(f"{'call':<8} {'wall s':>8} {'cpu s':>8} {'decoded':>8} {'from cache':>11} {'top-1 %':>8}")
    for name in ("first", "second"):
        wall, cpu, stdout = timed_call(command, env)
        decoded, reused = re.search(r"(\d+) decoded now, (\d+) from the cache", stdout).groups()
        accuracy = top1(root / "predictions.jsonl", truth)
        print(f"{name:<8} {wall:8.1f} {cpu:8.1f} {decoded:>8} {reused:>11} {accuracy:8.1f}")
    print(f"chance {100 / len(UNSEEN):.1f} % (top-1 among the {len(UNSEEN)} unseen labels)")
    print(f"load average after: {' '.join(f'{x:.1f}' for x in os.getloadavg())}; data in {root}")


if __name__ == "__main__":
    main()
