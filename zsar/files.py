"""Writing files so that no reader ever sees half of one, and saying in one line why a write failed.

Every file zsar writes (shards, manifests, text embeddings, ``config.json``, run files,
reports, rendered videos) goes to ``.<name>.<pid>.tmp`` beside its final path, is flushed to
disk and then renamed over the final path (``os.replace`` is atomic on POSIX): a kill at any
moment leaves the old file or the new one, plus at most a temporary file whose name says
which process left it (``zsar cache verify`` reports such leftovers of dead writers).

A write that fails for a reason of the file system (a full disk, a read-only folder, a file
where a folder should be) removes its temporary file and raises a ``ZsarError`` that names
the file and the fix (``write_error``).

What zsar records to name the bytes and the code behind a result lives here too:
``file_sha256`` is the checksum of a cache file (shards, manifests, text files, run
embeddings); ``file_digest`` the short digest of local weights files that goes into a
backbone's weights id (and so into the cache key); ``package_version`` the version of an
installed distribution that ships weights (also part of a weights id).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from importlib import metadata
from pathlib import Path
from typing import Callable, Iterable, Iterator

from zsar.errors import ZsarError

WRITE_FIX = "free some space or make the folder writable, then run the command again"


def temp_path(path: Path) -> Path:
    """The temporary name of ``path`` while this process writes it: ``.<name>.<pid>.tmp`` beside it."""
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def write_error(path: Path, err: OSError, fix: str = "") -> ZsarError:
    """A one-line error for a failed write (read-only folder, full disk, a file where a folder should be)."""
    return ZsarError(f"cannot write {path} ({_reason(err)}); {fix or WRITE_FIX}")


def _reason(err: OSError) -> str:
    """The system's words for ``err``; HDF5 puts them inside a long message of its own."""
    text = err.strerror or str(err)
    found = re.search(r"error message = '([^']+)'", text)
    return found.group(1) if found else " ".join(text.split())


def fsync_file(path: Path) -> None:
    """Flush the file at ``path`` to disk."""
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def replace_synced(tmp: Path, path: Path) -> None:
    """Flush ``tmp`` to disk and rename it to ``path`` (the default commit of ``atomic_write``)."""
    fsync_file(tmp)
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_write(path: Path, fix: str = "",
                 commit: Callable[[Path, Path], object] = replace_synced) -> Iterator[Path]:
    """Yield the temporary path to write ``path``'s content to; on success ``commit(tmp, path)`` it.

    ``commit`` defaults to fsync + rename; ``zsar.cache.checksums.commit_with_checksum`` also
    writes the checksum file. An ``OSError`` in the block or the commit removes the temporary
    file and becomes ``write_error(path, err, fix)``.
    """
    path = Path(path)
    tmp = temp_path(path)
    try:
        yield tmp
        commit(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        raise write_error(path, err, fix) from None


def atomic_write_text(path: Path, text: str, fix: str = "") -> None:
    """Write ``text`` to ``path`` atomically (see the module docstring)."""
    with atomic_write(path, fix) as tmp:
        tmp.write_text(text)


BLOCK = 1 << 22  # bytes read at a time


def file_digest(paths: Iterable[Path], length: int | None = 12) -> str:
    """The hex SHA-256 of the bytes of ``paths`` read one after the other in sorted order, cut to ``length``."""
    h = hashlib.sha256()
    for path in sorted(paths):
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(BLOCK), b""):
                h.update(block)
    return h.hexdigest()[:length]


def file_sha256(path: Path) -> str:
    """The full hex SHA-256 of the file at ``path``."""
    return file_digest([Path(path)], length=None)


def package_version(dist: str) -> str:
    """The installed version of the distribution ``dist``, or ``"unknown"``."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"

