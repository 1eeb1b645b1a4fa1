"""``zsar train-head``: run a protocol with one head and write the run directory.

``train_head(config)`` loads the caches, checks them, plans the protocol's splits and,
for each, trains a fresh head on the training classes (or reuses the model of an earlier
split with the same ``model_key``), embeds the test videos, scores the candidate
classes and writes the split's results through ``zsar.cache.runs``. It returns the
metrics that ``metrics.json`` holds.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from zsar import __version__
from zsar.cache.batches import FeatureBatches
from zsar.cache.features import FeatureSet, load_features, load_text
from zsar.cache.layout import cache_key
from zsar.cache.lock import RunLock
from zsar.cache.run_files import (CacheRecord, CheckpointMeta, FilterTextRecord, LogRecord, OverlapRecord,
                                  RunConfig, RunLayout, RunMetrics, SelectionRecord, SplitRecord, append_log,
                                  write_run_metrics, write_selection)
from zsar.cache.runs import (RunReader, SplitResult, link_checkpoint, prepare_run_dir, write_checkpoint,
                             write_predictions, write_split_result)
from zsar.cache.text import TextEmbeddings
from zsar.devices import resolve_device
from zsar.errors import ZsarError
from zsar.heads.base import ClassText, Head, HeadDims, create_head, head_class, head_config, list_heads
from zsar.heads.frozen import check_shared_space
from zsar.heads.objects import bind_objects, check_objects
from zsar.heads.zero_shot import embed_rows, score_split, split_metrics, summarise
from zsar.heads.generator import NO_GENERATOR, check_generator_mode
from zsar.heads.clip_protocols import B2N_METRICS
from zsar.heads.filter_text import E2E_SOURCE_NOTE, filter_texts
from zsar.heads.options import check_head_size
from zsar.heads.plans import SplitPlan, group_by_model
from zsar.heads.protocols import (DEFAULT_TAU, Protocol, ProtocolData, ProtocolOptions, protocol_for,
                                  source_filter_record)
from zsar.heads.rerank import RERANKERS
from zsar.heads.selection import SelectionConfig, select
from zsar.heads.train import TrainConfig, fit, prepare
from zsar.heads.transfer import TransferConfig

log = logging.getLogger(__name__)
TRAIN_SAMPLE_CAP = 5000  # seen-class training embeddings kept per split for `zsar metrics`


@dataclass(frozen=True, kw_only=True)
class TrainHeadConfig:
    """Everything ``zsar train-head`` needs. ``None`` means the head's or protocol's default.

    ``generator``: ``none``/``interpolate``/``extrapolate`` (heads with visual centres);
    ``transfer.mode`` ``None``: the head's default (``semantic`` for ``rest``); ``splits``
    ``None``: the protocol's default. ``replace_other_run``: an ``out`` holding a run with
    other settings is deleted and redone instead of refused. ``overlap_with``: caches whose classes the source is
    filtered against besides the target's (E2E's union filter). ``filter_text``: the text the overlap filter
    compares (None: ``word2vec-e2e`` when the source cache has it, else ``text``). ``protocol_options``:
    ``base-to-novel``'s training videos and class lists.
    """

    features: Path
    out: Path
    head: str
    protocol: str
    text: str | None = None
    source_features: Path | None = None
    splits: int | None = None
    generator: str | None = None
    transfer: TransferConfig = field(default_factory=TransferConfig)
    rerank: str = "none"
    tau: float = DEFAULT_TAU
    overlap_with: tuple[Path, ...] = ()
    train: TrainConfig = field(default_factory=TrainConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    head_options: dict[str, Any] = field(default_factory=dict)
    replace_other_run: bool = False
    allow_partial: bool = False
    filter_text: str | None = None
    protocol_options: ProtocolOptions = field(default_factory=ProtocolOptions)


@dataclass(kw_only=True)
class _Resolved:
    """The config with every default filled in, and what the run needs at hand."""

    config: TrainHeadConfig
    protocol: Protocol
    n_splits: int
    head_options: dict[str, Any]
    transfer: TransferConfig
    device: torch.device


def resolve(config: TrainHeadConfig) -> _Resolved:
    """Check names and combinations and fill in the head's and protocol's defaults."""
    cls = head_class(config.head)
    protocol = protocol_for(config.protocol)
    RERANKERS.get(config.rerank)
    if protocol.needs_source and config.source_features is None:
        raise ZsarError(f"--protocol {protocol.name} trains on a source dataset: pass --source-features CACHE "
                        "(e.g. a Kinetics cache); for raw zero-shot scores with no head use `zsar metrics --features`")
    if not protocol.needs_source and config.source_features is not None:
        raise ZsarError(f"--protocol {protocol.name} trains and tests on --features; drop --source-features "
                        "or use cross-half, cross-full or official")
    n_splits = protocol.default_splits if config.splits is None else config.splits
    if n_splits < 1 or (protocol.max_splits is not None and n_splits > protocol.max_splits):
        top = protocol.max_splits or "any number"
        raise ZsarError(f"--splits {n_splits}: {protocol.name} takes 1 to {top} splits")
    if config.tau < 0 or config.tau > 2:
        raise ZsarError(f"--tau {config.tau}: a cosine distance, in [0, 2]")
    if config.protocol_options != ProtocolOptions() and protocol.name != "base-to-novel":
        raise ZsarError(f"--base-train and --class-lists choose base-to-novel's videos and lists; drop them with "
                        f"--protocol {protocol.name}")
    if config.filter_text is not None and not protocol.needs_source:
        raise ZsarError(f"--filter-text picks the text of a cross protocol's overlap filter; drop it with "
                        f"--protocol {protocol.name}")
    options = dict(config.head_options)
    if config.generator is not None:
        check_generator_mode(config.generator)
        if not cls.has_centres and config.generator != NO_GENERATOR:
            with_centres = [n for n in list_heads() if head_class(n).has_centres]
            raise ZsarError(f"--generator: head {config.head} has no visual centres to mix; use it with "
                            f"{' or '.join(with_centres)}, or drop --generator")
        if cls.has_centres:
            options["generator"] = config.generator
    transfer = config.transfer
    if transfer.mode is None:
        transfer = replace(transfer, mode=cls.default_transfer)
    head_config(config.head, **options)  # unknown option names fail here, not mid-run
    return _Resolved(config=config, protocol=protocol, n_splits=n_splits, head_options=options, transfer=transfer,
                     device=resolve_device(config.train.device))


def load_protocol_data(config: TrainHeadConfig) -> ProtocolData:
    """The target (and source) features and text, checked for NaN and for matching encoders and shapes."""
    target, target_text = _load(config.features, config.text, config.allow_partial)
    if config.source_features is None:
        if config.overlap_with:
            raise ZsarError("--overlap-with filters the source classes of a cross protocol; pass --source-features "
                            "with cross-half, cross-full or official, or drop --overlap-with")
        return _note_losses(ProtocolData(target=target, target_text=target_text, tau=config.tau,
                                         options=config.protocol_options))
    source, source_text = _load(config.source_features, config.text, config.allow_partial)
    _check_compatible(target, target_text, source, source_text)
    source_filter, target_filter = filter_texts(config.filter_text, config.tau, source, target)
    reference = source_filter or source_text
    name = config.text if source_filter is None else f"{source_filter.encoder}-{source_filter.prompt_set}"
    flag = "--text" if source_filter is None else "--filter-text"
    overlap = [_load_overlap_text(Path(path), name, reference, flag) for path in config.overlap_with]
    protocol = protocol_for(config.protocol)
    data = ProtocolData(target=target, target_text=target_text, source=source, source_text=source_text, tau=config.tau,
                        overlap_text=overlap,
                        source_filter_text=source_filter, target_filter_text=target_filter,
                        filter_classes=protocol.filter_classes(target) if protocol.filter_classes else None)
    if config.tau > 0 and not config.overlap_with:
        data.note(E2E_SOURCE_NOTE.format(tau=config.tau))
    return _note_losses(data)


def _note_losses(data: ProtocolData) -> ProtocolData:
    """Note (for ``metrics.json``) the videos each cache left out: failed or only partly decoded."""
    for features in (data.target, data.source):
        note = None if features is None else features.loss_note()
        if note is not None:
            data.note(note)
    return data


def _load_overlap_text(path: Path, text: str | None, source_text: TextEmbeddings,
                       flag: str = "--text") -> TextEmbeddings:
    """An ``--overlap-with`` cache's label text; it must come from the source's (filter) text encoder."""
    try:
        embeddings = load_text(path, text)
    except ZsarError:  # no such text there: its only text, named in the mismatch below
        embeddings = load_text(path, None)
    if (embeddings.encoder, embeddings.model_id, embeddings.dim) != (source_text.encoder, source_text.model_id,
                                                                     source_text.dim):
        raise ZsarError(f"--overlap-with {path}: its text {embeddings.file_stem} is from {embeddings.encoder} "
                        f"({embeddings.model_id}), the source's from {source_text.encoder} ({source_text.model_id}); "
                        f"add that text to it (`zsar extract ... --text-encoder {source_text.encoder}`) or pick it "
                        f"with {flag} NAME")
    if not np.isfinite(embeddings.embeddings).all():
        raise ZsarError(f"text embeddings {embeddings.file_stem} in {path} hold NaN/inf; extract them again")
    return embeddings


def _load(path: Path, text: str | None, allow_partial: bool = False) -> tuple[FeatureSet, TextEmbeddings]:
    features = load_features(path)
    features.check_complete(allow_partial)
    features.check_finite()
    embeddings = load_text(path, text).subset(features.class_names)
    if not np.isfinite(embeddings.embeddings).all():
        raise ZsarError(f"text embeddings {embeddings.file_stem} in {path} hold NaN/inf; extract them again")
    return features, embeddings


def _check_compatible(target: FeatureSet, target_text: TextEmbeddings, source: FeatureSet,
                      source_text: TextEmbeddings) -> None:
    """Source and target must share the text encoder (name, model, dim) and the feature shape and backbone."""
    for what, a, b in (("text encoder", source_text.encoder, target_text.encoder),
                       ("text model", source_text.model_id, target_text.model_id),
                       ("text dim", source_text.dim, target_text.dim),
                       ("feature dim", source.dim, target.dim),
                       ("frames per clip", source.features.shape[2], target.features.shape[2]),
                       ("backbone", source.config.backbone, target.config.backbone)):
        if a != b:
            raise ZsarError(f"source and target caches differ in {what} ({a!r} vs {b!r}); extract both with "
                            "the same backbone and --text-encoder (pick the text with --text NAME)")


def _cache_record(features: FeatureSet, text: TextEmbeddings) -> CacheRecord:
    return CacheRecord(path=str(features.cache_dir), key=features.key, text=text.file_stem, text_key=text.key,
                       text_encoder=text.encoder, videos=features.video_digest, videos_splits=features.split_digest)


def run_config(resolved: _Resolved, data: ProtocolData) -> RunConfig:
    """The ``config.json`` of the run: training config, protocol, the caches (keys and paths) it read."""
    c = resolved.config
    settings: dict[str, Any] = {}
    if data.source is not None and data.source_text is not None:
        record = source_filter_record(data)  # --overlap-with texts and the kept source classes
        settings = dict(source_features=_cache_record(data.source, data.source_text), tau=c.tau,
                        filter_text=FilterTextRecord(**record["filter_text"]),
                        overlap_with=tuple(OverlapRecord(**o) for o in record["overlap_with"]),
                        source_classes=tuple(record["source_classes"]))
    config = RunConfig(
        zsar=__version__, head=c.head, head_config=asdict(head_config(c.head, **resolved.head_options)),
        protocol=c.protocol, splits=resolved.n_splits, train={**asdict(c.train), "device": resolved.device.type},
        selection=asdict(c.selection), transfer=asdict(resolved.transfer), rerank=c.rerank,
        features=_cache_record(data.target, data.target_text),
        protocol_options=asdict(c.protocol_options) if c.protocol_options != ProtocolOptions() else None,
        **settings)
    return replace(config, config_hash=cache_key(config.settings()))


def build_head(name: str, plan: SplitPlan, options: dict[str, Any], seed: int, device: torch.device) -> Head:
    """A freshly initialised head for ``plan`` (weights drawn from ``seed``), on ``device``."""
    shape = plan.train.cache.features.shape
    space = plan.train.cache.config.space
    dims = HeadDims(video_dim=shape[3], text_dim=plan.train.text.dim, frames=shape[2],
                    n_classes=len(plan.train.classes), shared_space=bool(space) and space == plan.train.text.space)
    torch.manual_seed(seed)
    head = create_head(name, dims, **options)
    bind_objects(head, plan.train.cache, plan.train.text)  # the objects head: the cache's classifier and object text
    return head.to(device)


@dataclass(kw_only=True)
class TrainedHead:
    """A trained head and its embeddings of training videos (all of them with semantic transfer, else a sample).

    ``embedded`` are positions in ``plan.train.rows`` of the rows in ``embeddings``;
    ``sample`` are positions in ``embedded`` of the (at most ``TRAIN_SAMPLE_CAP``) videos
    kept for ``zsar metrics``; ``split`` is the split whose folder holds the checkpoint;
    ``selection`` what model selection chose (None when it was off or impossible) and
    ``train`` the training settings used.
    """

    head: Head
    model_key: str
    split: int
    embeddings: np.ndarray
    embedded: np.ndarray
    sample: np.ndarray
    train: TrainConfig
    selection: SelectionRecord | None = None


def choose_settings(resolved: _Resolved, plan: SplitPlan) -> tuple[TrainConfig, dict[str, Any],
                                                                   SelectionRecord | None]:
    """The training settings and head options for ``plan``: the given ones, or what selection picks."""
    c, device = resolved.config, resolved.device
    if not c.selection.enabled or head_class(c.head).training_free:
        return c.train, resolved.head_options, None
    make = lambda p: build_head(c.head, p, resolved.head_options, c.train.seed, device)  # noqa: E731
    selection = select(make, plan, c.train, c.selection, resolved.transfer, c.rerank, device)
    if selection is None:
        return c.train, resolved.head_options, None
    log.info("split %d: selection chose %s", plan.split, selection.describe())
    chosen = dict(selection.chosen)
    train = replace(c.train, lr=float(chosen.pop("lr", c.train.lr)), **(
        {"steps": int(chosen.pop("steps")), "epochs": None} if "steps" in chosen else {}))
    return train, {**resolved.head_options, **chosen}, selection


def train_for_plan(resolved: _Resolved, plan: SplitPlan, run: Path | None) -> TrainedHead:
    """Select settings on held-out seen classes, train a fresh head on all of ``plan``'s training videos, embed them.

    The loss per epoch goes to ``run``'s log; the selection to ``split-<i>/selection.json``.
    """
    c, device = resolved.config, resolved.device
    train, options, selection = choose_settings(resolved, plan)
    train = replace(train, seed=train.seed + plan.seed)  # base-to-novel: a training seed per split
    if run is not None and selection is not None:
        write_selection(RunLayout(run), plan.split, selection)
    head = build_head(c.head, plan, options, train.seed, device)
    batches = FeatureBatches(plan.train.cache.features, plan.train.rows, plan.train.targets)
    text = ClassText.from_embeddings(plan.train.text, device)
    on_record = None if run is None else (lambda record: append_log(RunLayout(run),
                                                                    LogRecord(split=plan.split, **record)))
    prepare(head, batches, train)
    fit(head, batches, text, train, on_record, desc=f"{c.head} split {plan.split}")
    n = len(plan.train.rows)
    rng = np.random.default_rng(c.train.seed)
    sample = np.sort(rng.choice(n, size=min(n, TRAIN_SAMPLE_CAP), replace=False))
    embedded = np.arange(n) if resolved.transfer.mode == "semantic" else sample
    embeddings = embed_rows(head, plan.train.cache.features, plan.train.rows[embedded], device)
    if resolved.transfer.mode != "semantic":
        sample = np.arange(len(embedded))
    return TrainedHead(head=head, model_key=plan.model_key, split=plan.split, embeddings=embeddings,
                       embedded=embedded, sample=sample, train=train, selection=selection)


def evaluate_plan(resolved: _Resolved, plan: SplitPlan, trained: TrainedHead) -> SplitResult:
    """Zero-shot scores of ``plan``'s test videos with the trained head, as a ``SplitResult``."""
    device = resolved.device
    test_embeddings = embed_rows(trained.head, plan.test.cache.features, plan.test.rows, device)
    train_targets = plan.train.targets[trained.embedded]
    prototypes, scores = score_split(trained.head, plan, test_embeddings, trained.embeddings, train_targets,
                                     resolved.transfer, resolved.config.rerank, device)
    return SplitResult(
        split=plan.split, class_names=plan.class_names, seen=plan.seen, test_classes=plan.test.classes,
        prototypes=prototypes, test_embeddings=test_embeddings, test_labels=plan.test.labels,
        test_video_ids=[plan.test.cache.video_ids[i] for i in plan.test.rows], scores=scores,
        train_embeddings=trained.embeddings[trained.sample],
        train_labels=plan.train.classes[train_targets[trained.sample]])


