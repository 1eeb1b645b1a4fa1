"""One writer per cache rank (``RankLock``: ``locks/rank-<rank>.lock``); a run directory's lock is ``zsar.runs.lock``.

The lock is taken without waiting; if another process holds it, ``RankLock`` raises a
``ZsarError`` naming the cache, the rank and the holder's pid (written into the lock
file). ``wait=True`` waits for the holder instead (saying so in the log): a cache without
a fixed video list (``zsar.extract.per_file``) is extended by one call after another, and a
call that finds another at work waits and then extracts only what that one did not. The
kernel releases the lock when its process dies, even by ``kill -9``, so a lock file left
behind by a killed run never blocks the next one.

It is a POSIX record lock (``lockf``), not ``flock``: an ``flock`` belongs to the open
file and is shared with every child forked after it was taken, so DataLoader workers
orphaned by a killed extractor would keep holding it for a while; a record lock belongs
to the process alone. Record locks do not exclude each other within one process, so a
per-process set refuses a second lock there too.
"""

from __future__ import annotations

import fcntl
import logging
import os
from pathlib import Path

from zsar.cache.layout import CacheLayout
from zsar.errors import ZsarError

log = logging.getLogger(__name__)
_HELD: set[Path] = set()  # lock files this process holds (record locks do not conflict in-process)


class RankLock:
    """Context manager holding the exclusive writer lock of ``rank`` in the cache at ``layout``."""

    def __init__(self, layout: CacheLayout, rank: int, wait: bool = False) -> None:
        self.layout = layout
        self.rank = rank
        self.wait = wait
        self.path: Path = layout.lock_path(rank)
        self._fd: int | None = None

    def acquire(self) -> "RankLock":
        key = self.path.resolve()
        if key in _HELD:
            self._refuse(str(os.getpid()))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise ZsarError(
                f"cannot open the lock file {self.path} ({err.strerror}): the cache is read-only here; it can "
                "be read as it is (`zsar train-head`, `zsar metrics`), or make it writable to extend it") from None
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # EAGAIN / EACCES: another process holds it
            holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "unknown"
            if not self.wait:
                os.close(fd)
                self._refuse(holder)
            log.info("cache %s is being extended by another zsar (pid %s); waiting for it", self.layout.root, holder)
            fcntl.lockf(fd, fcntl.LOCK_EX)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        _HELD.add(key)
        return self

    def _refuse(self, holder: str) -> None:
        raise ZsarError(
            f"cache {self.layout.root} rank {self.rank} is being written by another `zsar extract` "
            f"(pid {holder}); wait for it to finish (or stop it) and run again to resume")

    def release(self) -> None:
        if self._fd is not None:
            os.ftruncate(self._fd, 0)
            fcntl.lockf(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
            _HELD.discard(self.path.resolve())

    def __enter__(self) -> "RankLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` is running on this machine (the writer of a temporary file, say)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
