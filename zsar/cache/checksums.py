"""Checksum files beside the cache files that may be rewritten: ``<file>.sha256``.

Shards are checked against the SHA-256 their manifest rows record. Manifest files and
label-text files have no record above them, so each carries a sidecar
``<name>.sha256`` in ``sha256sum`` format (``sha256sum -c`` checks it too). Any changed,
truncated or missing byte of the file, or of its sidecar, shows as a mismatch.

A file is committed in four steps, each atomic: its bytes under a temporary name (fsynced),
the sidecar under a temporary name, the file's rename, the sidecar's rename. At every
moment the file matches its sidecar or a sidecar waiting under its temporary name, so a
reader never takes a commit in flight, or one killed between the two renames, for damage
(``file_problem``), and ``settle_checksum`` finishes a killed commit.
"""

from __future__ import annotations

import os
from pathlib import Path

from zsar.cache.lock import pid_alive
from zsar.files import file_sha256, fsync_file, temp_path

SUFFIX = ".sha256"


def checksum_path(path: Path) -> Path:
    """``<file>.sha256`` beside ``path``."""
    return path.with_name(path.name + SUFFIX)


def _line(sha: str, path: Path) -> str:
    return f"{sha}  {path.name}\n"


def _pending(path: Path) -> list[Path]:
    """Sidecars of ``path`` still under their temporary names (a commit in flight or killed)."""
    return sorted(path.parent.glob(f".{path.name}{SUFFIX}.*.tmp"))


def commit_with_checksum(tmp: Path, path: Path) -> str:
    """Rename the finished file ``tmp`` to ``path`` with its sidecar (see the module doc); returns its SHA-256."""
    fsync_file(tmp)
    sha = file_sha256(tmp)
    sidecar = checksum_path(path)
    sidecar_tmp = temp_path(sidecar)
    sidecar_tmp.write_text(_line(sha, path))
    fsync_file(sidecar_tmp)
    os.replace(tmp, path)
    os.replace(sidecar_tmp, sidecar)
    return sha


def remove_with_checksum(path: Path) -> None:
    """Delete ``path`` and then its sidecar (an orphan sidecar left by a kill says the file is gone)."""
    path.unlink(missing_ok=True)
    checksum_path(path).unlink(missing_ok=True)


def file_problem(path: Path, root: Path) -> str | None:
    """Why ``path`` cannot be trusted (``None`` if it matches its sidecar); files are named relative to ``root``."""
    sidecar = checksum_path(path)
    name, sidecar_name = path.relative_to(root).as_posix(), sidecar.relative_to(root).as_posix()
    if not path.is_file():
        return f"{name} is missing" + (f" ({sidecar_name} is there)" if sidecar.is_file() else "")
    expected = _line(file_sha256(path), path)
    candidates = ([sidecar] if sidecar.is_file() else []) + _pending(path)
    if not candidates:
        return f"{name} has no checksum file {sidecar_name}"
    if any(_read(c) == expected for c in candidates):
        return None
    return f"{name} does not match its checksum file {sidecar_name}"


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def settle_checksum(path: Path) -> None:
    """Finish a commit killed between its two renames: a waiting sidecar that matches ``path`` takes its place.

    Sidecars of writers still running (the pid in the temporary name) are left to them.
    """
    if not path.is_file():
        return
    expected = _line(file_sha256(path), path)
    for pending in _pending(path):
        if not pid_alive(int(pending.name.rsplit(".", 2)[1])) and _read(pending) == expected:
            os.replace(pending, checksum_path(path))
            return


def orphan_checksums(folder: Path, pattern: str) -> list[Path]:
    """Files ``folder/<pattern>`` that are gone while their sidecar is still there."""
    if not folder.is_dir():
        return []
    return [p.with_name(p.name[: -len(SUFFIX)]) for p in sorted(folder.glob(pattern + SUFFIX))
            if not p.with_name(p.name[: -len(SUFFIX)]).exists()]
