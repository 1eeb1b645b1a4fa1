"""``extract(ExtractConfig(...))``: decode a dataset's videos, run a frozen backbone, fill a feature cache.

The flow of one process (rank ``r`` of ``N``)::

    dataset (records in a fixed order) --limit--> video list
    backbone (weights id) + sampling + ...  ->  cache key  ->  <cache>/features/<dataset>/<...>-<key>/
    config.json (refused if an existing cache has other run settings), text embeddings
    lock rank r  ->  plan: this rank's chunks not yet committed (damaged ones dropped)
    decoding workers (shared-memory slots)  ->  batch buffers  ->  backbone, one batch ahead
        ->  writer thread, per chunk: shard + manifest part
    compact the rank's manifest

Backbone batches run across chunk boundaries, so which clips share a batch depends on
where a run started (a resumed run, another rank count). Features depend on that only by
rounding: on a CPU in fp32, efficientnet-lite0's features of 16 clips encoded as one batch
or as batches of 3+13, 5+11 or 8+8 were bit-identical; splits with a batch of one clip
(1+15, 7+1+8) moved them by up to 8e-6, and stored (fp16) values by at most one fp16 step
(9.8e-4, 2e-4 of the largest |feature|). tiny-random's never moved. That is the tolerance behind a cache key: equal keys mean features equal to
one fp16 step of the stored value (``docs/benchmarks-extract.md``; ``bench/gpu.sh``
measures the same for CLIP in fp16 on a GPU).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from zsar.cache.catalog import default_cache_root
from zsar.cache.config import CacheConfig
from zsar.cache.layout import CacheLayout, cache_key
from zsar.cache.lock import RankLock
from zsar.cache.verify import remove_orphan_shards
from zsar.cache.manifest import VideoCounts, compact_manifest
from zsar.devices import (backbone_threads, default_batch_size, default_workers, keep_freed_memory, rank_device,
                          resolve_device, resolve_precision, torch_threads)
from zsar.errors import ZsarError, check_choice
from zsar.extract.chunk_writer import ChunkContext, extract_chunks
from zsar.extract.decode import RESIZE_METHODS
from zsar.extract.decoders import check_decoder, load_torchcodec
from zsar.extract.gpu_loader import gpu_decoding
from zsar.extract.loader import DecodeSettings
from zsar.extract.per_file import PER_FILE_DIGEST, check_single_writer, is_per_file, plan_per_file
from zsar.extract.plan import plan_chunks, rank_chunks, remove_leftovers, resolve_rank
from zsar.extract.sampling import SamplingConfig
from zsar.extract.settings import build_config, check_sizes, key_fields, resolve_layout, save_config, videos_digest

log = logging.getLogger(__name__)

NO_TEXT = "none"
MIN_RESOLUTION = 32    # the largest total stride of the backbones (EfficientNet, ResNets, ViT-B/32 patches)
MAX_RESOLUTION = 1024  # 20000 px frames asked for a 38 GB batch; real backbones take 112-448


@dataclass(frozen=True, kw_only=True)
class ExtractConfig:
    """Everything ``zsar extract`` takes (one field per flag).

    ``resolution``: square side frames are resized/cropped to (None: the backbone's
    ``input_size``). ``device``: ``cpu``, ``cuda``, ``cuda:N`` or ``auto`` (``zsar.devices``).
    ``workers``, ``batch_size`` (clips per backbone call) and ``threads`` (torch threads of a
    CPU backbone): None takes the device's default (``zsar.devices``); ``workers=0`` decodes in
    this process. ``shard``: ``(rank, world_size)``; None reads torchrun's
    ``RANK``/``WORLD_SIZE``, else ``(0, 1)``. ``limit``: extract only N videos spread evenly
    over the dataset's list (a quick look; it is a different cache). ``text_encoder``:
    ``"none"`` skips label text. ``retry_failed``: extract again the chunks that hold failed videos.
    ``decoder`` (``auto``, ``decord``, ``pyav``, ``torchcodec``) and ``resize`` (``uint8``,
    ``float``): how frames are decoded (``zsar.extract.decode``); both are in the cache key.
    ``torchcodec`` with a CUDA ``device`` decodes on NVDEC in ``workers`` threads.
    """

    dataset: str
    root: Path
    splits: Path | None = None
    subset: str | None = None
    backbone: str = "efficientnet-lite0"
    weights: Path | None = None
    text_encoder: str = "minilm"
    text_model: str | None = None
    prompts: str = "actionclip"
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    resolution: int | None = None
    cache: Path = field(default_factory=default_cache_root)
    device: str = "cpu"
    precision: str = "fp32"
    batch_size: int | None = None
    workers: int | None = None
    videos_per_shard: int = 64
    shard: tuple[int, int] | None = None
    limit: int | None = None
    threads: int | None = None
    retry_failed: bool = False
    seed: int = 0
    decoder: str = "auto"
    resize: str = "uint8"


@dataclass(kw_only=True)
class ExtractResult:
    """What one ``extract`` call did: ``ok``/``failed`` videos extracted now, ``skipped`` already in the cache.

    ``ok`` counts the videos stored now (status ``ok``), ``partial_videos`` those of them only
    partly decoded; ``counts`` splits them as every summary shows them (``VideoCounts``).
    """

    cache_dir: Path
    ok: int
    failed: int
    skipped: int
    clips_per_s: float
    seconds: float
    rank: int = 0
    loop_cpu_seconds: float = 0.0   # CPU time of this process (all threads) in the extraction loop
    world_size: int = 1
    clips: int = 0
    failed_videos: list[tuple[str, str]] = field(default_factory=list)  # (video_id, error)
    partial_videos: list[tuple[str, str]] = field(default_factory=list)  # (video_id, note)
    total_ok: int = 0        # this rank's ok videos in the cache, including earlier runs
    total_failed: int = 0
    gpu_decoding: str = ""   # GPU decoding's cpu_fallback count and pixel check ("" when decoding ran on CPUs)

    @property
    def counts(self) -> VideoCounts:
        """The videos extracted now: fully decoded, partly decoded, failed."""
        partial = len(self.partial_videos)
        return VideoCounts(ok=self.ok - partial, partial=partial, failed=self.failed)


def limit_records(records: list, limit: int | None) -> list:
    """``limit`` records spread evenly over ``records`` (all classes get some), in order."""
    if limit is None or limit >= len(records):
        return list(records)
    if limit < 1:
        raise ZsarError(f"--limit {limit}: must be at least 1")
    picks = np.unique(np.linspace(0, len(records) - 1, limit).round().astype(np.int64))
    return [records[i] for i in picks]


def _write_text(layout: CacheLayout, config: ExtractConfig, class_names: list[str], class_texts: list[str]) -> None:
    """Encode the class texts into ``layout``'s ``text/`` unless that file is already there."""
    if config.text_encoder == NO_TEXT:
        return
    from zsar.cache.checksums import remove_with_checksum
    from zsar.cache.text import list_text_files, text_file_problem, write_text_embeddings
    from zsar.extract.models.prompts import load_prompts
    from zsar.extract.models.text_encoders import TextEncoderConfig, create_text_encoder, encode_classes

    set_name, _ = load_prompts(config.prompts)
    mine = [p for p in list_text_files(layout) if p.stem.startswith(f"{config.text_encoder}-{set_name}-")]
    problems = {p: text_file_problem(p) for p in mine}
    if mine and not all(problems.values()):
        return
    for path, problem in problems.items():
        log.warning("text embeddings %s; encoding them again", problem)
        remove_with_checksum(path)
    encoder = create_text_encoder(TextEncoderConfig(config.text_encoder, config.text_model, rank_device(config.device)))
    text = encode_classes(encoder, class_names, class_texts, config.prompts, dataset=config.dataset)
    path = write_text_embeddings(layout, text)
    log.info("label text: %s (%d classes x %d prompts, D=%d)", path.name, *text.embeddings.shape)


