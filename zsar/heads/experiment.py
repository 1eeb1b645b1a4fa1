"""``zsar train-head``: run a protocol with one head and write the run directory.

``train_head(config)`` loads the caches, checks them, plans the protocol's splits and,
for each, trains a fresh head on the training classes (or reuses the model of an earlier
split with the same ``model_key``), embeds the test videos, scores the candidate
classes and writes the split's results through ``zsar.runs.results``. It returns the
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
from zsar.heads.batches import FeatureBatches
from zsar.cache.features import FeatureSet
from zsar.cache.layout import cache_key
from zsar.cache.verify import stale_videos
from zsar.runs.lock import RunLock
from zsar.runs.files import (CacheRecord, CheckpointMeta, FilterTextRecord, LogRecord, OverlapRecord,
                                  RunConfig, RunLayout, RunMetrics, SelectionRecord, SplitRecord, append_log,
                                  write_run_metrics, write_selection)
from zsar.runs.checkpoints import link_checkpoint, write_checkpoint
from zsar.runs.results import RunReader, SplitResult, prepare_run_dir, write_predictions, write_split_result
from zsar.cache.text import TextEmbeddings
from zsar.devices import resolve_device
from zsar.errors import ZsarError
from zsar.heads.base import HEADS, ClassText, Head, HeadDims, create_head, head_class, head_config
from zsar.heads.frozen import check_shared_space
from zsar.heads.classifier import embed_rows
from zsar.heads.inputs import Inputs, load_protocol_data
from zsar.heads.objects import bind_objects, check_objects
from zsar.heads.zero_shot import score_plan, split_metrics, summarise_splits
from zsar.heads.generator import NO_GENERATOR, check_generator_mode
from zsar.heads.options import check_head_size
from zsar.heads.plans import SplitPlan, group_by_model
from zsar.heads.protocol_options import protocol_options
from zsar.heads.protocols import PROTOCOLS, Protocol, ProtocolData, source_filter_record
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
    values of the protocol's options by name (``Protocol.options``; e.g. ``tau``, ``base_train``), the others
    keep the protocol's defaults. ``strict``: a video changed since its cache was extracted
    (``zsar.cache.verify.stale_videos``) is an error instead of a warning and a note.
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
    overlap_with: tuple[Path, ...] = ()
    train: TrainConfig = field(default_factory=TrainConfig)
    selection: SelectionConfig = field(default_factory=SelectionConfig)
    head_options: dict[str, Any] = field(default_factory=dict)
    replace_other_run: bool = False
    allow_partial: bool = False
    filter_text: str | None = None
    protocol_options: dict[str, Any] = field(default_factory=dict)
    strict: bool = False


@dataclass(kw_only=True)
class _Resolved:
    """The config with every default filled in, and what the run needs at hand."""

    config: TrainHeadConfig
    protocol: Protocol
    options: Any
    n_splits: int
    head_options: dict[str, Any]
    transfer: TransferConfig
    device: torch.device


def resolve(config: TrainHeadConfig) -> _Resolved:
    """Check names and combinations and fill in the head's and protocol's defaults."""
    cls = head_class(config.head)
    protocol = PROTOCOLS.get(config.protocol)
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
    options = protocol_options(protocol, config.protocol_options)
    if config.filter_text is not None and not protocol.needs_source:
        raise ZsarError(f"--filter-text picks the text of a cross protocol's overlap filter; drop it with "
                        f"--protocol {protocol.name}")
    head_options = dict(config.head_options)
    if config.generator is not None:
        check_generator_mode(config.generator)
        if not cls.has_centres and config.generator != NO_GENERATOR:
            with_centres = [n for n in HEADS.names() if head_class(n).has_centres]
            raise ZsarError(f"--generator: head {config.head} has no visual centres to mix; use it with "
                            f"{' or '.join(with_centres)}, or drop --generator")
        if cls.has_centres:
            head_options["generator"] = config.generator
    transfer = config.transfer
    if transfer.mode is None:
        transfer = replace(transfer, mode=cls.default_transfer)
    head_config(config.head, **head_options)  # unknown option names fail here, not mid-run
    return _Resolved(config=config, protocol=protocol, options=options, n_splits=n_splits, head_options=head_options,
                     transfer=transfer, device=resolve_device(config.train.device))


def protocol_data(config: TrainHeadConfig, resolved: _Resolved | None = None) -> ProtocolData:
    """The caches ``config`` reads, loaded and checked, with its protocol's options (``zsar.heads.inputs``)."""
    resolved = resolved or resolve(config)
    inputs = Inputs(features=config.features, text=config.text, source_features=config.source_features,
                    overlap_with=config.overlap_with, filter_text=config.filter_text, allow_partial=config.allow_partial)
    return load_protocol_data(inputs, resolved.protocol, resolved.options)