def _checkpoint_meta(resolved: _Resolved, plan: SplitPlan, trained: TrainedHead, config_hash: str) -> CheckpointMeta:
    described = trained.head.describe()
    return CheckpointMeta(head=resolved.config.head, dims=described["dims"], config=described["config"],
                          split=plan.split, config_hash=config_hash, train=asdict(trained.train),
                          selected=None if trained.selection is None else trained.selection.chosen,
                          train_classes=tuple(plan.class_names[c] for c in plan.train.classes))


def fit_model(resolved: _Resolved, plans: list[SplitPlan], out: Path, config_hash: str) -> TrainedHead:
    """Train the head the ``plans`` share (on the first's training videos); its checkpoint goes to each split."""
    first = plans[0]
    trained = train_for_plan(resolved, first, out)
    write_checkpoint(out, first.split, trained.head.state_dict(),
                     _checkpoint_meta(resolved, first, trained, config_hash))
    for plan in plans[1:]:
        link_checkpoint(out, first.split, plan.split)
        if trained.selection is not None:
            write_selection(RunLayout(out), plan.split, trained.selection)
    return trained


def evaluate_plans(resolved: _Resolved, plans: list[SplitPlan], trained: TrainedHead, out: Path) -> None:
    """Evaluate each of ``plans`` with the head trained for them and write its ``embeddings.h5``."""
    for plan in plans:
        result = evaluate_plan(resolved, plan, trained)
        write_split_result(out, result)
        log.info("split %d: top-1 %.2f%%", plan.split, split_metrics(result)["top1"])


