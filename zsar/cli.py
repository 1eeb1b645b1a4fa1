"""The ``zsar`` command line: each command parses flags, builds a config, calls one library function.

User mistakes surface as ``ZsarError``; they are printed as one ``error: ...`` line on
stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from pathlib import Path
from typing import Annotated, Any, Callable

import typer

from zsar.cli_choices import ChoicesInHelp
from zsar.errors import ZsarError
from zsar.registry import load_plugins

app = typer.Typer(
    name="zsar",
    help="Zero-shot action recognition: extract a feature cache, train light heads on it, measure them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# What an interrupted command keeps (every file is written atomically) and how to go on.
_KEPT = {
    "extract": "the shards committed so far are kept; run the same `zsar extract` command to resume",
    "train-head": "the splits finished so far are kept in --out; run the same `zsar train-head` command to resume",
    "sweep": "the runs finished so far are kept; run the same `zsar sweep` command to resume",
}
_KEPT_DEFAULT = "no file was left half-written; run the command again"


def command(*args: Any, on: typer.Typer | None = None, **kwargs: Any) -> Callable:
    """``app.command`` (or ``on.command``) that turns a ``ZsarError`` into a one-line message and exit status 2.

    Its options' help may name choices as ``{backbones}``, ``{heads}``, ...: they list the
    registered names, plugins' included, when the help is shown (``zsar.cli_choices``).
    """

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except ZsarError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None
            except KeyboardInterrupt:  # Ctrl-C, SIGINT: say what is kept and how to go on
                name = args[0] if args else fn.__name__
                typer.echo(f"interrupted: {_KEPT.get(name, _KEPT_DEFAULT)}", err=True)
                raise typer.Exit(130) from None

        return (on or app).command(*args, cls=ChoicesInHelp, **kwargs)(wrapper)

    return decorator


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr,
                        force=True)
    for noisy in ("transformers", "sentence_transformers", "huggingface_hub", "urllib3", "filelock"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    # transformers' "Loading weights" bars say nothing useful for local weights; keep stderr for zsar's own.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    try:
        load_plugins()
    except ZsarError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


@command("demo")
def demo(
    out: Annotated[Path, typer.Option(help="Folder for the demo's data, cache and runs.")] = Path("zsar-demo"),
    quick: Annotated[bool, typer.Option(help="A smaller, faster run.")] = False,
) -> None:
    """Run the pipeline end to end on the synthetic dataset, offline."""
    from zsar.demo import DemoConfig, run_demo

    run_demo(DemoConfig(out=out, quick=quick), echo=typer.echo)


@command("synth")
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write (HMDB51 layout: videos/, splits/).")],
    classes: Annotated[int, typer.Option(help="Number of actions (the first N of the action list).")] = 20,
    per_class: Annotated[int, typer.Option(help="Clips per action.")] = 8,
    frames: Annotated[int, typer.Option(help="Frames per clip (25 fps).")] = 32,
    size: Annotated[str, typer.Option(help="Frame size WIDTHxHEIGHT (even numbers).")] = "112x112",
    seed: Annotated[int, typer.Option(help="Seed: the same seed gives the same decoded frames.")] = 0,
    format: Annotated[str, typer.Option(help="Container: {formats} (avi: mpeg4, mp4: h264).")] = "avi",
) -> None:
    """Render the synthetic stick-figure action dataset as real video files."""
    from zsar.synth import SynthConfig, generate_dataset, parse_size

    width, height = parse_size(size)
    config = SynthConfig(classes=classes, per_class=per_class, frames=frames, width=width,
                         height=height, seed=seed, format=format)
    generate_dataset(config, out)
    typer.echo(f"wrote {classes * per_class} clips ({classes} actions x {per_class}, {frames} frames "
               f"at {width}x{height}, .{format}) to {out}")


# --- zsar extract and zsar cache: the extraction stage and the feature cache ---------------------

cache_app = typer.Typer(help="List, describe and check feature caches.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


def _default_cache() -> Path:
    from zsar.cache.catalog import default_cache_root

    return default_cache_root()


@command("extract")
def extract(
    dataset: Annotated[str, typer.Option(help="Dataset adapter: {datasets}.")],
    root: Annotated[Path, typer.Option(help="Dataset folder (videos and annotations).")],
    backbone: Annotated[str, typer.Option(help="Visual backbone: {backbones}.")] = "efficientnet-lite0",
    splits: Annotated[Path | None, typer.Option(help="Split/annotation folder or file, if not where the adapter looks.")] = None,
    subset: Annotated[str | None, typer.Option(help="Kinetics/ActivityNet subset to keep, e.g. val.")] = None,
    weights: Annotated[Path | None, typer.Option(help="Local weights folder/file for the backbone.")] = None,
    text_encoder: Annotated[str, typer.Option(help="Label-text encoder: {text_encoders}, or none.")] = "minilm",
    text_model: Annotated[str | None, typer.Option(help="Text model id/dir/file (word2vec file, CLIP or sentence-transformers model).")] = None,
    prompts: Annotated[str, typer.Option(help="Prompt templates or word-vector label recipe: {prompts}; or a file with one template per line.")] = "actionclip",
    sampling: Annotated[str, typer.Option(help="Frame sampling: {samplings} (uniform: T segments, centre frame each; dense: clips of T consecutive frames).")] = "uniform",
    frames: Annotated[int, typer.Option(help="Frames per clip (T).")] = 8,
    clips: Annotated[int, typer.Option(help="Clips (views) per video.")] = 1,
    stride: Annotated[int, typer.Option(help="Dense sampling: step between frames of a clip.")] = 1,
    resolution: Annotated[int | None, typer.Option(help="Square frame side (default: the backbone's input size).")] = None,
    cache: Annotated[Path | None, typer.Option(help="Cache root (default: $ZSAR_CACHE or ~/.cache/zsar).")] = None,
    device: Annotated[str, typer.Option(help="Device: {devices} (auto: cuda if there is one).")] = "cpu",
    precision: Annotated[str, typer.Option(help="Precision: {precisions} (half precision autocasts on a GPU).")] = "fp32",
    batch_size: Annotated[int | None, typer.Option(help="Clips per backbone batch, across videos (default: 8 on a CPU, 64 on a GPU).")] = None,
    workers: Annotated[int | None, typer.Option(help="Decoding processes (default: with a GPU every core but one; with a CPU backbone none on 2 cores, else 1).")] = None,
    threads: Annotated[int | None, typer.Option(help="Torch threads for the backbone (default: the cores the workers leave).")] = None,
    videos_per_shard: Annotated[int, typer.Option(help="Videos per shard file (the unit of commit and resume).")] = 64,
    shard: Annotated[str | None, typer.Option(help="This process's part i/N of the video list (default: torchrun's RANK/WORLD_SIZE, else 0/1).")] = None,
    limit: Annotated[int | None, typer.Option(help="Extract only N videos spread over the dataset (a quick look; its own cache).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Extract again the shards holding videos that failed before.")] = False,
) -> None:
    """Decode a dataset's videos, run a frozen backbone and write a resumable feature cache."""
    from zsar.extract.extractor import ExtractConfig, extract as run
    from zsar.extract.plan import parse_shard
    from zsar.extract.sampling import SamplingConfig

    config = ExtractConfig(
        dataset=dataset, root=root, splits=splits, subset=subset, backbone=backbone, weights=weights,
        text_encoder=text_encoder, text_model=text_model, prompts=prompts,
        sampling=SamplingConfig(mode=sampling, frames=frames, clips=clips, stride=stride), resolution=resolution,
        cache=cache if cache is not None else _default_cache(), device=device, precision=precision,
        batch_size=batch_size, workers=workers, videos_per_shard=videos_per_shard,
        shard=parse_shard(shard) if shard else None, limit=limit, threads=threads, retry_failed=retry_failed)
    result = run(config)
    typer.echo(f"cache: {result.cache_dir}")
    part = f" (rank {result.rank}/{result.world_size})" if result.world_size > 1 else ""
    typer.echo(f"videos{part}: {result.ok} ok, {result.failed} failed, {result.skipped} already in the cache; "
               f"{result.clips_per_s:.1f} clips/s, {result.seconds:.1f} s")