def _cache_record(features: FeatureSet, text: TextEmbeddings) -> CacheRecord:
    return CacheRecord(path=str(features.cache_dir), key=features.key, text=text.file_stem, text_key=text.key,
                       text_encoder=text.encoder, videos=features.video_digest, videos_splits=features.split_digest)


def run_config(resolved: _Resolved, data: ProtocolData) -> RunConfig:
    """The ``config.json`` of the run: training config, protocol, the caches (keys and paths) it read."""
    c = resolved.config
    settings: dict[str, Any] = {}
    if data.source is not None and data.source_text is not None:
        record = source_filter_record(data)  # --overlap-with texts and the kept source classes
        settings = dict(source_features=_cache_record(data.source, data.source_text), tau=data.tau,
                        filter_text=FilterTextRecord(**record["filter_text"]),
                        overlap_with=tuple(OverlapRecord(**o) for o in record["overlap_with"]),
                        source_classes=tuple(record["source_classes"]))
    config = RunConfig(
        zsar=__version__, head=c.head, head_config=asdict(head_config(c.head, **resolved.head_options)),
        protocol=c.protocol, splits=resolved.n_splits, train={**asdict(c.train), "device": resolved.device.type},
        selection=asdict(c.selection), transfer=asdict(resolved.transfer), rerank=c.rerank,
        features=_cache_record(data.target, data.target_text),
        protocol_options=asdict(resolved.options),
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
    if plan.train_seed is not None:  # base-to-novel: the lists' fixed training seed
        train = replace(train, seed=plan.train_seed)
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
    prototypes, scores = score_plan(trained.head, plan, test_embeddings, trained.embeddings, train_targets,
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
        log.info("split %d: top-1 %.2f%%", plan.split, split_metrics(result)[0]["top1"])


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


def cap_splits(protocol: Protocol, data: ProtocolData, n_splits: int) -> int:
    """``n_splits``, or the number of distinct splits ``protocol`` can draw on ``data`` when that is fewer (noted)."""
    most = None if protocol.distinct_splits is None else protocol.distinct_splits(data)
    if most is None or n_splits <= most:
        return n_splits
    data.note(f"--splits {n_splits}: {protocol.name} can draw only {most} distinct split(s) from the "
              f"{len(data.target.class_names)} classes of {data.target.cache_dir}; running {most}")
    return most


def check_stale(data: ProtocolData, strict: bool) -> None:
    """Note (``strict``: refuse) videos of the caches read that changed since they were extracted."""
    for features in (data.target, data.source):
        stale = None if features is None else stale_videos(features.cache_dir).describe()
        if stale is not None and strict:
            raise ZsarError(f"{stale} (--strict)")
        if stale is not None:
            data.note(stale)


def train_head(config: TrainHeadConfig) -> RunMetrics:
    """Run ``config.protocol`` with ``config.head`` and write the run directory ``config.out``; returns its metrics.

    Three steps over the protocol's plans, less those a previous start finished: group
    them by model, fit each model, evaluate each plan.
    """
    resolved = resolve(config)
    data = protocol_data(config, resolved)
    check_stale(data, config.strict)
    resolved = replace(resolved, n_splits=cap_splits(resolved.protocol, data, resolved.n_splits))
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
        measures = resolved.protocol.measures
        per_split = []
        for result in results:
            values, notes = split_metrics(result, measures)
            per_split.append(values)
            for note in notes:
                data.note(note)
        mean, std = summarise_splits(per_split, measures)
        selections = [reader.selection(r.split) for r in results]
        metrics = RunMetrics(protocol=config.protocol, head=config.head, mean=mean, std=std, measures=measures,
                             notes=tuple(data.notes), splits=tuple(SplitRecord(**m, selected=None if s is None else s.chosen)
                                                                  for m, s in zip(per_split, selections)))
        write_predictions(out, results)
        write_run_metrics(RunLayout(out), metrics)
        return metrics
