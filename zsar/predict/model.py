"""A trained run as a predictor: its heads (one per split), the caches it read, its label text and transfer.

``load_run_model(run)`` reads what ``zsar train-head`` wrote and checks it before any video
is decoded, as ``train-head`` checks what it reads: the run's ``config.json`` and
``metrics.json``, the feature cache the run names (found at its recorded path, else by its
key under the cache root), that cache's ``config.json`` and label-text file (checksums),
and per split ``embeddings.h5`` (checksum) and ``checkpoint.pt`` (loaded with
``weights_only`` into a head of the recorded kind, every tensor matching). Anything
missing or damaged is one ``ZsarError`` naming the file and the repair.

What predict then takes from the run: the backbone, weights, sampling, resolution and
precision of the cache the run was tested on (the user's videos are extracted with
exactly those), the text encoder, model and prompt templates of its label text (the
user's labels are encoded with exactly those), each split's head with its input
standardisation (buffers of the checkpoint), and for semantic transfer the split's seen
classes, their label text and the head's embeddings of their training videos (the
``train_embeddings`` of ``embeddings.h5``: every training video up to
``TRAIN_SAMPLE_CAP``, a seeded sample of them beyond).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from zsar.cache.config import CacheConfig, read_cache_config
from zsar.cache.layout import CacheLayout, open_layout
from zsar.runs.files import REDO, CacheRecord, CheckpointMeta, RunLayout
from zsar.runs.checkpoints import read_checkpoint
from zsar.runs.results import RunReader, SplitResult
from zsar.cache.text import TextEmbeddings, read_text_embeddings
from zsar.errors import ZsarError
from zsar.heads.base import Head, HeadDims, create_head
from zsar.heads.transfer import TransferConfig
from zsar.vectors import positions


@dataclass(kw_only=True)
class SplitModel:
    """One split's trained head and what semantic transfer needs of its seen classes.

    ``train_text`` holds the label text of the S seen classes; ``train_embeddings``
    ``(M, E)`` the head's unit embeddings of training videos and ``train_targets`` ``(M,)``
    their class as a position in ``train_text``.
    """

    split: int
    head: Head
    train_text: TextEmbeddings
    train_embeddings: np.ndarray
    train_targets: np.ndarray


@dataclass(kw_only=True)
class RunModel:
    """A run ready to score new videos: see the module docstring."""

    run: Path
    head_name: str
    cache: CacheConfig
    cache_dir: Path
    text: TextEmbeddings
    transfer: TransferConfig
    splits: list[SplitModel]

    @property
    def cache_root(self) -> Path:
        """The cache root holding the run's cache (``<root>/features/<dataset>/<folder>``)."""
        return self.cache_dir.parent.parent.parent


def find_cache(record: CacheRecord, run: Path, cache_root: Path | None) -> CacheLayout:
    """The cache a run ``record`` names: at its recorded path, else ``<cache_root>/features/*/*-<key>``."""
    key = record.key
    recorded = Path(record.path)
    candidates = [recorded, run / recorded] if not recorded.is_absolute() else [recorded]
    for path in candidates:
        if (path / "config.json").is_file() or CacheLayout(path).looks_like_cache():
            return open_layout(path)
    if cache_root is not None and key:
        matches = sorted(Path(cache_root).expanduser().glob(f"features/*/*-{key}"))
        if matches:
            return open_layout(matches[0])
    where = f" or under --cache {cache_root}" if cache_root is not None else ""
    raise ZsarError(f"run {run}: its feature cache {recorded} (key {key}) is missing{where}; pass --cache ROOT "
                    "holding it, or extract it again with the settings the run was trained on")


def _cache_and_text(run: Path, record: CacheRecord, cache_root: Path | None) -> tuple[CacheLayout, CacheConfig,
                                                                                    TextEmbeddings]:
    layout = find_cache(record, run, cache_root)
    config = read_cache_config(layout)
    if record.key and config.key != record.key:
        raise ZsarError(f"run {run}: {layout.root} holds cache {config.key}, the run read {record.key}; "
                        "pass --cache ROOT holding the run's own cache")
    path = layout.text_path(record.text)
    if not path.is_file():
        raise ZsarError(f"run {run}: its label text {path.name} is missing from {layout.root}; `zsar extract` with "
                        f"the run's settings (--text-encoder {record.text_encoder}) writes it again")
    return layout, config, read_text_embeddings(path)