@command("ls", on=cache_app)
def cache_ls(
    cache: Annotated[Path | None, typer.Option(help="Cache root (default: $ZSAR_CACHE or ~/.cache/zsar).")] = None,
) -> None:
    """List the feature caches under a cache root."""
    from zsar.cache.catalog import human_size, list_caches

    root = cache if cache is not None else _default_cache()
    caches, damaged = list_caches(root)
    if not caches and not damaged:
        typer.echo(f"no feature caches under {root}")
        return
    typer.echo(f"{'dataset':<14} {'backbone':<18} {'sampling':<12} {'ok':>7} {'failed':>6} {'size':>9} "
               f"{'texts':>5}  path")
    for c in caches:
        typer.echo(f"{c.config.dataset:<14} {c.config.backbone:<18} {c.config.sampling:<12} {c.ok:>7} {c.failed:>6} "
                   f"{human_size(c.size_bytes):>9} {len(c.text_files):>5}  {c.path}")
    for path, error in damaged:
        typer.echo(f"damaged: {path}: {error}")
    typer.echo(f"{len(caches)} cache(s) under {root}"
               + (f", {len(damaged)} damaged (`zsar cache verify PATH` lists what to repair)" if damaged else ""))


@command("info", on=cache_app)
def cache_info(cache: Annotated[Path, typer.Argument(help="A cache folder (as `zsar extract` printed).")]) -> None:
    """Describe one feature cache: what it was made from and what it holds."""
    from zsar.cache.catalog import describe_cache, human_size

    info = describe_cache(cache)
    c, done = info.config, info.completeness
    lines = {
        "path": info.path, "dataset": f"{c.dataset} ({c.n_classes} classes, root {c.root or '-'})",
        "backbone": f"{c.backbone} ({c.weights_id or '-'}), D={c.feature_dim}",
        "sampling": f"{c.sampling}, {c.resolution or '-'} px, {c.precision or '-'}",
        "key": c.key, "videos": f"{info.ok} ok, {info.failed} failed, {c.n_videos} in the list"
                                + ("" if done.complete else f" (incomplete: {done.describe()}; {done.fix()})"),
        "shards": f"{info.shards} from rank(s) {', '.join(map(str, info.ranks)) or '-'} (world size {c.world_size}, "
                  f"{c.videos_per_shard or '-'} videos per shard)",
        "text": ", ".join(info.text_files) or "-", "size": human_size(info.size_bytes),
        "versions": ", ".join(f"{k} {v}" for k, v in c.versions.items()),
    }
    for name, value in lines.items():
        typer.echo(f"{name + ':':<10} {value}")


