"""Progress for long work: a bar on stderr when it is a terminal, else one log line per finished step.

A bar redrawn in place means nothing in a log file, so ``progress`` turns itself off when
stderr is not a terminal (CI, pipes, ``> log 2>&1``); ``step_done`` then logs one line
(logger ``zsar.progress``, INFO) for each finished chunk of work, so a long run written to
a file still shows that it moves.
"""

from __future__ import annotations

import logging
from typing import Iterable, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")
log = logging.getLogger(__name__)


def progress(iterable: Iterable[T] | None = None, *, desc: str, total: int | None = None,
             unit: str = "it", leave: bool = True) -> tqdm:
    """A tqdm bar on stderr that turns itself off when stderr is not a TTY (CI, pipes, tests)."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=None,
                dynamic_ncols=True)


def step_done(bar: tqdm, message: str) -> None:
    """Log ``message`` as one line when ``bar`` is off (stderr is not a terminal); the bar shows it otherwise."""
    if bar.disable:
        log.info("%s", message)
