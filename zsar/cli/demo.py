"""``zsar demo`` and ``zsar synth``: the pipeline end to end, and the synthetic dataset it runs on."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zsar.cli.app import command
from zsar.cli.options import Listing


OUT_HELP = ("Folder for everything the demo writes: clips, cache, runs, report.md and page-demo.md (page-full.md "
            "with --full: the section that `make docs` copies into docs/demo.md).")


@command("demo")
def demo(
    out: Annotated[Path, typer.Option(help=OUT_HELP)] = Path("zsar-demo"),
    full: Annotated[bool, typer.Option(help="The whole grid (every head x generator x transfer, ResT's two modes) "
                                            "on 20 clips per action and 5 splits: 21.5 minutes on 2 cores, two runs at "
                                            "a time; docs/demo.md has its times.")] = False,
) -> None:
    """Run the pipeline end to end on the synthetic dataset, offline (about 3 minutes on 2 cores)."""
    from zsar.sweep.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=out, full=full), echo=typer.echo)


@command("synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write (HMDB51 layout: videos/, splits/).")],
    classes: Annotated[int, typer.Option(help="Number of actions (the first N of the action list).")] = 20,
    per_class: Annotated[int, typer.Option(help="Clips per action.")] = 8,
    frames: Annotated[int, typer.Option(help="Frames per clip (25 fps).")] = 32,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT (even numbers).")] = "112x112",
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same decoded frames.")] = 0,
    format: Annotated[str, typer.Option(help=Listing("Container: {formats} (avi: mpeg4, mp4: h264)."))] = "avi",
) -> None:
    """Render the synthetic stick-figure action dataset as real video files."""
    from zsar.synth import SynthConfig, generate_dataset, parse_size

    width, height = parse_size(size)
    config = SynthConfig(classes=classes, per_class=per_class, frames=frames, width=width,
                         height=height, seed=seed, format=format)
    generate_dataset(config, out)
    typer.echo(f"wrote {classes * per_class} clips ({classes} actions x {per_class}, {frames} frames "
               f"at {width}x{height}, .{format}) to {out}")

