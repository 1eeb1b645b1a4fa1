"""The cost of ResT's joint cross-modal scoring against the dual (two-tower) model.

Times, with random features and the default ``rest`` sizes (width 128, 1 layer):

- one training step (batch 128, one clip of 8 frames) in each mode, with 26 and with
  600 training classes: joint mode scores at most ``match_videos x match_classes`` pairs a
  step, so its step cost does not grow with the classes;
- zero-shot pair scoring (``ResTHead.pair_scores``, in chunks of ``PAIR_CHUNK`` pairs) of
  1,000 videos against 26 classes (an HMDB51 half-class test) and against 600 classes,
  with the peak resident memory of the process;

for label text of 16 prompts (a sentence encoder with ActionCLIP's templates, as the demo:
joint mode reads their mean, one token) and of 3 word tokens (a word-vector encoder)::

    PYTHONPATH=$PWD python bench/rest_joint.py [--threads N] [--dim 512]

The load average is printed with the table: on a shared machine times move with other work.
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import torch


def _text(classes: int, tokens: int, dim: int, words: bool):
    from zsar.heads.base import ClassText, l2_normalise

    x = l2_normalise(torch.randn(classes, tokens, dim))
    if words:
        return ClassText(x[:, :1], words=x, word_mask=torch.ones(classes, tokens, dtype=torch.bool))
    return ClassText(x)


def _seconds(fn, repeats: int) -> float:
    fn()  # warm-up
    start = time.perf_counter()
    for _ in range(repeats):
        fn()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--dim", type=int, default=512, help="video and text feature dim")
    parser.add_argument("--frames", type=int, default=8)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from zsar.heads.base import HeadDims, create_head

    torch.manual_seed(0)
    print(f"# rest joint vs dual: D={args.dim}, {args.frames} frames, {torch.get_num_threads()} threads, "
          f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}")
    print("| label text | classes | dual step ms | joint step ms | joint pair scoring s / 1,000 videos | peak RSS GB |")
    print("|---|---:|---:|---:|---:|---:|")
    for tokens, words in ((16, False), (3, True)):
        for classes in (26, 600):
            text = _text(classes, tokens, args.dim, words)
            targets = torch.randint(classes, (128,))
            video = torch.randn(128, 1, args.frames, args.dim)
            steps = {}
            for mode in ("dual", "joint"):
                head = create_head("rest", HeadDims(video_dim=args.dim, text_dim=args.dim, frames=args.frames,
                                                    n_classes=classes), mode=mode)
                optimiser = torch.optim.AdamW(head.parameters(), lr=1e-3)
                rng = torch.Generator().manual_seed(0)

                def step() -> None:
                    optimiser.zero_grad()
                    head.loss(video, targets, text, rng).backward()
                    optimiser.step()

                steps[mode] = 1000 * _seconds(step, 5)
            head.eval()
            test = torch.randn(1000, 1, args.frames, args.dim)
            with torch.no_grad():
                pairs = _seconds(lambda: head.pair_scores(test, text), 1)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e6
            label = f"{tokens} words" if words else f"{tokens} prompts (joint: their mean)"
            print(f"| {label} | {classes} | {steps['dual']:.0f} | "
                  f"{steps['joint']:.0f} | {pairs:.2f} | {rss:.2f} |", flush=True)
    print(f"# load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
