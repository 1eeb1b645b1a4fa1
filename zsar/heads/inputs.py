"""The caches ``zsar train-head`` reads: the target and source features and text, checked, as ``ProtocolData``.

Each cache must be complete (or ``--allow-partial``), finite, and its text must cover its
classes; a source cache must share the target's text encoder, feature shape and backbone,
and every ``--overlap-with`` cache's text must come from the filter text's encoder.
"""

from __future__ import annotations

from pathlib import Path
from dataclasses import dataclass
from typing import Any

import numpy as np

from zsar.cache.features import FeatureSet, load_features, load_text
from zsar.cache.text import TextEmbeddings
from zsar.errors import ZsarError
from zsar.heads.filter_text import filter_texts
from zsar.heads.protocols import Protocol, ProtocolData


@dataclass(frozen=True, kw_only=True)
class Inputs:
    """What a run reads: ``features`` (the target cache) and its ``text``, a ``source_features`` cache,
    ``overlap_with`` caches, the ``filter_text`` of the overlap filter, and whether a partial cache will do."""

    features: Path
    text: str | None = None
    source_features: Path | None = None
    overlap_with: tuple[Path, ...] = ()
    filter_text: str | None = None
    allow_partial: bool = False


def load_protocol_data(config: Inputs, protocol: Protocol, options: Any) -> ProtocolData:
    """The target (and source) features and text, checked for NaN and for matching encoders and shapes.

    ``options`` are the protocol's (``Protocol.options``); a protocol that trains on a source
    cache takes its overlap filter's ``tau`` from them and notes a source set that is not the
    published one (``filter_note``).
    """
    target, target_text = _load(config.features, config.text, config.allow_partial)
    if config.source_features is None:
        if config.overlap_with:
            raise ZsarError("--overlap-with filters the source classes of a cross protocol; pass --source-features "
                            "with cross-half, cross-full or official, or drop --overlap-with")
        return _note_losses(ProtocolData(target=target, target_text=target_text, options=options))
    tau = options.tau
    source, source_text = _load(config.source_features, config.text, config.allow_partial)
    _check_compatible(target, target_text, source, source_text)
    source_filter, target_filter = filter_texts(config.filter_text, tau, source, target)
    reference = source_filter or source_text
    name = config.text if source_filter is None else f"{source_filter.encoder}-{source_filter.prompt_set}"
    flag = "--text" if source_filter is None else "--filter-text"
    overlap = [_load_overlap_text(Path(path), name, reference, flag) for path in config.overlap_with]
    data = ProtocolData(target=target, target_text=target_text, source=source, source_text=source_text, tau=tau,
                        overlap_text=overlap, source_filter_text=source_filter, target_filter_text=target_filter,
                        filter_classes=protocol.filter_classes(target) if protocol.filter_classes else None,
                        options=options)
    note = options.filter_note(data)
    if note is not None:
        data.note(note)
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
