"""The ``zsar`` command line: each command parses flags, builds a config, calls one library function.

User mistakes surface as ``ZsarError``; they are printed as one ``error: ...`` line on
stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path
from typing import Annotated, Any, Callable

import typer

from zsar.errors import ZsarError

app = typer.Typer(
    name="zsar",
    help="Zero-shot action recognition: extract a feature cache, train light heads on it, measure them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def command(*args: Any, **kwargs: Any) -> Callable:
    """``app.command`` that turns a ``ZsarError`` into a one-line message and exit status 2."""

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except ZsarError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None

        return app.command(*args, **kwargs)(wrapper)

    return decorator


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr,
                        force=True)
    for noisy in ("transformers", "sentence_transformers", "huggingface_hub", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@command("synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write (HMDB51 layout: videos/, splits/).")],
    classes: Annotated[int, typer.Option(help="Number of actions (the first N of the action list).")] = 20,
    per_class: Annotated[int, typer.Option(help="Clips per action.")] = 8,
    frames: Annotated[int, typer.Option(help="Frames per clip (25 fps).")] = 32,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT (even numbers).")] = "112x112",
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same decoded frames.")] = 0,
    format: Annotated[str, typer.Option(help="Container: avi (mpeg4) or mp4 (h264).")] = "avi",
) -> None:
    """Render the synthetic stick-figure action dataset as real video files."""
    from zsar.extract.synth import SynthConfig, generate_dataset, parse_size

    width, height = parse_size(size)
    config = SynthConfig(classes=classes, per_class=per_class, frames=frames, width=width,
                         height=height, seed=seed, format=format)
    generate_dataset(config, out)
    typer.echo(f"wrote {classes * per_class} clips ({classes} actions x {per_class}, {frames} frames "
               f"at {width}x{height}, .{format}) to {out}")


@command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's data, cache and runs.")] = Path("zsar-demo"),
    quick: Annotated[bool, typer.Option(help="A smaller, faster run.")] = False,
) -> None:
    """Run the pipeline end to end on the synthetic dataset, offline."""
    from zsar.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=out, quick=quick), echo=typer.echo)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
