"""The protocols CLIP-era papers report (ActionCLIP, X-CLIP, ViFi-CLIP, Open-VCLIP, FROSTER), on shipped lists.

- ``k600-novel`` (ER-ZSAR's protocol): train on a Kinetics-400 source cache
  (``--source-features``), test a Kinetics-600 cache on split i (i = 1..3): the videos of
  the 160 classes ER-ZSAR lists for it (``class_lists.k600_novel_split``), ranked among
  those 160. The lists are used as they are, never rebuilt as "K600 minus K400": 11 K600
  classes are renamed K400 classes ("dyeing hair", "inflating balloons", ...), seen
  classes that no split tests. The source is all 400 K400 classes by default (``tau`` 0), as
  ER-ZSAR, X-CLIP, ViFi-CLIP, Open-VCLIP and FROSTER train; with ``--tau`` above 0 it is
  filtered against the 220 novel classes (the ones any split may test), not against all
  600, and a note says so. All splits share one trained model.
- ``base-to-novel`` (ViFi-CLIP's protocol; FROSTER reuses it): one cache (K400, HMDB51,
  UCF101 or SSv2; ``class_lists`` names the lists when the cache's dataset name does not),
  its classes split into ViFi-CLIP's base and novel halves. Seed s (1..3) trains a fresh
  head on the base classes' ``train`` videos of official split 1: ViFi-CLIP's 16-shot list
  of seed s (``base_train`` ``16-shot``, the default), every head with the lists' fixed
  training seed ``train_seed`` (1024, as ViFi-CLIP and FROSTER: only the list changes per
  seed); or all of them (``base_train`` ``all``, not the paper's protocol; the training seed
  is then ``train_seed + s - 1``, the only thing that changes per seed). It tests split 1's
  ``val`` videos (``test`` where the cache has no ``val``, as UCF101 and HMDB51): base
  videos scored among the base classes alone, novel videos among the novel classes alone
  (``SplitPlan.groups``), so a probability ensemble or a re-ranker is exact. Each seed
  reports base top-1, novel top-1 and their harmonic mean (the ``base-novel`` measure); the
  run reports the mean base and novel top-1 and the HM of those means.

A listed class the cache lacks is one error that names it (``class_lists.match_classes``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Iterator

import numpy as np

from zsar.cache.features import FeatureSet
from zsar.errors import ZsarError, check_choice
from zsar.heads.class_lists import (b2n_lists_for, base_novel, class_key, few_shot_videos, k600_novel_classes,
                                    k600_novel_split, match_classes, video_stem)
from zsar.heads.protocol_options import SourceOptions
from zsar.heads.protocols import ProtocolData, SplitPlan, cross_plan, register, source_side, within_plan

K600_NOVEL, BASE_TO_NOVEL = "k600-novel", "base-to-novel"
B2N_SPLIT = "split1"  # ViFi-CLIP's base-to-novel trains and tests on official split 1
BASE_TRAIN = ("16-shot", "all")  # base-to-novel's training videos: ViFi-CLIP's 16 shots, or every base-class one
LISTS_SEED = 1024  # the training seed of ViFi-CLIP's and FROSTER's base-to-novel configs


@dataclass(frozen=True)
class K600NovelOptions(SourceOptions):
    """``k600-novel``'s options: ``tau`` 0 by default, as every paper that reports it trains on all of K400."""

    def filter_note(self, data: ProtocolData) -> str | None:
        if self.tau == 0:
            return None
        return (f"k600-novel: the overlap filter (--tau {self.tau:g}) filtered the Kinetics-400 source against "
                f"the {len(data.filter_classes or [])} novel Kinetics-600 classes of --features; ER-ZSAR, X-CLIP, "
                "ViFi-CLIP, Open-VCLIP and FROSTER train on all 400 classes (--tau 0, the default)")


