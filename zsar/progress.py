"""Progress bars for long work: on stderr, silent when stderr is not a terminal."""

from __future__ import annotations

from typing import Iterable, TypeVar

from tqdm.auto import tqdm

T = TypeVar("T")


def progress(iterable: Iterable[T] | None = None, *, desc: str, total: int | None = None,
             unit: str = "it", leave: bool = True) -> tqdm:
    """A tqdm bar on stderr that turns itself off when stderr is not a TTY (CI, pipes, tests)."""
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=None,
                dynamic_ncols=True)
