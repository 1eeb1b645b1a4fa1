"""``zsar metrics``: accuracy, hubness, closeness and dispersion of a run or of a raw feature cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zsar.cli.app import command


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

    from zsar.metrics import evaluate_features, format_tables, measure_run, write_report
    from zsar.metrics.measure import MetricsRequest

    request = MetricsRequest(run=run, features=features, text=text, hubness=hubness, closeness=closeness,
                             dispersion=dispersion, k=k, plots=plots)
    config = request.config()
    if features is not None:
        summary = evaluate_features(features, text, config)
    else:
        measured = measure_run(run, config)
        summary = measured.summary()
    typer.echo(json.dumps(summary, indent=2) if as_json else format_tables(summary))
    if plots:
        typer.echo(f"wrote {write_report(measured)} and its plots", err=as_json)

