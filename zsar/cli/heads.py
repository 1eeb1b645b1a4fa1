"""``zsar train-head`` and ``zsar heads``: train a head under a protocol; list the heads and protocols with their options."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zsar.cli.app import command
from zsar.cli.options import Device, Features, SourceFeatures, Text, Listing


def _generator_mode(generator: bool | None, mode: str | None) -> str | None:
    """``--generator/--no-generator`` and ``--generator-mode`` -> the head's ``generator`` option (None: its default)."""
    if generator is False:
        return "none"
    if generator or mode is not None:
        return mode or "interpolate"
    return None


@command("train-head")
def train_head(
    features: Features,
    head: Annotated[str, typer.Option(help=Listing("Head: {heads} (ridge is the closed-form baseline); `zsar heads` lists their options."))],
    protocol: Annotated[str, typer.Option(help=Listing("Protocol: {protocols}."))],
    out: Annotated[Path, typer.Option(help="Run directory to write (refused if it holds another run).")],
    text: Text = None,
    source_features: SourceFeatures = None,
    splits: Annotated[int | None, typer.Option(help="Number of splits (default: the protocol's; `zsar heads` lists them).")] = None,
    head_opt: Annotated[list[str] | None, typer.Option(help="A head option KEY=VALUE (repeatable), e.g. fusion=transformer; `zsar heads` lists each head's options and defaults.")] = None,
    pool: Annotated[str | None, typer.Option(help="The frozen head's pooling of frames and clips: normalised-mean (each frame L2-normalised, then averaged: FROSTER's frozen row; the default) or raw-mean (raw features averaged, then normalised: ViFi-CLIP's vanilla row, ActionCLIP's meanP). Short for --head-opt pool=....")] = None,
    generator: Annotated[bool | None, typer.Option("--generator/--no-generator", help="AURL's class generator (default: on for aurl, off for rest).")] = None,
    generator_mode: Annotated[str | None, typer.Option(help=Listing("Class-generator mode: {generator_modes} (interpolate: weights in [0,1))."))] = None,
    transfer: Annotated[str | None, typer.Option(help=Listing("Semantic transfer: {transfers} (default: semantic for rest, else none)."))] = None,
    transfer_k: Annotated[int | None, typer.Option(help="Semantic transfer: seen classes per unseen class (default 5).")] = None,
    transfer_temperature: Annotated[float | None, typer.Option(help="Semantic transfer: softmax temperature (default 0.1).")] = None,
    transfer_lambda: Annotated[float | None, typer.Option(help="Semantic transfer: weight of the composed prototype, 1 - it of the text one (default 0.5).")] = None,
    rerank: Annotated[str, typer.Option(help=Listing("Hubness reduction: {rerankers}."))] = "none",
    tau: Annotated[float | None, typer.Option(help="Overlap filter of a protocol that trains on --source-features: drop source classes within this cosine distance of a target class (default: the protocol's, 0 where its papers train on the whole source set, 0.05 for E2E's cross protocols).")] = None,
    overlap_with: Annotated[list[Path] | None, typer.Option(help="Filter the source against this cache's classes too (repeatable; E2E: --overlap-with UCF --overlap-with HMDB).")] = None,
    filter_text: Annotated[str | None, typer.Option(help="Text the overlap filter compares, apart from --text (default: word2vec-e2e when the source cache has it, else --text).")] = None,
    base_train: Annotated[str | None, typer.Option(help="base-to-novel's training videos: 16-shot (ViFi-CLIP's lists, trained with their fixed seed 1024: the paper's protocol, the default) or all (every base-class train video; not the paper's).")] = None,
    class_lists: Annotated[str | None, typer.Option(help="base-to-novel's class lists: k400, hmdb51, ucf101 or ssv2 (default: the cache's dataset).")] = None,
    protocol_opt: Annotated[list[str] | None, typer.Option(help="A protocol option KEY=VALUE (repeatable); `zsar heads` lists each protocol's options and defaults.")] = None,
    select: Annotated[bool, typer.Option("--select/--no-select", help="Choose steps and lr (ridge: alpha) on validation classes held out of the seen ones, then retrain on all seen classes.")] = True,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps (default: 8 epochs, at least 150 steps; with selection, the longest run tried).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Budget in passes over the training videos instead of --steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (default 128, at most 1/8 of the training videos).")] = None,
    lr: Annotated[float | None, typer.Option(help="AdamW learning rate with --no-select (default 3e-3; selection tries 1e-3, 3e-3 and 1e-2).")] = None,
    standardise: Annotated[bool, typer.Option("--standardise/--no-standardise", help="Z-score the features with the training videos' statistics.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the weights, batch order, sampling and validation classes.")] = 0,
    device: Device = "cpu",
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="Use a cache not fully extracted yet (a note says so).")] = False,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse to train when a video changed since its cache was extracted (size or modification time; without it, a warning and a note in metrics.json).")] = False,
) -> None:
    """Train a head on cached features and evaluate it zero-shot under a protocol; writes the run directory."""
    from zsar.extract.objects import add_object_vocabulary
    from zsar.heads.base import head_class
    from zsar.heads.experiment import TrainHeadConfig, train_head as run
    from zsar.heads.options import parse_head_options, parse_protocol_options
    from zsar.heads.selection import SelectionConfig
    from zsar.heads.train import TrainConfig
    from zsar.heads.transfer import TransferConfig
    from zsar.metrics.report import format_run_metrics

    given = lambda **kw: {k: v for k, v in kw.items() if v is not None}  # noqa: E731 (None: the library default)
    train = TrainConfig(seed=seed, device=device, standardise=standardise,
                        **given(steps=steps, epochs=epochs, batch_size=batch_size, lr=lr))
    transfer_config = TransferConfig(transfer, **given(k=transfer_k, temperature=transfer_temperature,
                                                       lam=transfer_lambda))
    options = {**parse_protocol_options(protocol, protocol_opt or []),
               **given(tau=tau, base_train=base_train, class_lists=class_lists)}
    config = TrainHeadConfig(
        features=features, out=out, head=head, protocol=protocol, text=text, source_features=source_features,
        splits=splits, generator=_generator_mode(generator, generator_mode), rerank=rerank, train=train,
        selection=SelectionConfig(enabled=select), head_options=parse_head_options(head, [*(head_opt or []), *([f"pool={pool}"] if pool else [])]),
        transfer=transfer_config, overlap_with=tuple(overlap_with or ()), allow_partial=allow_partial,
        filter_text=filter_text, protocol_options=options, strict=strict)
    if head_class(head).needs_objects:  # the caches' classifier and object text, built once (zsar.extract.objects)
        for cache in filter(None, (features, source_features)):
            add_object_vocabulary(cache, text, device)
    metrics = run(config)
    typer.echo(f"{head} on {protocol}: {len(metrics.splits)} split(s), run in {out}")
    typer.echo(format_run_metrics(metrics))


@command("heads")
def heads() -> None:
    """List the heads with their options (`--head-opt KEY=VALUE`), then the protocols with theirs (`--protocol-opt`)."""
    from zsar.heads.options import format_heads

    typer.echo(format_heads())

