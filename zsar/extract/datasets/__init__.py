"""Datasets: a registry of adapters that turn a dataset on disk into classes and video records.

    dataset = create_dataset("hmdb51", DatasetConfig(root=Path("~/data/hmdb51")))
    dataset.class_names   # raw names in code-point order (E2E's): ["brush_hair", ...]
    dataset.class_texts   # natural text: ["brush hair", ...]
    dataset.records       # VideoRecord(video_id, path, label, splits, start, end), by class then id
    dataset.found         # one line: what was found where (and what was skipped)

Adapters never decode; they read annotation files and look at the disk. Registered:

- ``hmdb51``, ``ucf101``, ``synthetic``: class folders + official split lists (official.py);
- ``kinetics400``, ``kinetics600``, ``kinetics700``, ``activitynet``: YouTube datasets whose
  missing videos are skipped and counted (youtube.py);
- ``folder``, ``csv``: class folders with no splits, or a ``path,label[,split]`` list (custom.py).
- ``videos``: a user's own unlabelled videos, a folder or a list (unlabelled.py; what ``zsar predict`` reads).

Shared types and guarantees (ordering, path safety, errors) are in base.py; natural class
text in names.py; E2E's and AURL's per-dataset label words in label_recipes.py. To add a
dataset, write ``@DATASETS.register("name")`` on a function ``(DatasetConfig) -> VideoDataset``
that ends with ``make_dataset(...)``; ``DATASETS`` imports the built-in adapters' modules on first use.
"""

from __future__ import annotations

from zsar.extract.datasets.base import (DATASETS, DatasetConfig, VideoDataset, VideoRecord, check_root,
                                        make_dataset, path_inside, videos_in)
from zsar.extract.datasets.names import natural_text

__all__ = ["DATASETS", "DatasetConfig", "VideoDataset", "VideoRecord", "check_root", "create_dataset",
           "list_datasets", "make_dataset", "natural_text", "path_inside", "videos_in"]


def create_dataset(name: str, config: DatasetConfig) -> VideoDataset:
    """The dataset ``name`` read from ``config.root``; an unknown name lists the valid ones."""
    return DATASETS.get(name)(config)


def list_datasets() -> list[str]:
    """Registered dataset names, sorted."""
    return DATASETS.names()