@command("verify", on=cache_app)
def cache_verify(cache: Annotated[Path, typer.Argument(help="A cache folder (as `zsar extract` printed).")]) -> None:
    """Recheck every file of a cache (config, manifests, text, shards); exit 1 if anything is damaged."""
    from zsar.cache.verify import verify_cache

    report = verify_cache(cache)
    for problem in report.problems:
        typer.echo(problem)
    if report.problems:
        typer.echo(f"{len(report.problems)} problem(s) in {report.cache_dir}; `zsar extract` with the same "
                   "settings repairs them (run it for each rank named, with --shard RANK/N)", err=True)
        raise typer.Exit(1)
    done = report.completeness
    typer.echo(f"ok: {report.shards} shards, {report.videos} videos verified"
               + (f" ({report.failed} failed videos recorded)" if report.failed else "")
               + ("" if done is None or done.complete else f"; incomplete: {done.describe()}"))


# --- zsar train-head and zsar metrics: heads, protocols, measurements -------------------------

def _generator_mode(generator: bool | None, mode: str | None) -> str | None:
    """``--generator/--no-generator`` and ``--generator-mode`` -> the head's ``generator`` option (None: its default)."""
    if generator is False:
        return "none"
    if generator or mode is not None:
        return mode or "interpolate"
    return None