def extract(config: ExtractConfig) -> ExtractResult:
    """Extract ``config.dataset`` into the feature cache; see the module docstring for the flow."""
    from zsar.extract.models.backbones import BackboneConfig, create_backbone
    from zsar.extract.datasets import DatasetConfig, create_dataset

    started = time.perf_counter()
    rank, world = resolve_rank(config.shard)
    _check_names(config)
    if is_per_file(config.dataset):
        check_single_writer(config.dataset, world)
    dataset = create_dataset(config.dataset, DatasetConfig(config.root, config.splits, config.subset))
    records = limit_records(dataset.records, config.limit)
    backbone = create_backbone(BackboneConfig(name=config.backbone, weights=config.weights,
                                              device=rank_device(config.device),
                                              precision=config.precision, seed=config.seed))
    size = _check_backbone(backbone, config)
    if backbone.device.type == "cpu":
        keep_freed_memory()
    decoding = decode_settings(config, backbone.device, records)
    per_file = is_per_file(dataset.name)
    key, cache_config = _cache_config(config, dataset, records, backbone, size, key_decoder(decoding), world)
    layout = resolve_layout(config.cache, dataset.name, backbone.name, config.sampling, key, cache_config)
    layout.make_dirs()
    with RankLock(layout, rank, wait=per_file):
        save_config(layout, cache_config)
        remove_leftovers(layout, rank)
        _write_text(layout, config, dataset.class_names, dataset.class_texts)
        if per_file:  # rows added per file (zsar.extract.per_file); records then indexed by video row
            planned = plan_per_file(layout, records, config.videos_per_shard, config.retry_failed)
            records, plan = planned.records, planned.plan
        else:
            plan = plan_chunks(layout, rank, rank_chunks(len(records), config.videos_per_shard, rank, world),
                               config.retry_failed, records)
        workers = default_workers(backbone.device.type) if config.workers is None else config.workers
        batch_size = default_batch_size(backbone.device.type) if config.batch_size is None else config.batch_size
        log.info("%s: rank %d/%d, %d chunk(s) to extract, %d video(s) already in %s, %d worker(s)",
                 dataset.name, rank, world, len(plan.pending), plan.skipped, layout.root, workers)
        context = ChunkContext(layout=layout, rank=rank, key=key, records=records, class_names=dataset.class_names,
                               root=None if per_file else Path(config.root).expanduser(),
                               sampling=config.sampling, size=size, batch_size=batch_size, workers=workers,
                               pinned=backbone.device.type == "cuda", decode=decoding)
        with torch_threads(backbone_threads(config.threads, workers, backbone.device.type)):
            run = extract_chunks(context, plan.pending, backbone.launch)
        compact_manifest(layout, rank)
        for name in remove_orphan_shards(layout, rank, world):
            log.warning("removed orphan shard %s: no manifest row names it and no chunk of this cache is written to it",
                        name)
    result = ExtractResult(
        cache_dir=layout.root, ok=run.ok, failed=len(run.failed), skipped=plan.skipped,
        clips_per_s=run.clips / run.seconds if run.seconds > 0 else 0.0, seconds=time.perf_counter() - started,
        rank=rank, world_size=world, clips=run.clips, failed_videos=run.failed, partial_videos=run.partial,
        loop_cpu_seconds=run.cpu_seconds,
        total_ok=plan.done_ok + run.ok, total_failed=plan.done_failed + len(run.failed),
        gpu_decoding=run.gpu.describe() if run.gpu is not None else "")
    _report_failures(result)
    return result


