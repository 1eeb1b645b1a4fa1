"""What zsar records to name the bytes and the code behind a result: file digests, package versions.

``file_sha256`` is the checksum of a cache file (shards, manifests, text files, run
embeddings); ``file_digest`` the short digest of local weights files that goes into a
backbone's weights id (and so into the cache key); ``package_version`` the version of an
installed distribution that ships weights (also part of a weights id).
"""

from __future__ import annotations

import hashlib
from importlib import metadata
from pathlib import Path
from typing import Iterable

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
