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


@command("metrics")
def metrics(
    run: Annotated[Path | None, typer.Argument(help="Run directory written by `zsar train-head`.")] = None,
    features: Annotated[Path | None, typer.Option(
        help="Measure a raw feature cache instead of a run (mean-pooled backbone features, no head).")] = None,
    text: Annotated[str | None, typer.Option(
        help="With --features: the text embeddings for video-to-text hubness (name or .h5 file).")] = None,
    hubness: Annotated[bool, typer.Option(
        "--hubness", help="k-occurrence skewness, Robin Hood index, hubs, anti-hubs.")] = False,
    closeness: Annotated[bool, typer.Option(
        "--closeness", help="Mean distance of embeddings to their class centre.")] = False,
    dispersion: Annotated[bool, typer.Option(
        "--dispersion", help="Smallest (and mean) distance between class centres.")] = False,
    k: Annotated[str | None, typer.Option(
        help="Hubness k values, comma-separated (default: 1,5,10 for a run, 10 for --features).")] = None,
    plots: Annotated[bool, typer.Option("--plots", help="Write RUN/plots/*.png and RUN/report.md.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object on stdout, nothing else.")] = False,
) -> None:
    """Accuracy, hubness, closeness and dispersion of a run (or of a raw feature cache).

    With none of --hubness/--closeness/--dispersion, all three are measured.
    """
    import json

    from zsar.metrics import MetricsConfig, evaluate_features, format_tables, measure_run, write_report
    from zsar.metrics.evaluate import FEATURES_K, RUN_K, parse_k

    if (run is None) == (features is None):
        raise ZsarError("give either a run directory or --features CACHE, e.g. `zsar metrics runs/rest`")
    if features is not None and plots:
        raise ZsarError("--plots needs a run directory; drop --plots when measuring --features")
    if run is not None and text is not None:
        raise ZsarError("--text applies to --features only; a run already holds its class prototypes")
    everything = not (hubness or closeness or dispersion)
    ks = parse_k(k) if k is not None else RUN_K if run is not None else FEATURES_K
    config = MetricsConfig(hubness=hubness or everything, closeness=closeness or everything,
                           dispersion=dispersion or everything, k=ks)
    if features is not None:
        summary = evaluate_features(features, text, config)
    else:
        measured = measure_run(run, config)
        summary = measured.summary()
    typer.echo(json.dumps(summary, indent=2) if as_json else format_tables(summary))
    if plots:
        typer.echo(f"wrote {write_report(measured)} and its plots", err=as_json)


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