def _cache_config(config: ExtractConfig, dataset, records: list, backbone, size: int, decoder: str,
                  world: int) -> tuple[str, CacheConfig]:
    """The cache key and ``config.json`` of this extraction (a per-file dataset's hold nothing of its video list)."""
    per_file = is_per_file(dataset.name)
    fields = key_fields(dataset.name, dataset.class_names, PER_FILE_DIGEST if per_file else videos_digest(records),
                        backbone.name, backbone.weights_id, config.sampling, size, config.precision, config.resize,
                        decoder)
    key = cache_key(fields)
    listing = dict(root=None, n_videos=0, limit=None, world_size=1, videos_per_shard=0) if per_file else dict(
        root=str(Path(config.root).expanduser().absolute()), splits=config.splits and str(config.splits),
        subset=config.subset, n_videos=len(records), limit=config.limit, world_size=world,
        videos_per_shard=config.videos_per_shard)
    return key, build_config(
        fields, key, weights=config.weights and str(config.weights), feature_dim=backbone.feature_dim,
        frames_out=config.sampling.frames if backbone.kind == "frame" else 1, backbone_kind=backbone.kind,
        class_names=dataset.class_names, class_texts=dataset.class_texts, space=backbone.space, **listing)


def decode_settings(config: ExtractConfig, device, records: list) -> DecodeSettings:
    """How this run decodes: on the GPU for ``pyav-nvdec`` or ``torchcodec`` with a CUDA backbone (checked here)."""
    on_gpu = gpu_decoding(config.decoder, device.type)
    if on_gpu and records:
        from zsar.extract.gpu_loader import check_cuda_decoding

        check_cuda_decoding(records[0].path, config.decoder, str(device))
    return DecodeSettings(decoder=config.decoder, resize=config.resize, device=str(device) if on_gpu else "cpu",
                          digest=True)


