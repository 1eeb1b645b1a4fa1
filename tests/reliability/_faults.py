"""Shared by the integrity tests (issue 11): one-line error checks, tiny caches, damage helpers."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
from typer.testing import CliRunner, Result

from _extract_data import TINY
from zsar.cache.from_arrays import write_cache_from_arrays
from zsar.cli import app
from zsar.testing import random_text

runner = CliRunner()
FAST_HEAD = ["--head", "linear", "--epochs", "1", "--batch-size", "8"]


def invoke(*args: str, **kwargs) -> Result:
    """``zsar -q ARGS`` in this process (warnings and errors only)."""
    return runner.invoke(app, ["-q", *map(str, args)], **kwargs)


def error_line(result: Result) -> str:
    """The one ``error:`` line of a command that failed as a user error (exit 2), with no traceback."""
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, result.output
    return errors[0]


def process_error_line(result: subprocess.CompletedProcess) -> str:
    """The same for a ``zsar`` subprocess: exit 2, no traceback, the last stderr line is the error."""
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("error: "), result.stderr
    return line


def extract_args(root: Path, cache: Path, *extra: str) -> list[str]:
    return ["extract", "--dataset", "hmdb51", "--root", str(root), *TINY, "--cache", str(cache),
            "--workers", "0", "--threads", "1", "--videos-per-shard", "2", *extra]


def train_args(features: Path, out: Path, *extra: str, protocol: str = "within-half", splits: int = 2) -> list[str]:
    return ["train-head", "--features", str(features), "--protocol", protocol, "--out", str(out),
            "--splits", str(splits), *FAST_HEAD, *extra]


def trained_run(features: Path, out: Path) -> Path:
    """A finished ``train_args`` run of ``features`` in ``out`` (the fixture of the run-file tests)."""
    result = invoke(*train_args(features, out))
    assert result.exit_code == 0, result.output
    return out


def copy_cache_root(source_root: Path, to: Path) -> Path:
    """A copy of a cache root (``features/<dataset>/<cache>``); returns the copied cache folder."""
    shutil.copytree(source_root, to)
    return next(to.glob("features/*/*"))


def small_cache(folder: Path, class_names: list[str], per_class: int, class_texts: list[str] | None = None,
                seed: int = 0) -> Path:
    """A cache of ``per_class`` random videos (1 clip, 4 frames, D=16) per class, with label text."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(class_names)), per_class)
    centres = rng.normal(size=(len(class_names), 16))
    features = centres[labels][:, None, None, :] + 0.1 * rng.normal(size=(len(labels), 1, 4, 16))
    write_cache_from_arrays(folder, features.astype(np.float32), labels, class_names,
                            text=random_text(class_names, class_texts or class_names))
    return folder


def make_read_only(monkeypatch, folder: Path) -> None:
    """Make creating folders and opening files for writing under ``folder`` fail as a read-only folder does.

    The tests run as root, which ignores permission bits, so ``chmod`` cannot make a folder
    read-only: ``Path.mkdir`` and ``os.open`` raise ``PermissionError`` (EACCES) there instead.
    """
    folder = Path(os.path.abspath(folder))
    real_mkdir, real_open = Path.mkdir, os.open

    def inside(path) -> bool:
        return Path(os.path.abspath(path)).is_relative_to(folder)

    def mkdir(self, *args, **kwargs):
        if inside(self) and not self.exists():
            raise PermissionError(errno.EACCES, "Permission denied", str(self))
        return real_mkdir(self, *args, **kwargs)

    def open_(path, flags, *args, **kwargs):
        if inside(path) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(Path, "mkdir", mkdir)
    monkeypatch.setattr(os, "open", open_)
