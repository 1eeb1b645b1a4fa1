"""The cache follows the videos: a content identity per video file, and refreshing the metadata of kept rows.

A video's manifest row records ``content_digest``: a BLAKE2b-128 of every byte of the file
(``content_digest``, computed by the decoding worker as it reads the file for extraction);
``fingerprint``: the file's size and a SHA-256 of its first and last MiB
(``file_fingerprint``; the whole file when it is under 2 MiB); and ``mtime_ns``, its
modification time then. Each ``zsar extract`` compares every row of its rank with the file
the dataset lists now (``check_files``):

- same size and modification time: unchanged, nothing is read (a ``stat`` per video);
- otherwise the ends fingerprint is computed again, a fast first check: different (or the
  file is gone) means another video, whose chunk is extracted again;
- equal ends are not the last word: the whole file's digest is computed and compared.
  Equal means the same video (a dataset copied or moved to another root), whose features
  are kept and whose new time is recorded; different (an edit in the middle) means another
  video, extracted again.

Rows written before fingerprints or digests existed get them on the first extract after the
upgrade, without decoding anything (a digest reads the whole file once). Such a row whose
file changed and kept its ends is judged by the ends alone, as before digests. Split columns
are metadata too: ``refresh_rows`` rewrites them from the split files the dataset reads now,
so editing a split file never re-decodes a video.

Cost (measured, ``docs/integrity.md``): a ``stat`` is microseconds; a fingerprint reads at
most 2 MiB; the digest reads the file the decoder reads anyway. A change that keeps size and
modification time (an edit followed by ``touch -r``) is not seen; delete the cache folder to
extract such a dataset again.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pyarrow as pa

from zsar.cache.manifest import SPLIT_COLUMNS, STATUS_OK

MIB = 1 << 20
DIGEST_SIZE = 16    # bytes of BLAKE2b: 32 hex characters


def content_digest(path: Path | str) -> str:
    """The BLAKE2b-128 (hex) of every byte of the file at ``path``; ``""`` if it cannot be read.

    The video's content identity: ``zsar extract`` records it in the manifest's
    ``content_digest`` column, computed by the decoding worker as it reads the file.
    """
    try:
        with open(path, "rb") as f:
            return hashlib.file_digest(f, lambda: hashlib.blake2b(digest_size=DIGEST_SIZE)).hexdigest()
    except OSError:
        return ""


def file_fingerprint(path: Path | str) -> tuple[str, int]:
    """``("<size>-<sha256 of first and last MiB>", mtime_ns)`` of the file at ``path``; ``("", 0)`` if it is gone."""
    try:
        stat = os.stat(path)
        h = hashlib.sha256()
        with open(path, "rb") as f:
            h.update(f.read(MIB))
            if stat.st_size > 2 * MIB:
                f.seek(stat.st_size - MIB)
            h.update(f.read(MIB))
    except OSError:
        return "", 0
    return f"{stat.st_size}-{h.hexdigest()[:32]}", stat.st_mtime_ns


def _unchanged_stat(path: Path, fingerprint: str, mtime_ns: int) -> bool:
    try:
        stat = os.stat(path)
    except OSError:
        return False
    return mtime_ns == stat.st_mtime_ns and fingerprint.split("-", 1)[0] == str(stat.st_size)


@dataclass
class FileCheck:
    """What ``check_files`` found: rows whose file changed, and new identities of unchanged files."""

    changed: dict[int, str] = field(default_factory=dict)          # video_row -> video_id
    # video_row -> (fingerprint, mtime_ns, content_digest)
    updates: dict[int, tuple[str, int, str]] = field(default_factory=dict)
    added: int = 0    # rows that had no fingerprint or no digest yet (a cache from before them)
    moved: int = 0    # rows whose file has a new modification time but the same content


def check_files(table: pa.Table, records: Sequence) -> FileCheck:
    """Compare each row of ``table`` with the file of ``records[video_row]`` (see the module doc)."""
    result = FileCheck()
    names = ("video_row", "video_id", "fingerprint", "mtime_ns", "content_digest")
    for video_row, video_id, fingerprint, mtime_ns, digest in zip(*(table.column(c).to_pylist() for c in names)):
        path = records[video_row].path
        if fingerprint and _unchanged_stat(path, fingerprint, mtime_ns):
            if not digest:
                result.added += 1
                result.updates[video_row] = (fingerprint, mtime_ns, content_digest(path))
            continue
        now = file_fingerprint(path)
        if fingerprint and now[0] != fingerprint:
            result.changed[video_row] = video_id
            continue
        digest_now = content_digest(path)
        if digest and digest_now != digest:
            result.changed[video_row] = video_id
            continue
        if fingerprint and digest:
            result.moved += 1
        else:
            result.added += 1
        result.updates[video_row] = (*now, digest_now)
    return result


@dataclass
class Refresh:
    """The rank's rows with their metadata refreshed, and counts of what changed."""

    table: pa.Table
    splits: int = 0      # rows whose split columns changed
    fingerprints: int = 0
    digests: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.splits or self.fingerprints or self.digests)


def refresh_rows(table: pa.Table, records: Sequence, updates: dict[int, tuple[str, int, str]],
                 digests: dict[str, str]) -> Refresh:
    """``table`` with split columns from ``records``, file identities from ``updates``, shard digests from ``digests``."""
    video_rows = table.column("video_row").to_pylist()
    out = Refresh(table)
    split_now = {c: [records[r].splits[k] for r in video_rows] for k, c in enumerate(SPLIT_COLUMNS)}
    moved = np.zeros(len(video_rows), dtype=bool)
    for column, values in split_now.items():
        old = table.column(column).to_pylist()
        moved |= np.array([a != b for a, b in zip(old, values)], dtype=bool)
        out.table = _set(out.table, column, values)
    out.splits = int(moved.sum())
    if updates:
        fingerprints = table.column("fingerprint").to_pylist()
        mtimes = table.column("mtime_ns").to_pylist()
        contents = table.column("content_digest").to_pylist()
        for i, r in enumerate(video_rows):
            if r in updates:
                fingerprints[i], mtimes[i], contents[i] = updates[r]
        out.table = _set(_set(out.table, "fingerprint", fingerprints), "mtime_ns", mtimes)
        out.table = _set(out.table, "content_digest", contents)
        out.fingerprints = len(updates)
    if digests:
        shards = table.column("shard").to_pylist()
        status = table.column("status").to_pylist()
        old = table.column("shard_digest").to_pylist()
        new = [digests.get(s, d) if st == STATUS_OK else d for s, st, d in zip(shards, status, old)]
        out.digests = sum(a != b for a, b in zip(old, new))
        out.table = _set(out.table, "shard_digest", new)
    return out


def _set(table: pa.Table, name: str, values: list) -> pa.Table:
    i = table.schema.get_field_index(name)
    return table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))
