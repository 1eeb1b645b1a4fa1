"""Head checkpoints of a run: ``RUN/split-<i>/checkpoint.pt`` and its checksum file ``checkpoint.pt.sha256``.

A checkpoint is a plain state dict and a dict of primitives (``torch.load(weights_only=True)``
reads it). It is serialised in memory and committed like every run file, with its checksum
file (``zsar.cache.checksums``), so a full disk is one line and leaves no temporary file.
``checkpoint_problem`` says why one cannot be trusted: it does not match its checksum file,
or, for a checkpoint from before checksum files, it does not load.
"""

from __future__ import annotations

import io
import os
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zsar.cache.checksums import checksum_path, commit_with_checksum, file_problem, remove_with_checksum
from zsar.cache.records import parse_record, record_json
from zsar.runs.files import CHECKPOINT_NAME, REDO, CheckpointMeta, RunFileError, RunLayout
from zsar.files import atomic_write, write_error


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint as read: the head's state dict ``{name: tensor}`` and its ``CheckpointMeta``."""

    state_dict: dict[str, Any]
    meta: CheckpointMeta


def split_dir(run: Path, split: int) -> Path:
    return RunLayout(run).split_dir(split)


def write_checkpoint(run: Path, split: int, state_dict: dict[str, Any], meta: CheckpointMeta) -> Path:
    """Save ``RUN/split-<i>/checkpoint.pt`` with its checksum file: a plain state dict and ``meta`` as primitives.

    It is serialised in memory first, so a full disk is an ``OSError`` of the plain write
    (one line, the temporary file removed), not an error inside ``torch.save``.
    """
    import torch

    folder = split_dir(run, split)
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise write_error(folder, err, "choose a writable --out") from None
    path = folder / CHECKPOINT_NAME
    buffer = io.BytesIO()
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}, "meta": record_json(meta)},
               buffer)
    fix = f"free some space, then {REDO} (its finished splits are kept)"
    with atomic_write(path, fix, commit=commit_with_checksum) as tmp:
        tmp.write_bytes(buffer.getbuffer())
    return path


def link_checkpoint(run: Path, from_split: int, to_split: int) -> Path:
    """Give split ``to_split`` the checkpoint of ``from_split`` (splits sharing one model): a hard link, or a copy.

    Its checksum file is linked (or copied) with it: the line names ``checkpoint.pt``, the same in both folders.
    """
    folder = split_dir(run, to_split)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / CHECKPOINT_NAME
    remove_with_checksum(path)
    for source, target in ((split_dir(run, from_split) / CHECKPOINT_NAME, path),
                           (checksum_path(split_dir(run, from_split) / CHECKPOINT_NAME), checksum_path(path))):
        try:
            os.link(source, target)
        except OSError:  # a file system without hard links
            shutil.copyfile(source, target)
    return path


def read_checkpoint(path: Path) -> Checkpoint:
    """The checkpoint written by ``write_checkpoint`` at ``path`` (safe: ``weights_only``); its meta checked.

    A file that is not such a checkpoint is a ``RunFileError`` naming it; ``torch.load``'s
    own errors on a damaged file pass through (``checkpoint_problem`` words them).
    """
    import torch

    path = Path(path)
    raw = torch.load(path, map_location="cpu", weights_only=True)
    where = f"checkpoint {path}"
    if not isinstance(raw, dict) or set(raw) != {"state_dict", "meta"} or not isinstance(raw["state_dict"], dict):
        raise RunFileError(f"{where} is damaged: not a state dict with its meta; {REDO}")
    return Checkpoint(raw["state_dict"], parse_record(CheckpointMeta, raw["meta"], where, REDO, RunFileError))


def checkpoint_problem(path: Path) -> str | None:
    """Why the checkpoint at ``path`` cannot be trusted, or ``None``.

    It must match its checksum file; one from before checksum files (none beside it) must load.
    """
    path = Path(path)
    root = path.parent.parent
    if path.is_file() and not checksum_path(path).is_file():
        try:
            read_checkpoint(path)
        except Exception as err:  # torch.load raises RuntimeError, pickle errors, EOFError... on damage
            return f"{path.relative_to(root).as_posix()} cannot be loaded ({' '.join(str(err).split())[:120]})"
        return None
    return file_problem(path, root)