@command("train-head")
def train_head(
    features: Annotated[Path, typer.Option(help="Feature cache to test on (and, within a dataset, to train on).")],
    head: Annotated[str, typer.Option(help="Head: {heads} (ridge is the closed-form baseline); `zsar heads` lists their options.")],
    protocol: Annotated[str, typer.Option(help="Protocol: {protocols}.")],
    out: Annotated[Path, typer.Option(help="Run directory to write (refused if it holds another run).")],
    text: Annotated[str | None, typer.Option(help="Text embeddings in the cache(s), e.g. minilm (needed if several).")] = None,
    source_features: Annotated[Path | None, typer.Option(help="Source cache to train on (cross-*, official).")] = None,
    splits: Annotated[int | None, typer.Option(help="Number of splits (default: 10 for half protocols, 3 official, 1 cross-full).")] = None,
    head_opt: Annotated[list[str] | None, typer.Option(help="A head option KEY=VALUE (repeatable), e.g. fusion=transformer; `zsar heads` lists each head's options and defaults.")] = None,
    generator: Annotated[bool | None, typer.Option("--generator/--no-generator", help="AURL's class generator (default: on for aurl, off for rest).")] = None,
    generator_mode: Annotated[str | None, typer.Option(help="Class-generator mode: {generator_modes} (interpolate: weights in [0,1)).")] = None,
    transfer: Annotated[str | None, typer.Option(help="Semantic transfer: {transfers} (default: semantic for rest, else none).")] = None,
    transfer_k: Annotated[int | None, typer.Option(help="Semantic transfer: seen classes per unseen class (default 5).")] = None,
    transfer_temperature: Annotated[float | None, typer.Option(help="Semantic transfer: softmax temperature (default 0.1).")] = None,
    transfer_lambda: Annotated[float | None, typer.Option(help="Semantic transfer: weight of the composed prototype, 1 - it of the text one (default 0.5).")] = None,
    rerank: Annotated[str, typer.Option(help="Hubness reduction: {rerankers}.")] = "none",
    tau: Annotated[float | None, typer.Option(help="Overlap filter: drop source classes within this cosine distance of a target class (default 0.05).")] = None,
    overlap_with: Annotated[list[Path] | None, typer.Option(help="Filter the source against this cache's classes too (repeatable; E2E: --overlap-with UCF --overlap-with HMDB).")] = None,
    filter_text: Annotated[str | None, typer.Option(help="Text the overlap filter compares, apart from --text (default: word2vec-e2e when the source cache has it, else --text).")] = None,
    base_train: Annotated[str, typer.Option(help="base-to-novel's training videos: all (every base-class train video) or 16-shot (ViFi-CLIP's lists).")] = "all",
    class_lists: Annotated[str | None, typer.Option(help="base-to-novel's class lists: k400, hmdb51, ucf101 or ssv2 (default: the cache's dataset).")] = None,
    select: Annotated[bool, typer.Option("--select/--no-select", help="Choose steps and lr (ridge: alpha) on validation classes held out of the seen ones, then retrain on all seen classes.")] = True,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps (default: 8 epochs, at least 150 steps; with selection, the longest run tried).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Budget in passes over the training videos instead of --steps.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Batch size (default 128, at most 1/8 of the training videos).")] = None,
    lr: Annotated[float | None, typer.Option(help="AdamW learning rate with --no-select (default 3e-3; selection tries 3e-3 and 1e-2).")] = None,
    standardise: Annotated[bool, typer.Option("--standardise/--no-standardise", help="Z-score the features with the training videos' statistics.")] = True,
    seed: Annotated[int, typer.Option(help="Seed of the weights, batch order, sampling and validation classes.")] = 0,
    device: Annotated[str, typer.Option(help="Device: {devices} (auto: cuda if there is one).")] = "cpu",
    allow_partial: Annotated[bool, typer.Option("--allow-partial", help="Use a cache not fully extracted yet (a note says so).")] = False,
) -> None:
    """Train a head on cached features and evaluate it zero-shot under a protocol; writes the run directory."""
    from zsar.heads.experiment import TrainHeadConfig, train_head as run
    from zsar.heads.options import parse_head_options
    from zsar.heads.protocols import ProtocolOptions
    from zsar.heads.selection import SelectionConfig
    from zsar.heads.train import TrainConfig
    from zsar.heads.transfer import TransferConfig
    from zsar.metrics.report import format_run_metrics

    given = lambda **kw: {k: v for k, v in kw.items() if v is not None}  # noqa: E731 (None: the library default)
    train = TrainConfig(seed=seed, device=device, standardise=standardise,
                        **given(steps=steps, epochs=epochs, batch_size=batch_size, lr=lr))
    transfer_config = TransferConfig(transfer, **given(k=transfer_k, temperature=transfer_temperature,
                                                       lam=transfer_lambda))
    config = TrainHeadConfig(
        features=features, out=out, head=head, protocol=protocol, text=text, source_features=source_features,
        splits=splits, generator=_generator_mode(generator, generator_mode), rerank=rerank, train=train,
        selection=SelectionConfig(enabled=select), head_options=parse_head_options(head, head_opt or []),
        transfer=transfer_config, overlap_with=tuple(overlap_with or ()), allow_partial=allow_partial,
        filter_text=filter_text, protocol_options=ProtocolOptions(base_train, class_lists), **given(tau=tau))
    metrics = run(config)
    typer.echo(f"{head} on {protocol}: {len(metrics.splits)} split(s), run in {out}")
    typer.echo(format_run_metrics(metrics))