@dataclass(frozen=True)
class BaseToNovelOptions:
    """``base-to-novel``'s options: ``base_train`` (``16-shot``: ViFi-CLIP's lists, the paper's; ``all``: every
    base-class training video, not the paper's), ``class_lists`` (its lists; None: the cache's dataset) and
    ``train_seed`` (the lists' fixed training seed)."""

    base_train: str = "16-shot"
    class_lists: str | None = None
    train_seed: int = LISTS_SEED

    def __post_init__(self) -> None:
        check_choice("--base-train", self.base_train, BASE_TRAIN)


def novel_classes_in(target: FeatureSet) -> list[str]:
    """The target's classes among ER-ZSAR's 220 novel K600 classes: what ``k600-novel`` filters the source against."""
    novel = {class_key(name) for name in k600_novel_classes()}
    return [name for name in target.class_names if class_key(name) in novel]


@register(K600_NOVEL, 3, 3, True, "train on a K400 --source-features, test a K600 cache on ER-ZSAR's split i "
          "(160 novel classes)", options=K600NovelOptions, filter_classes=novel_classes_in)
def k600_novel(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
    side = source_side(data)
    where = f"--features {data.target.cache_dir}"
    for split in range(1, n_splits + 1):
        classes = np.sort(match_classes(k600_novel_split(split), data.target.class_names,
                                        f"k600-novel split {split}", where))
        rows = np.flatnonzero(np.isin(data.target.labels, classes))
        yield cross_plan(data, side, split, rows, classes)


def _split_column(target: FeatureSet) -> np.ndarray:
    column = target.splits.get(B2N_SPLIT)
    if column is None or not (column == "train").any():
        raise ZsarError(f"base-to-novel trains on the {B2N_SPLIT} train videos, and --features {target.cache_dir} "
                        f"has none; extract the dataset with its official splits (--splits)")
    return np.asarray(column)


def _few_shot_rows(data: ProtocolData, lists: str, seed: int, base: np.ndarray) -> np.ndarray:
    """Rows of ViFi-CLIP's 16-shot videos of ``seed`` (by file stem) among the base classes' videos."""
    wanted = set(few_shot_videos(lists, seed))
    stems = np.array([video_stem(v) in wanted for v in data.target.video_ids])
    rows = np.flatnonzero(stems & base[data.target.labels])
    if len(rows) < len(wanted):
        data.note(f"base-to-novel seed {seed}: {len(wanted) - len(rows)} of ViFi-CLIP's {len(wanted)} 16-shot "
                  f"{lists} videos are not in {data.target.cache_dir}; trained on the {len(rows)} it has")
    return rows


@register(BASE_TO_NOVEL, 3, 3, False, "ViFi-CLIP's base/novel halves: train on base, report base, novel and "
          "HM per seed", options=BaseToNovelOptions, measures=("base-novel",))
def base_to_novel(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
    target, options = data.target, data.options
    lists = b2n_lists_for(options.class_lists or target.config.dataset)
    where = f"--features {target.cache_dir}"
    base_names, novel_names = base_novel(lists)
    base = match_classes(base_names, target.class_names, f"base-to-novel {lists} base list", where)
    novel = match_classes(novel_names, target.class_names, f"base-to-novel {lists} novel list", where)
    seen = np.zeros(len(target.class_names), dtype=bool)
    seen[base] = True
    candidates = np.sort(np.r_[base, novel])
    column = _split_column(target)
    evaluated = "val" if (column == "val").any() else "test"
    test_rows = np.flatnonzero((column == evaluated) & np.isin(target.labels, candidates))
    all_base = np.flatnonzero((column == "train") & seen[target.labels])
    for seed in range(1, n_splits + 1):
        if options.base_train == "all":
            train, train_seed = all_base, options.train_seed + seed - 1
        else:
            train, train_seed = _few_shot_rows(data, lists, seed, seen), options.train_seed
        plan = within_plan(data, seed, train, test_rows, seen, candidates)
        yield replace(plan, groups=seen.astype(np.int64), train_seed=train_seed)
