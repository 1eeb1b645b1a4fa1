"""``zsar extract``: decode a dataset's videos and write a feature cache."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from zsar.cli.app import command
from zsar.cli.options import CacheRoot, Device, default_cache, Listing


@command("extract")
def extract(
    dataset: Annotated[str, typer.Option(help=Listing("Dataset adapter: {datasets}."))],
    root: Annotated[Path, typer.Option(help="Dataset folder (videos and annotations).")],
    backbone: Annotated[str, typer.Option(help=Listing("Visual backbone: {backbones}."))] = "efficientnet-lite0",
    splits: Annotated[Path | None, typer.Option(help="Split/annotation folder or file, if not where the adapter looks.")] = None,
    subset: Annotated[str | None, typer.Option(help="Kinetics/ActivityNet subset to keep, e.g. val.")] = None,
    weights: Annotated[Path | None, typer.Option(help="Local weights folder/file for the backbone.")] = None,
    text_encoder: Annotated[str, typer.Option(help=Listing("Label-text encoder: {text_encoders}, or none."))] = "minilm",
    text_model: Annotated[str | None, typer.Option(help="Text model id/dir/file (word2vec file, CLIP or sentence-transformers model).")] = None,
    prompts: Annotated[str, typer.Option(help=Listing("Prompt templates or word-vector label recipe: {prompts}; or a file with one template per line."))] = "actionclip",
    sampling: Annotated[str, typer.Option(help=Listing("Frame sampling: {samplings} (uniform: T segments, centre frame each; dense: clips of T consecutive frames)."))] = "uniform",
    frames: Annotated[int, typer.Option(help="Frames per clip (T).")] = 8,
    clips: Annotated[int, typer.Option(help="Clips (views) per video.")] = 1,
    stride: Annotated[int, typer.Option(help="Dense sampling: step between frames of a clip.")] = 1,
    resolution: Annotated[int | None, typer.Option(help="Square frame side (default: the backbone's input size).")] = None,
    cache: CacheRoot = None,
    device: Device = "cpu",
    precision: Annotated[str, typer.Option(help=Listing("Precision: {precisions} (half precision autocasts on a GPU)."))] = "fp32",
    batch_size: Annotated[int | None, typer.Option(help="Clips per backbone batch, across videos (default: 8 on a CPU, 64 on a GPU).")] = None,
    workers: Annotated[int | None, typer.Option(help="Decoding processes (default: with a GPU every core but one; with a CPU backbone none on 2 cores, else 1).")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads (default: with a CPU backbone the cores the workers leave, with a GPU one).")] = None,
    videos_per_shard: Annotated[int, typer.Option(help="Videos per shard file (the unit of commit and resume).")] = 64,
    shard: Annotated[str | None, typer.Option(help="This process's part i/N of the video list (default: torchrun's RANK/WORLD_SIZE, else 0/1).")] = None,
    limit: Annotated[int | None, typer.Option(help="Extract only N videos spread over the dataset (a quick look; its own cache).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Extract again the shards holding videos that failed before.")] = False,
    decoder: Annotated[str, typer.Option(help="Video decoder: auto (PyAV, the fastest; a file it cannot read goes to decord), pyav, decord, pyav-nvdec (PyAV on NVDEC, the GPU's video decoder, through the FFmpeg in PyAV's wheels: needs --device cuda; decodes in --workers threads; a file NVDEC cannot take is read on the CPU and counted as cpu_fallback), or torchcodec (pip install 'zsar[torchcodec]'; with --device cuda it decodes on NVDEC in --workers threads). In the cache key.")] = "auto",
    resize: Annotated[str, typer.Option(help="Resize method: uint8 (antialiased bilinear on uint8 frames, fast) or float (the same in float32, as zsar did before; extends caches made then). In the cache key.")] = "uint8",
) -> None:
    """Decode a dataset's videos, run a frozen backbone and write a resumable feature cache."""
    from zsar.extract.extractor import ExtractConfig, extract as run
    from zsar.extract.plan import parse_shard
    from zsar.extract.sampling import SamplingConfig

    config = ExtractConfig(
        dataset=dataset, root=root, splits=splits, subset=subset, backbone=backbone, weights=weights,
        text_encoder=text_encoder, text_model=text_model, prompts=prompts,
        sampling=SamplingConfig(mode=sampling, frames=frames, clips=clips, stride=stride), resolution=resolution,
        cache=cache if cache is not None else default_cache(), device=device, precision=precision,
        batch_size=batch_size, workers=workers, videos_per_shard=videos_per_shard,
        shard=parse_shard(shard) if shard else None, limit=limit, threads=threads, retry_failed=retry_failed,
        decoder=decoder, resize=resize)
    result = run(config)
    typer.echo(f"cache: {result.cache_dir}")
    part = f" (rank {result.rank}/{result.world_size})" if result.world_size > 1 else ""
    typer.echo(f"videos{part}: {result.counts.describe()}, {result.skipped} already in the cache; "
               f"{result.clips_per_s:.1f} clips/s, {result.seconds:.1f} s")
    if result.gpu_decoding:
        typer.echo(f"GPU decoding: {result.gpu_decoding}")