@command("heads")
def heads() -> None:
    """List the heads with their options (`--head-opt KEY=VALUE`) and defaults."""
    from zsar.heads.base import HEADS, list_heads
    from zsar.heads.options import head_options_table

    for name in list_heads():
        typer.echo(f"{name}: {HEADS.entry(name).help}")
        for option, kind, default in head_options_table(name):
            typer.echo(f"    {option:<18} {kind:<6} default {default}")


def _split_list(text: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in text.split(",") if part.strip())


@command("sweep")
def sweep(
    features: Annotated[Path, typer.Option(help="Feature cache to test on (and, within a dataset, to train on).")],
    out: Annotated[Path, typer.Option(help="Folder for the runs (one per grid point, reused when finished) and report.md.")],
    protocol: Annotated[str, typer.Option(help="Protocol: {protocols}.")] = "within-half",
    heads: Annotated[str | None, typer.Option(help="Comma-separated heads from {heads} (default: all of them, baselines first: frozen when features and text share a space, then ridge).")] = None,
    source_features: Annotated[Path | None, typer.Option(help="Source cache to train on (cross-*, official).")] = None,
    text: Annotated[str | None, typer.Option(help="Text embeddings in the cache(s), e.g. minilm (needed if several).")] = None,
    splits: Annotated[int | None, typer.Option(help="Number of splits (default: the protocol's).")] = None,
    tau: Annotated[float | None, typer.Option(help="Cross protocols' overlap filter, as train-head's --tau (default 0.05; CLIP-era papers: 0).")] = None,
    filter_text: Annotated[str | None, typer.Option(help="Text the overlap filter compares, as train-head's --filter-text.")] = None,
    generator: Annotated[str, typer.Option(help="Class generator values to try: off, on or off,on (on: heads with visual centres).")] = "off,on",
    transfer: Annotated[str, typer.Option(help="Semantic transfer values to try, comma-separated: {transfers}.")] = "none,semantic",
    rerank: Annotated[str, typer.Option(help="Re-ranking values to try, comma-separated: {rerankers}.")] = "none",
    head_opt: Annotated[list[str] | None, typer.Option(help="HEAD.KEY=V1,V2: one run per value (repeatable), e.g. actionclip.fusion=mean,transformer.")] = None,
    select: Annotated[bool, typer.Option("--select/--no-select", help="Model selection on held-out seen classes in every run.")] = True,
    steps: Annotated[int | None, typer.Option(help="Optimiser steps of every run (default: train-head's).")] = None,
    seed: Annotated[int, typer.Option(help="Seed of every run.")] = 0,
    device: Annotated[str, typer.Option(help="Device: {devices} (auto: cuda if there is one).")] = "cpu",
) -> None:
    """Run a protocol over heads x generator x transfer x re-rank x head options; one table with the ridge baseline."""
    from zsar.heads.selection import SelectionConfig
    from zsar.heads.train import TrainConfig
    from zsar.sweep import SweepConfig, parse_head_grid, run_sweep
    from zsar.sweep_table import best_line

    switches = {"off": False, "on": True}
    unknown = [g for g in _split_list(generator) if g not in switches]
    if unknown or not _split_list(generator):
        raise ZsarError(f"--generator {generator!r}: give off, on or off,on")
    train = TrainConfig(seed=seed, device=device, **({} if steps is None else {"steps": steps}))
    config = SweepConfig(
        features=features, out=out, protocol=protocol, source_features=source_features, text=text, splits=splits,
        heads=_split_list(heads) if heads else None, generators=tuple(switches[g] for g in _split_list(generator)),
        transfers=_split_list(transfer), reranks=_split_list(rerank), head_grid=parse_head_grid(head_opt or []),
        train=train, selection=SelectionConfig(enabled=select), filter_text=filter_text,
        **({} if tau is None else {"tau": tau}))
    result = run_sweep(config, echo=typer.echo)
    typer.echo("")
    typer.echo(result.table)
    typer.echo(f"\n{best_line(result.rows)}; report: {result.report}")


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
    from zsar.metrics.measure import FEATURES_K, RUN_K, parse_k

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