def _check_sizes(config: TrainHeadConfig, resolved: _Resolved, data: ProtocolData) -> None:
    if head_class(config.head).needs_shared_space:
        check_shared_space(config.head, "--features", data.target, data.target_text)
    if head_class(config.head).needs_objects:
        check_objects("--features", data.target, data.target_text)
    space = data.target.config.space
    dims = HeadDims(video_dim=data.target.dim, text_dim=data.target_text.dim, frames=data.target.features.shape[2],
                    n_classes=len(data.target.class_names),
                    shared_space=bool(space) and space == data.target_text.space)
    check_head_size(config.head, dims, resolved.head_options)


def train_head(config: TrainHeadConfig) -> RunMetrics:
    """Run ``config.protocol`` with ``config.head`` and write the run directory ``config.out``; returns its metrics.

    Three steps over the protocol's plans, less those a previous start finished: group
    them by model, fit each model, evaluate each plan.
    """
    resolved = resolve(config)
    data = load_protocol_data(config)
    _check_sizes(config, resolved, data)
    payload = run_config(resolved, data)
    out = Path(config.out)
    with RunLock(out):
        done = set(prepare_run_dir(out, payload, replace=config.replace_other_run))
        if done:
            log.info("%s holds this run already; keeping its finished splits %s", out, sorted(done))
        plans = list(resolved.protocol.plan(data, resolved.n_splits))
        for group in group_by_model([plan for plan in plans if plan.split not in done]):
            evaluate_plans(resolved, group, fit_model(resolved, group, out, payload.config_hash), out)
        reader = RunReader(out)
        results = [reader.split(plan.split) for plan in plans]
        names = B2N_METRICS if config.protocol == "base-to-novel" else None
        per_split = [split_metrics(r, names) for r in results]
        mean, std = summarise(per_split)
        selections = [reader.selection(r.split) for r in results]
        metrics = RunMetrics(protocol=config.protocol, head=config.head, mean=mean, std=std, notes=tuple(data.notes),
                             splits=tuple(SplitRecord(**m, selected=None if s is None else s.chosen)
                                          for m, s in zip(per_split, selections)))
        write_predictions(out, results)
        write_run_metrics(RunLayout(out), metrics)
        return metrics
