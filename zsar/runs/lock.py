"""One ``zsar train-head`` at a time per run directory (``RunLock``).

An ``flock`` on the run folder itself, taken without waiting; the kernel releases it when
its process dies, even by ``kill -9``. The cache's writer locks are ``zsar.cache.lock``.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from zsar.errors import ZsarError
from zsar.files import write_error


class RunLock:
    """Context manager holding the exclusive lock of the run directory ``run`` (created if needed).

    An ``flock`` on the directory itself, so the lock leaves no file in a folder that may
    turn out not to be a run; ``zsar train-head`` runs no worker processes that could
    inherit it. A second holder, in this process or another, is refused at once.
    """

    def __init__(self, run: Path) -> None:
        self.run = Path(run)
        self._fd: int | None = None

    def acquire(self) -> "RunLock":
        if self.run.exists() and not self.run.is_dir():
            raise ZsarError(f"--out {self.run} is a file, not a folder; choose a new folder for the run")
        try:
            self.run.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.run, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError as err:  # a read-only folder, a file on the way
            raise write_error(self.run, err, "choose a writable --out") from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise ZsarError(f"--out {self.run} is being written by another `zsar train-head`; wait for it to "
                            "finish (or stop it) and run again to reuse its finished splits, or choose another "
                            "--out") from None
        self._fd = fd
        return self

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "RunLock":
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()
