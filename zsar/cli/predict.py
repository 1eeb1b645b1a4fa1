"""``zsar predict``: your own videos, your own labels, with a trained run or a training-free head (frozen CLIP, objects)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zsar.cli.app import command
from zsar.cli.options import Device, Listing
from zsar.errors import ZsarError


@command("predict")
def predict(
    videos: Annotated[list[str], typer.Argument(help="Video files, folders, globs ('clips/*.mp4') or list files (.txt/.csv/.parquet).")],
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels, e.g. 'wave hand, jump, sit down'.")] = None,
    labels_file: Annotated[Path | None, typer.Option(help="UTF-8 file, one label per line; 'label<TAB>description' encodes the description.")] = None,
    run: Annotated[Path | None, typer.Option(help="A `zsar train-head` run: its backbone, sampling, text encoder, prompts and heads.")] = None,
    split: Annotated[int | None, typer.Option(help="Use this split's model of a multi-split run (default: the mean of every split's scores).")] = None,
    head: Annotated[str | None, typer.Option(help=Listing("Without --run: the training-free head: frozen (raw features against label text of one joint space: {joint_backbones} with --text-encoder {joint_text_encoders}, the same weights) or objects (the backbone's own ImageNet classifier: {classifier_backbones}); default: frozen clip-vit-b16 if its weights are here, else objects on efficientnet-lite0."))] = None,
    backbone: Annotated[str | None, typer.Option(help=Listing("Without --run: the training-free head's backbone ({backbones}); frozen takes {joint_backbones} (with --text-encoder {joint_text_encoders}), objects {classifier_backbones}; a backbone given alone takes objects if it has a classifier, else frozen."))] = None,
    weights: Annotated[Path | None, typer.Option(help="Local weights folder/file of the backbone (with --run: if moved since; the same weights).")] = None,
    text_encoder: Annotated[str | None, typer.Option(help=Listing("Without --run: label-text encoder ({text_encoders}; default: clip for frozen, minilm for objects)."))] = None,
    text_model: Annotated[str | None, typer.Option(help="Text model id/dir/file (default: the run's; for frozen, the backbone's own weights; else the encoder's).")] = None,
    prompts: Annotated[str | None, typer.Option(help=Listing("Without --run: prompt templates ({prompts}; default actionclip) or a file of them."))] = None,
    frames: Annotated[int | None, typer.Option(help="Without --run: frames per video, uniform sampling (default 8).")] = None,
    top_k: Annotated[int, typer.Option(help="Labels per video, best first.")] = 5,
    rerank: Annotated[str, typer.Option(help=Listing("Hubness reduction over the videos of this call: {rerankers} (needs a batch of videos)."))] = "none",
    window: Annotated[float | None, typer.Option(help="Also label each window of this many seconds of every video: a timeline (start, end, top-k) in the table, files and sheet; windows are cached like videos.")] = None,
    stride: Annotated[float | None, typer.Option(help="Seconds between the starts of two windows (default: --window, no overlap).")] = None,
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="Score videos that decoded only in part (fewer frames than their container claims) on the frames that did; without it they are left out, with a note, as train-head leaves them out.")] = False,
    out: Annotated[Path | None, typer.Option(help="Write the predictions to a .jsonl, .csv or .parquet file (labels, probabilities, margin, the raw scores; a row per window too).")] = None,
    sheet: Annotated[Path | None, typer.Option(help="Write a contact sheet (PNG): each video's middle frame with its top-3 labels and probabilities (and a strip of its windows' top labels).")] = None,
    cache: Annotated[Path | None, typer.Option(help="Cache root for the videos' features (default: the run's cache root).")] = None,
    device: Annotated[str, typer.Option(help=Listing("Device: {devices}."))] = "cpu",
    workers: Annotated[int | None, typer.Option(help="Decoding processes (default: as `zsar extract`).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Clips per backbone batch (default: as `zsar extract`).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Decode again the videos that failed in an earlier call (with their shard's others).")] = False,
) -> None:
    """Recognise actions in your own videos, among your own labels (free text), with a trained run or a training-free head."""
    from zsar.predict import PredictConfig, parse_labels, read_labels_file, run_predict

    if (labels is None) == (labels_file is None):
        raise ZsarError("give the labels with --labels 'a, b, c' or --labels-file FILE (one of them)")
    config = PredictConfig(
        videos=tuple(videos), labels=parse_labels(labels) if labels is not None else read_labels_file(labels_file),
        run=run, split=split, head=head, backbone=backbone, weights=weights, text_encoder=text_encoder, text_model=text_model,
        prompts=prompts, frames=frames, top_k=top_k, rerank=rerank, window=window, stride=stride,
        allow_partial=allow_partial, cache=cache, device=device, workers=workers, batch_size=batch_size,
        retry_failed=retry_failed, out=out, sheet=sheet)
    result = run_predict(config)
    typer.echo(result.format_table())
    typer.echo(f"\n{result.summary()}")
    for note in result.notes:
        typer.echo(f"note: {note}")
    for path in result.written:
        typer.echo(f"wrote {path}")