def key_decoder(settings: DecodeSettings) -> str:
    """The decoder as the cache key names it: ``torchcodec-cuda`` for NVDEC (other pixels than its CPU path)."""
    return settings.decoder if settings.device == "cpu" else f"{settings.decoder}-cuda"


def _check_names(config: ExtractConfig) -> None:
    """Refuse unknown names and bad numbers before the (possibly long) dataset scan."""
    from zsar.extract.models.backbones import BACKBONES
    from zsar.extract.datasets import DATASETS
    from zsar.extract.models.prompts import load_prompts

    DATASETS.entry(config.dataset)
    BACKBONES.entry(config.backbone)
    resolve_precision(config.precision, resolve_device(rank_device(config.device)))
    if config.text_encoder != NO_TEXT:
        from zsar.extract.models.text_encoders import TEXT_ENCODERS

        TEXT_ENCODERS.entry(config.text_encoder)
        load_prompts(config.prompts)
    s = config.sampling
    check_sizes(s.frames, s.clips, s.stride, config.batch_size, config.videos_per_shard, config.threads, config.workers)
    check_decoder(config.decoder)
    check_choice("--resize", config.resize, RESIZE_METHODS)
    if config.decoder == "torchcodec":
        load_torchcodec()
    for flag, value in (("--batch-size", config.batch_size), ("--videos-per-shard", config.videos_per_shard)):
        if value is not None and value < 1:
            raise ZsarError(f"{flag} {value}: must be at least 1")
    if config.workers is not None and config.workers < 0:
        raise ZsarError(f"--workers {config.workers}: must be 0 (decode in this process) or more")


def _check_backbone(backbone, config: ExtractConfig) -> int:
    """The frame side to decode to; refuses a resolution or frame count the backbone cannot take."""
    size = backbone.input_size if config.resolution is None else config.resolution
    if not MIN_RESOLUTION <= size <= MAX_RESOLUTION:
        raise ZsarError(f"--resolution {size}: must be {MIN_RESOLUTION} to {MAX_RESOLUTION} pixels (backbones "
                        f"downsample by up to {MIN_RESOLUTION}; a batch of larger frames does not fit in memory); "
                        f"leave it out for {backbone.name}'s {backbone.input_size}")
    if not backbone.any_size and size != backbone.input_size:
        raise ZsarError(f"--resolution {size}: {backbone.name} needs {backbone.input_size}x{backbone.input_size} "
                        f"frames; use --resolution {backbone.input_size} (the default)")
    if backbone.frames_in is not None and config.sampling.frames != backbone.frames_in:
        raise ZsarError(f"--frames {config.sampling.frames}: {backbone.name} takes {backbone.frames_in} frames "
                        f"per clip; use --frames {backbone.frames_in}")
    return size


def _report_failures(result: ExtractResult) -> None:
    """Warn about failed and partly decoded videos; every video of the rank failing is an error."""
    if result.failed:
        shown = "; ".join(f"{vid}: {err}" for vid, err in result.failed_videos[:3])
        log.warning("%d video(s) could not be decoded (failed rows in the manifest), e.g. %s", result.failed, shown)
    if result.partial_videos:
        shown = "; ".join(f"{vid}: {note}" for vid, note in result.partial_videos[:3])
        log.warning("%d video(s) were only partly decoded (a note in their manifest rows; train-head leaves them "
                    "out), e.g. %s", len(result.partial_videos), shown)
    if result.total_ok == 0 and result.total_failed > 0:
        first = result.failed_videos[0] if result.failed_videos else ("", "see the manifest's error column")
        raise ZsarError(f"all {result.total_failed} video(s) failed to decode (e.g. {first[0]}: {first[1]}); "
                        f"check the files under the dataset root, then run again with --retry-failed "
                        f"(the failures are recorded in {result.cache_dir})")

