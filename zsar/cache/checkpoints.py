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
from pathlib import Path
from typing import Any

from zsar.cache.checksums import checksum_path, commit_with_checksum, file_problem, remove_with_checksum
from zsar.files import atomic_write, write_error

CHECKPOINT_NAME = "checkpoint.pt"
REDO = "re-run the same `zsar train-head` command (same --out) to redo it"


def split_dir(run: Path, split: int) -> Path:
    return Path(run) / f"split-{split}"


def write_checkpoint(run: Path, split: int, state_dict: dict[str, Any], meta: dict[str, Any]) -> Path:
    """Save ``RUN/split-<i>/checkpoint.pt`` with its checksum file: a plain state dict and a dict of primitives.

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
    torch.save({"state_dict": {k: v.detach().cpu() for k, v in state_dict.items()}, "meta": meta}, buffer)
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


def read_checkpoint(path: Path) -> dict[str, Any]:
    """``{"state_dict", "meta"}`` of a checkpoint written by ``write_checkpoint`` (safe: ``weights_only``)."""
    import torch

    return torch.load(Path(path), map_location="cpu", weights_only=True)


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
