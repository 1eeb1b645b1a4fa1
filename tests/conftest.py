"""Fixtures shared by every test module: one torch thread, and structured caches written once per session.

``pyproject.toml`` puts ``tests/`` on the import path (``pythonpath``), so the shared data
modules (``_extract_data``, ``_heads_data``, ...) import by name from any test folder.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import pytest
import torch

from zsar.testing import StructuredConfig, write_structured_cache

# Tests download nothing: a Hugging Face model missing from the cache is the one-line error (the download
# path is tested with a fake snapshot_download, tests/test_weights.py).
os.environ["HF_HUB_OFFLINE"] = "1"


@pytest.fixture
def single_thread():
    """Tiny models run fastest on one thread, and a shared CI machine makes two threads spin (10x slower)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="session")
def structured_cache(tmp_path_factory) -> Callable[[StructuredConfig], Path]:
    """``structured_cache(config)``: the folder of a structured cache (``zsar.testing``), written once per config.

    Tests only read it (runs go to their own folders), so modules asking for one config share it.
    """
    made: dict[StructuredConfig, Path] = {}

    def make(config: StructuredConfig) -> Path:
        if config not in made:
            made[config] = write_structured_cache(tmp_path_factory.mktemp("structured") / "c", config).root
        return made[config]

    return make
