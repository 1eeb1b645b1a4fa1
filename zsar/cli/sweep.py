"""``zsar sweep``: a protocol over heads x generator x transfer x re-rank x head options, one table."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from zsar.cli.app import command
from zsar.cli.options import Device, Features, SourceFeatures, Text, Listing
from zsar.errors import ZsarError

if TYPE_CHECKING:  # imported when the command runs, so `zsar --help` stays light
    from zsar.sweep import SweepConfig


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


def add_objects(config: SweepConfig) -> None:
    """The object vocabulary of the cache(s) when the sweep runs the ``objects`` head (by default: when the
    backbone has a classifier)."""
    from zsar.extract.objects import add_object_vocabulary, has_classifier
    from zsar.heads.base import head_class

    wanted = (any(head_class(h).needs_objects for h in config.heads) if config.heads is not None
              else has_classifier(config.features))
    if wanted:
        for cache in filter(None, (config.features, config.source_features)):
            add_object_vocabulary(cache, config.text, config.train.device)


@command("sweep")
def sweep(
    features: Features,
    out: Annotated[Path, typer.Option(help="Folder for the runs (one per grid point, reused when finished) and report.md.")],
    protocol: Annotated[str | None, typer.Option(help=Listing("Protocol: {protocols} (default: {default_protocol})."))] = None,
    heads: Annotated[str | None, typer.Option(help=Listing("Comma-separated heads from {heads} (default: all of them, baselines first: frozen when features and text share a space, then ridge; objects when the backbone has a classifier)."))] = None,
    source_features: SourceFeatures = None,
    text: Text = None,
    splits: Annotated[int | None, typer.Option(help="Number of splits (default: the protocol's).")] = None,
    tau: Annotated[float | None, typer.Option(help="Overlap filter of a protocol that trains on --source-features, as train-head's --tau (default: the protocol's).")] = None,
    filter_text: Annotated[str | None, typer.Option(help="Text the overlap filter compares, as train-head's --filter-text.")] = None,
    generator: Annotated[str, typer.Option(help="Class generator values to try: off, on or off,on (on: heads with visual centres).")] = "off,on",
    transfer: Annotated[str, typer.Option(help=Listing("Semantic transfer values to try, comma-separated: {transfers}."))] = "none,semantic",
    rerank: Annotated[str, typer.Option(help=Listing("Re-ranking values to try, comma-separated: {rerankers}."))] = "none",
    head_opt: Annotated[list[str] | None, typer.Option(help="HEAD.KEY=V1,V2: one run per value (repeatable), e.g. actionclip.fusion=mean,transformer.")] = None,
    select: Annotated[bool, typer.Option("--select/--no-select", help="Model selection on held-out seen classes in every run.")] = True,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps of every run (default: train-head's).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every run.")] = 0,
    device: Device = "cpu",
) -> None:
    """Run a protocol over heads x generator x transfer x re-rank x head options; one table with the ridge baseline."""
    from zsar.heads.selection import SelectionConfig
    from zsar.heads.train import TrainConfig
    from zsar.sweep import SweepConfig, parse_head_grid, run_sweep
    from zsar.sweep.table import best_line

    switches = {"off": False, "on": True}
    unknown = [g for g in _split_list(generator) if g not in switches]
    if unknown or not _split_list(generator):
        raise ZsarError(f"--generator {generator!r}: give off, on or off,on")
    train = TrainConfig(seed=seed, device=device, **({} if steps is None else {"steps": steps}))
    config = SweepConfig(
        features=features, out=out, source_features=source_features, text=text, splits=splits,
        heads=_split_list(heads) if heads else None, generators=tuple(switches[g] for g in _split_list(generator)),
        transfers=_split_list(transfer), reranks=_split_list(rerank), head_grid=parse_head_grid(head_opt or []),
        train=train, selection=SelectionConfig(enabled=select), filter_text=filter_text,
        protocol_options={} if tau is None else {"tau": tau}, **({} if protocol is None else {"protocol": protocol}))
    add_objects(config)
    result = run_sweep(config, echo=typer.echo)
    typer.echo("")
    typer.echo(result.table)
    typer.echo(f"\n{best_line(result.rows)}; report: {result.report}")

