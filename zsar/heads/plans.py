"""What a protocol hands the trainer: a ``SplitPlan`` per split, with a training and a test ``Side``.

Four index spaces meet in a split: rows of a cache, a cache's class ids, the plan's
``class_names`` and positions among a side's classes (training targets, score columns).
A ``Side`` owns its rows, their class ids in the plan and the classes involved with their
text; ``side_of`` is the one place where a cache's class ids become a plan's, and
``Side.targets`` the one place where class ids become positions (``zsar.vectors.positions``).
Every field is passed by name, so two swapped arguments are an error, not mislabelled videos.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from zsar.cache.features import FeatureSet
from zsar.cache.text import TextEmbeddings
from zsar.heads.classifier import SeenClasses
from zsar.vectors import positions


@dataclass(frozen=True, kw_only=True)
class Side:
    """One side of a split: its videos (``rows`` of ``cache``), their classes and the classes involved.

    ``labels`` ``(n,)`` and ``classes`` ``(k,)`` index the plan's ``class_names``; ``text``
    holds the label text of ``classes`` in that order. On the training side ``classes`` are
    the seen classes, on the test side the candidates.
    """

    cache: FeatureSet
    rows: np.ndarray
    labels: np.ndarray
    classes: np.ndarray
    text: TextEmbeddings

    @cached_property
    def targets(self) -> np.ndarray:
        """``(n,)`` each video's class as a position in ``classes`` (training targets, score columns)."""
        return positions(self.labels, self.classes)

    def part(self, videos: np.ndarray, classes: np.ndarray) -> "Side":
        """The videos ``videos`` (positions or a mask over ``rows``) among ``classes`` (positions in ``classes``)."""
        return Side(cache=self.cache, rows=self.rows[videos], labels=self.labels[videos],
                    classes=self.classes[classes], text=self.text.subset([self.text.class_names[i] for i in classes]))


def side_of(features: FeatureSet, rows: np.ndarray, classes: np.ndarray, text: TextEmbeddings, offset: int = 0) -> Side:
    """The videos ``rows`` of ``features`` among its ``classes``, with ``text`` (of all its classes) cut to them.

    Class ids move by ``offset`` into the plan's ``class_names`` (cross plans list the source classes first):
    the one place where a cache's class ids become a plan's.
    """
    return Side(cache=features, rows=rows, labels=offset + features.labels[rows], classes=offset + classes,
                text=text.subset([features.class_names[c] for c in classes]))


@dataclass(frozen=True, kw_only=True)
class SplitPlan:
    """One split: the videos to train on and to test, and the classes involved.

    ``class_names`` are every class of the split; ``seen`` ``(C,)`` marks the training
    classes; ``train`` and ``test`` are the two ``Side``s (the test side of the target).
    Splits with the same ``model_key`` can share one trained head. ``groups`` ``(C,)``
    (None: one group): a test video is scored only among the candidates of its own class's
    group, as if they were the only classes (``base-to-novel``: base videos among the base
    classes, novel among the novel); ``train_seed``: the training seed of this split (None:
    the run's ``--seed``).

    The adapter to the classifier (``zsar.heads.classifier``): ``seen_classes`` and ``test_groups``.
    """

    split: int
    class_names: list[str]
    seen: np.ndarray
    train: Side
    test: Side
    model_key: str
    groups: np.ndarray | None = None
    train_seed: int | None = None

    def seen_classes(self, embeddings: np.ndarray, targets: np.ndarray) -> SeenClasses:
        """The classifier's ``SeenClasses``: training embeddings ``(M, E)`` with ``targets`` (positions in
        ``train.classes``), and where each test candidate sits among the training classes (-1: not seen)."""
        return SeenClasses(embeddings=embeddings, targets=targets, text=self.train.text,
                           of_candidates=positions(self.test.classes, self.train.classes))

    def test_groups(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(videos, classes)`` positions in ``test.rows`` and ``test.classes``, one pair per class group.

        Each group's videos are scored among that group's candidates alone; without ``groups``
        there is one group, every test video among every candidate.
        """
        if self.groups is None:
            return [(np.arange(len(self.test.rows)), np.arange(len(self.test.classes)))]
        video_group, class_group = self.groups[self.test.labels], self.groups[self.test.classes]
        return [(np.flatnonzero(video_group == g), np.flatnonzero(class_group == g)) for g in np.unique(class_group)]


def group_by_model(plans: list[SplitPlan]) -> list[list[SplitPlan]]:
    """The plans in groups that share one trained head (same ``model_key``), in the order they come."""
    groups: dict[str, list[SplitPlan]] = {}
    for plan in plans:
        groups.setdefault(plan.model_key, []).append(plan)
    return list(groups.values())
