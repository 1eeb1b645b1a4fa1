"""Recheck a feature cache: every file is covered by a checksum or a validator.

``verify_cache(path)`` returns a ``VerifyReport``; its ``problems`` are one line each and
name the file at fault:

- ``config.json`` that fails its typed schema, its schema version or its checksum, or is
  missing (``zsar.cache.config``);
- a manifest file (compacted or part), a label-text file or an object-vocabulary file that
  does not match its ``.sha256`` checksum file, has lost it, or does not parse
  (``zsar.cache.checksums``);
- a shard that an ``ok`` manifest row points to but that is missing;
- a shard whose SHA-256 differs from the one recorded when it was committed (one flipped
  byte is enough), or whose ``video_row``s disagree with the manifest;
- a video listed twice with different shards (ranks run with different settings);
- a temporary file left by a killed writer (its pid is no longer running).

``locks/`` holds no data (a lock file is empty unless a writer holds it) and is not checked.
A shard that no manifest row names (its manifest file deleted, a run killed between the
shard's rename and its manifest part, or a file of another rank count or chunk size) is
reported as an orphan: its videos are not in the cache. The next ``zsar extract`` of the
rank that owns it (``shard_owner``: the rank in its name, rank 0 for a name no rank of the
cache writes) extracts its chunk again over it, or, when no chunk of the cache has that
name, removes it and says so (``remove_orphan_shards``). ``zsar extract`` with the same
settings repairs everything else: it rewrites ``config.json``, drops damaged manifest files
and damaged shards' rows and extracts those videos again, and encodes a damaged text file
again. A cache not fully extracted yet is not damaged; the report's ``completeness`` says
how far it is.

``stale_videos(path)`` is the cheap check ``zsar train-head`` makes of the videos a cache was
made from: one ``stat`` per video whose features it holds, comparing size and modification
time with those its manifest row recorded. A video that differs has stale features until
the next ``zsar extract`` (which compares contents); a video that cannot be reached (a
cache made on another machine, an unmounted drive) is not checked.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from zsar.cache.checksums import file_problem, orphan_checksums
from zsar.cache.config import CacheConfig, CacheConfigError, read_cache_config
from zsar.cache.layout import CacheLayout, open_layout
from zsar.cache.lock import pid_alive
from zsar.cache.objects import objects_dir
from zsar.cache.manifest import (MANIFEST_SCHEMA, STATUS_FAILED, STATUS_OK, Completeness, ManifestError,
                                 is_partly_decoded, manifest_files, read_manifest, read_manifest_file)
from zsar.cache.shards import ShardReader, file_sha256
from zsar.cache.text import TEXT_REPAIR, list_text_files, text_file_problem

_RANKED = re.compile(r"-\d{3}[-.]")  # a rank's shard or manifest file: its next extract cleans up
_TMP = re.compile(r"^\..+\.(\d+)\.tmp$")  # ".<name>.<pid>.tmp", as every cache writer names them
_SHARD = re.compile(r"^shard-(\d{3})-(\d{6})\.h5$")  # CacheLayout.shard_name


@dataclass(kw_only=True)
class VerifyReport:
    """What ``verify_cache`` found: ``problems`` (empty when the cache is sound) and counts."""

    cache_dir: Path
    problems: list[str] = field(default_factory=list)
    shards: int = 0        # shards whose checksum matched
    videos: int = 0        # ok rows whose shard matched
    failed: int = 0        # failed rows (videos the decoder could not read)
    texts: int = 0         # text and object-vocabulary files whose checksum matched
    completeness: Completeness | None = None  # None when config.json or a manifest file is damaged

    @property
    def ok(self) -> bool:
        return not self.problems


def leftover_tmp_files(layout: CacheLayout) -> list[Path]:
    """Temporary files whose writer (the pid in the name) is no longer running on this machine."""
    found = []
    for folder in (layout.root, layout.shards_dir, layout.parts_dir, layout.text_dir):
        for path in sorted(folder.glob(".*.tmp")) if folder.is_dir() else ():
            match = _TMP.match(path.name)
            if match and not pid_alive(int(match.group(1))):
                found.append(path)
    return found


def _read_tables(layout: CacheLayout, report: VerifyReport) -> tuple[list[pa.Table], bool]:
    """The manifest files that pass their checks, and whether all did."""
    tables, all_read = [], True
    for path in manifest_files(layout):
        if not path.is_file() and path.parent == layout.parts_dir:
            report.problems.append(f"leftover checksum file {path.relative_to(layout.root)}.sha256 of a removed "
                                   "part (the next `zsar extract` removes it)")
            continue
        try:
            tables.append(read_manifest_file(layout, path))
        except ManifestError as err:
            report.problems.append(str(err))
            all_read = False
    return tables, all_read


def _check_texts(layout: CacheLayout, report: VerifyReport) -> None:
    for path in sorted(set(list_text_files(layout)) | set(orphan_checksums(layout.text_dir, "*.h5"))):
        problem = text_file_problem(path)
        if problem is None:
            report.texts += 1
        else:
            report.problems.append(f"text embeddings {problem}; {TEXT_REPAIR}")


def _check_objects(layout: CacheLayout, report: VerifyReport) -> None:
    folder = objects_dir(layout.root)
    for path in sorted(set(folder.glob("*.h5")) | set(orphan_checksums(folder, "*.h5"))):
        problem = file_problem(path, layout.root)
        if problem is None:
            report.texts += 1
        else:
            report.problems.append(f"object vocabulary {problem}; the next `zsar train-head` or `zsar predict` with "
                                   "the objects head builds it again")


def _check_duplicates(table: pa.Table, report: VerifyReport) -> None:
    """A video may appear twice only as the same row (a part not yet removed by compaction)."""
    seen: dict[int, tuple[str, int]] = {}
    for video_row, shard, row, video_id in zip(*(table.column(c).to_pylist() for c in
                                                 ("video_row", "shard", "row", "video_id"))):
        where = (shard, row)
        if seen.setdefault(video_row, where) != where:
            report.problems.append(f"video {video_id} (row {video_row}) is listed twice: "
                                   f"{seen[video_row]} and {where}")


def _check_shard(layout: CacheLayout, name: str, sha: str, rows: np.ndarray, video_rows: np.ndarray,
                 report: VerifyReport) -> None:
    path = layout.shard_path(name)
    if not path.is_file():
        report.problems.append(f"shard {name} is missing ({len(rows)} videos point to it)")
        return
    actual = file_sha256(path)
    if actual != sha:
        report.problems.append(f"shard {name} fails its checksum (recorded {sha[:12]}, now {actual[:12]})")
        return
    with ShardReader(path) as reader:
        stored = reader.read("video_row")
    if rows.max() >= len(stored) or not np.array_equal(stored[rows], video_rows):
        report.problems.append(f"shard {name} does not hold the videos its manifest rows name")
        return
    report.shards += 1
    report.videos += len(rows)


def verify_cache(path: Path | str) -> VerifyReport:
    """Check every file of the cache at ``path``; see the module docstring."""
    layout = open_layout(path)
    report = VerifyReport(cache_dir=layout.root)
    try:
        config = read_cache_config(layout)
    except CacheConfigError as err:
        config = None
        report.problems.append(str(err))
    tables, all_read = _read_tables(layout, report)
    _check_texts(layout, report)
    _check_objects(layout, report)
    table = pa.concat_tables(tables) if tables else MANIFEST_SCHEMA.empty_table()
    _check_duplicates(table, report)
    _check_shards(layout, table, report)
    if all_read:
        _check_orphans(layout, config, table, report)
    for tmp in leftover_tmp_files(layout):
        fix = ("the next `zsar extract` of its rank finishes or removes it" if _RANKED.search(tmp.name)
               else "safe to delete while no `zsar extract` runs on this cache")
        report.problems.append(f"leftover temporary file {tmp.relative_to(layout.root)} from a killed run ({fix})")
    if config is not None and all_read:
        _, first = np.unique(table.column("video_row").to_numpy(), return_index=True)
        report.completeness = Completeness.of(table.take(pa.array(first)), config.n_videos, config.world_size,
                                              config.videos_per_shard)
    return report


def shard_owner(name: str, world_size: int) -> int:
    """The rank whose ``zsar extract`` repairs shard ``name``: the rank in its name, else (a name no rank of a
    ``world_size`` cache writes) rank 0."""
    match = _SHARD.match(name)
    rank = int(match.group(1)) if match else world_size
    return rank if rank < world_size else 0


def named_shards(layout: CacheLayout) -> set[str]:
    """The shards that rows of the readable manifest files name (a damaged file is skipped)."""
    names: set[str] = set()
    for path in manifest_files(layout):
        try:
            names.update(read_manifest_file(layout, path).column("shard").to_pylist())
        except ManifestError:
            continue
    return names


def orphan_shards(layout: CacheLayout, named: set[str]) -> list[str]:
    """Shard files (``shard-*.h5``) that no name in ``named`` points to, sorted."""
    if not layout.shards_dir.is_dir():
        return []
    return sorted(p.name for p in layout.shards_dir.glob("shard-*.h5") if p.name not in named)


def remove_orphan_shards(layout: CacheLayout, rank: int, world_size: int) -> list[str]:
    """Delete the orphan shards that ``rank`` owns (``shard_owner``); returns their names.

    Call it holding the rank's lock, after the rank's chunks are committed: a shard of a
    chunk still to extract is written over, so what is left unnamed then belongs to no chunk.
    """
    removed = [name for name in orphan_shards(layout, named_shards(layout)) if shard_owner(name, world_size) == rank]
    for name in removed:
        layout.shard_path(name).unlink(missing_ok=True)
    return removed


def _orphan_fix(name: str, config: CacheConfig | None, table: pa.Table) -> str:
    """What the next ``zsar extract`` does with the orphan shard ``name``."""
    world = config.world_size if config is not None else 1
    owner = shard_owner(name, world)
    match = _SHARD.match(name)
    if config is not None and match and int(match.group(1)) < world:
        seq, per_shard = int(match.group(2)), config.videos_per_shard or config.n_videos or 1
        rows = table.column("video_row").to_numpy()
        start, stop = seq * per_shard, min(config.n_videos, (seq + 1) * per_shard)
        listed = len(np.unique(rows[(rows >= start) & (rows < stop)]))
        if seq % world == owner and start < stop and listed < stop - start:  # a chunk that is extracted again
            return f"of rank {owner} extracts its videos again over it"
    return f"of rank {owner} removes it (no chunk of this cache is written to it)"


def _check_orphans(layout: CacheLayout, config: CacheConfig | None, table: pa.Table, report: VerifyReport) -> None:
    """Shards no manifest row names: their videos count as not extracted."""
    for name in orphan_shards(layout, set(table.column("shard").to_pylist())):
        report.problems.append(f"orphan shard {name}: no manifest row names it (its manifest file is gone, or a run "
                               f"was killed before writing it); the next `zsar extract` {_orphan_fix(name, config, table)}")


def _check_shards(layout: CacheLayout, table: pa.Table, report: VerifyReport) -> None:
    status = np.asarray(table.column("status").to_pylist(), dtype=object)
    report.failed = len({r for r, s in zip(table.column("video_row").to_pylist(), status) if s == STATUS_FAILED})
    ok = table.filter(pa.array(status == STATUS_OK))
    shards = np.asarray(ok.column("shard").to_pylist(), dtype=object)
    for name in sorted(set(shards)):
        pick = ok.filter(pa.array(shards == name))
        video_rows, first = np.unique(pick.column("video_row").to_numpy(), return_index=True)
        rows = pick.column("row").to_numpy()[first]
        sha = pick.column("shard_sha256")[0].as_py()
        _check_shard(layout, name, sha, rows, video_rows, report)


STALE_SHOWN = 3  # changed videos a message names


@dataclass(kw_only=True)
class StaleVideos:
    """What ``stale_videos`` found: the ``changed`` videos ``(video_id, path)``, how many were checked and how
    many could not be reached."""

    cache_dir: Path
    changed: list[tuple[str, str]] = field(default_factory=list)
    checked: int = 0
    unreachable: int = 0

    def describe(self) -> str | None:
        """One line naming the changed videos and the repair, or ``None`` when none changed."""
        if not self.changed:
            return None
        shown = ", ".join(f"{vid} ({path})" for vid, path in self.changed[:STALE_SHOWN])
        more = f" and {len(self.changed) - STALE_SHOWN} more" if len(self.changed) > STALE_SHOWN else ""
        return (f"{len(self.changed)} video(s) changed since {self.cache_dir} was extracted (size or modification "
                f"time differs): {shown}{more}; their features are stale: run `zsar extract` with the same settings "
                "to extract them again")


def stale_videos(path: Path | str) -> StaleVideos:
    """Compare each video whose features the cache at ``path`` holds with the file now (see the module doc)."""
    layout = open_layout(path)
    config = read_cache_config(layout)
    table = read_manifest(layout)
    root = Path(config.root) if config.root else None
    reachable_root = root is not None and root.exists()
    found = StaleVideos(cache_dir=layout.root)
    names = ("video_id", "path", "status", "note", "fingerprint", "mtime_ns")
    for video_id, stored, status, note, fingerprint, mtime_ns in zip(*(table.column(c).to_pylist() for c in names)):
        if status != STATUS_OK or is_partly_decoded(status, note) or not fingerprint:
            continue  # not used for training, or a row from before fingerprints (no size recorded)
        file = Path(stored)
        if not file.is_absolute():
            if not reachable_root:
                found.unreachable += 1
                continue
            file = root / file
        try:
            now = os.stat(file)
        except OSError:
            found.unreachable += 1
            continue
        found.checked += 1
        if str(now.st_size) != fingerprint.split("-", 1)[0] or now.st_mtime_ns != mtime_ns:
            found.changed.append((video_id, str(file)))
    return found