# --- zsar predict: your own videos, your own labels ---------------------------------------------

@command("predict")
def predict(
    videos: Annotated[list[str], typer.Argument(help="Video files, folders, globs ('clips/*.mp4') or list files (.txt/.csv/.parquet).")],
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels, e.g. 'wave hand, jump, sit down'.")] = None,
    labels_file: Annotated[Path | None, typer.Option(help="UTF-8 file, one label per line; 'label<TAB>description' encodes the description.")] = None,
    run: Annotated[Path | None, typer.Option(help="A `zsar train-head` run: its backbone, sampling, text encoder, prompts and heads.")] = None,
    split: Annotated[int | None, typer.Option(help="Use this split's model of a multi-split run (default: the mean of every split's scores).")] = None,
    backbone: Annotated[str | None, typer.Option(help="Without --run: the training-free frozen head on this backbone ({backbones}), e.g. clip-vit-b16.")] = None,
    weights: Annotated[Path | None, typer.Option(help="Local weights folder/file of the backbone (with --run: if moved since; the same weights).")] = None,
    text_encoder: Annotated[str | None, typer.Option(help="Without --run: label-text encoder of the backbone's space ({text_encoders}; default clip).")] = None,
    text_model: Annotated[str | None, typer.Option(help="Text model id/dir/file (default: the run's, or the encoder's).")] = None,
    prompts: Annotated[str | None, typer.Option(help="Without --run: prompt templates ({prompts}; default actionclip) or a file of them.")] = None,
    frames: Annotated[int | None, typer.Option(help="Without --run: frames per video, uniform sampling (default 8).")] = None,
    top_k: Annotated[int, typer.Option(help="Labels per video, best first.")] = 5,
    rerank: Annotated[str, typer.Option(help="Hubness reduction over the videos of this call: {rerankers} (needs a batch of videos).")] = "none",
    out: Annotated[Path | None, typer.Option(help="Write the predictions to a .jsonl, .csv or .parquet file.")] = None,
    sheet: Annotated[Path | None, typer.Option(help="Write a contact sheet (PNG): each video's middle frame with its top-3 labels.")] = None,
    cache: Annotated[Path | None, typer.Option(help="Cache root for the videos' features (default: the run's cache root).")] = None,
    device: Annotated[str, typer.Option(help="Device: {devices}.")] = "cpu",
    workers: Annotated[int | None, typer.Option(help="Decoding processes (default: as `zsar extract`).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Clips per backbone batch (default: as `zsar extract`).")] = None,
    retry_failed: Annotated[bool, typer.Option("--retry-failed", help="Decode again the videos that failed in an earlier call (with their shard's others).")] = False,
) -> None:
    """Recognise actions in your own videos, among your own labels (free text), with a trained run or frozen CLIP."""
    from zsar.predict import PredictConfig, parse_labels, read_labels_file, run_predict

    if (labels is None) == (labels_file is None):
        raise ZsarError("give the labels with --labels 'a, b, c' or --labels-file FILE (one of them)")
    config = PredictConfig(
        videos=tuple(videos), labels=parse_labels(labels) if labels is not None else read_labels_file(labels_file),
        run=run, split=split, backbone=backbone, weights=weights, text_encoder=text_encoder, text_model=text_model,
        prompts=prompts, frames=frames, top_k=top_k, rerank=rerank, cache=cache, device=device, workers=workers,
        batch_size=batch_size, retry_failed=retry_failed, out=out, sheet=sheet)
    result = run_predict(config)
    typer.echo(result.format_table())
    typer.echo(f"\n{len(result)} video(s), {len(result.failed)} failed; {result.decoded} decoded now, "
               f"{result.reused} from the cache {result.cache_dir}; {result.model}")
    for note in result.notes:
        typer.echo(f"note: {note}")
    for path in result.written:
        typer.echo(f"wrote {path}")


def main() -> None:
    """Console-script entry point."""
    app()


if __name__ == "__main__":
    main()
