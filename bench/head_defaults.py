"""Choose head defaults on validation classes only: the class-disjoint validation top-1 of head option variants.

For every split of ``within-half`` on a cache, this runs exactly what ``zsar train-head``'s
model selection runs (held-out folds of the *seen* classes, the lr grid, successive
halving) for each variant of a head's options, and prints the validation top-1 that
selection reached, per split and averaged. The test (unseen) classes are never trained
on, scored or read: this is how zsar's head defaults are chosen::

    PYTHONPATH=$PWD python bench/head_defaults.py CACHE --head actionclip \\
        --variant "" --variant "embed_dim=256" [--splits 5] [--seeds 0,1,2]

A variant is ``;``-separated ``KEY=VALUE`` head options (the empty string: the defaults).
``--seeds`` repeats it with other training seeds (initial weights, batch order, the held-out
folds) and averages: one seed's validation top-1 moves by a point or two on a small set.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np


def validation_top1(cache: Path, head: str, options: dict, splits: int, seed: int = 0) -> list[float]:
    """Selection's validation top-1 of ``head`` with ``options`` on each split (no test class is read)."""
    from zsar.heads.experiment import TrainHeadConfig, choose_settings, load_protocol_data, resolve
    from zsar.heads.train import TrainConfig

    config = TrainHeadConfig(features=cache, out=Path("unused"), head=head, protocol="within-half", splits=splits,
                             head_options=options, train=TrainConfig(seed=seed))
    resolved, data = resolve(config), load_protocol_data(config)
    scores = []
    for plan in resolved.protocol.plan(data, resolved.n_splits):
        _, _, selection = choose_settings(resolved, plan)
        scores.append(float("nan") if selection is None else selection.top1)
    return scores


def main() -> None:
    from zsar.heads.options import parse_head_options

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("cache", type=Path)
    parser.add_argument("--head", required=True)
    parser.add_argument("--variant", action="append", default=[], help="KEY=VALUE;KEY=VALUE (repeatable)")
    parser.add_argument("--splits", type=int, default=5)
    parser.add_argument("--seeds", default="0", help="training seeds to average over, comma-separated")
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    print(f"| {args.head} options | validation top-1 % (mean over splits and seeds {args.seeds}) | "
          f"per split (mean over seeds) | seconds |")
    print("|---|---|---|---|")
    for variant in args.variant or [""]:
        options = parse_head_options(args.head, [item for item in variant.split(";") if item])
        start = time.perf_counter()
        scores = np.nanmean([validation_top1(args.cache, args.head, options, args.splits, seed) for seed in seeds],
                            axis=0)
        print(f"| {variant or '(defaults)'} | {np.nanmean(scores):.1f} | {' '.join(f'{s:.0f}' for s in scores)} | "
              f"{time.perf_counter() - start:.0f} |", flush=True)


if __name__ == "__main__":
    main()