def load_head(path: Path) -> tuple[Head, CheckpointMeta]:
    """The head saved in checkpoint ``path`` (kind, dims and config from its meta) and that meta."""
    if not path.is_file():
        raise ZsarError(f"run {path.parent.parent}: {path.parent.name}/{path.name} is missing; {REDO}")
    try:
        checkpoint = read_checkpoint(path)
        meta = checkpoint.meta
        head = create_head(meta.head, HeadDims(**meta.dims), **meta.config)
        head.load_state_dict(checkpoint.state_dict)
    except ZsarError:
        raise
    except Exception as err:  # torch.load and load_state_dict raise many kinds (pickle, zip, size mismatch)
        reason = str(err).splitlines()[0].split(". ")[0] if str(err) else type(err).__name__
        raise ZsarError(f"run {path.parent.parent}: {path.parent.name}/{path.name} is damaged ({reason[:200]}); "
                        f"{REDO}") from None
    return head.eval(), meta


def _train_names(result: SplitResult, meta: CheckpointMeta, prefix: str) -> list[str]:
    """The split's seen classes as the training cache names them (cross protocols prefix ``<dataset>/``)."""
    names = [result.class_names[c] for c in np.flatnonzero(result.seen)]
    if list(meta.train_classes) != names:
        raise ZsarError(f"split {result.split}: checkpoint and embeddings.h5 name other seen classes; {REDO}")
    return [n[len(prefix):] if prefix and n.startswith(prefix) else n for n in names]


def _split_model(run: Path, split: int, reader: RunReader, train_text: TextEmbeddings, prefix: str,
                 device: torch.device) -> SplitModel:
    result = reader.split(split)
    head, meta = load_head(RunLayout(run).checkpoint_path(split))
    if result.train_embeddings is None or result.train_labels is None:
        embeddings, targets = np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    else:
        embeddings, targets = result.train_embeddings, positions(result.train_labels, np.flatnonzero(result.seen))
    text = train_text.subset(_train_names(result, meta, prefix))
    return SplitModel(split=split, head=head.to(device), train_text=text, train_embeddings=embeddings,
                      train_targets=targets)


def run_splits(reader: RunReader, split: int | None) -> list[int]:
    """The splits to predict with: ``split``, or every split the run finished."""
    listed = reader.listed_splits()
    ids = listed if listed is not None else reader.split_ids()
    if not ids:
        raise ZsarError(f"run {reader.root} has no finished split; did `zsar train-head` complete?")
    if split is None:
        return ids
    if split not in ids:
        raise ZsarError(f"--split {split}: run {reader.root} has split(s) {', '.join(map(str, ids))}; pick one of them "
                        "or leave --split out to average them")
    return [split]


def load_run_model(run: Path, split: int | None = None, cache_root: Path | None = None,
                   device: torch.device | str = "cpu") -> RunModel:
    """The run at ``run`` as a ``RunModel`` (every check of the module docstring done)."""
    run = Path(run).expanduser()
    if not run.exists():
        raise ZsarError(f"--run {run} does not exist; pass the --out folder of `zsar train-head`")
    reader = RunReader(run)
    config = reader.config
    layout, cache, text = _cache_and_text(run, config.features, cache_root)
    source = config.source_features
    if source is not None:
        _, source_cache, train_text = _cache_and_text(run, source, cache_root)
        prefix = f"{source_cache.dataset or 'source'}/"
    else:
        train_text, prefix = text, ""
    device = torch.device(device)
    splits = [_split_model(run, i, reader, train_text, prefix, device) for i in run_splits(reader, split)]
    transfer = TransferConfig(**config.transfer)
    return RunModel(run=run, head_name=config.head, cache=cache, cache_dir=layout.root, text=text, transfer=transfer,
                    splits=splits)
