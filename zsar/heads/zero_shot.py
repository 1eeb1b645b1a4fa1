"""Zero-shot evaluation of one split: the plan's test videos scored by the classifier, and its accuracy.

``score_plan`` turns a ``SplitPlan`` into the classifier's arguments (``SplitPlan.seen_classes``,
``SplitPlan.test_groups``) and calls ``zsar.heads.classifier.classify`` once per class group:
a plan with class ``groups`` (``base-to-novel``) scores each group's videos among that group's
candidates alone, so a probability ensemble or a re-ranker sees only them; the other
candidates get the lowest float32 score in the stored ``(N, Ct)`` matrix.

Accuracy (``zsar.metrics.accuracy``) is the fraction of test videos, in percent; a protocol
adds its own measures (``Protocol.measures``: GZSL's seen / unseen / harmonic top-1,
base-to-novel's base / novel / HM), whose values go into each split's record and whose
summaries (e.g. the HM of the mean base and novel top-1) into the run's mean.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
import torch

from zsar.heads.base import Head
from zsar.heads.classifier import class_views, classify
from zsar.heads.plans import SplitPlan
from zsar.heads.transfer import TransferConfig
from zsar.metrics.accuracy import accuracy
from zsar.metrics.measures import MEASURES, MetricsConfig, SplitMetrics, summarise
from zsar.runs.results import SplitResult

OUT_OF_GROUP = np.finfo(np.float32).min
BASE_KEYS = ("top1", "top5")


@torch.no_grad()
def score_plan(head: Head, plan: SplitPlan, test_embeddings: np.ndarray, train_embeddings: np.ndarray,
               train_targets: np.ndarray, transfer: TransferConfig, rerank_method: str,
               device: torch.device) -> tuple[np.ndarray, np.ndarray]:
    """``(prototypes (Ct, E), scores (N, Ct))`` of the plan's test videos among its test classes.

    ``train_embeddings`` / ``train_targets`` (positions in ``plan.train.classes``) give the
    seen visual means for semantic transfer (ignored without it).
    """
    seen = plan.seen_classes(train_embeddings, train_targets) if transfer.mode == "semantic" else None
    if plan.groups is None:  # one group: every test video among every candidate
        return classify(head, test_embeddings, plan.test.text, features=plan.test.cache.features, rows=plan.test.rows,
                        transfer=transfer, seen=seen, rerank_method=rerank_method, device=device)
    groups = plan.test_groups()
    n_classes = len(plan.test.classes)
    scores = np.full((len(test_embeddings), n_classes), OUT_OF_GROUP, dtype=np.float32)
    prototypes: np.ndarray | None = None
    for videos, classes in groups:
        text = plan.test.text.subset([plan.test.text.class_names[c] for c in classes])
        group_seen = None if seen is None else replace(seen, of_candidates=seen.of_candidates[classes])
        if len(videos):
            group_prototypes, group_scores = classify(
                head, test_embeddings[videos], text, features=plan.test.cache.features, rows=plan.test.rows[videos],
                transfer=transfer, seen=group_seen, rerank_method=rerank_method, device=device)
            scores[np.ix_(videos, classes)] = group_scores
        else:  # a group with no test video still has prototypes
            group_prototypes = head.prototypes(class_views(head, text, transfer, group_seen, device)).float().cpu().numpy()
        if prototypes is None:
            prototypes = np.zeros((n_classes, group_prototypes.shape[1]), dtype=np.float32)
        prototypes[classes] = group_prototypes
    assert prototypes is not None
    return prototypes, scores


def split_metrics(result: SplitResult, measures: tuple[str, ...] = ()) -> tuple[dict[str, Any], list[str]]:
    """Top-1/top-5 (percent) of one split with the values of ``measures`` (the protocol's), and their notes.

    The values are a ``SplitRecord``'s fields: ``accuracies`` holds the measures' values.
    """
    measured = accuracy(result.scores, result.label_positions())
    out = SplitMetrics(split=result.split, class_names=[])
    accuracies: dict[str, Any] = {}
    for name in measures:
        accuracies.update(MEASURES.create(name).split(result, MetricsConfig(measures=()), out))
    return {"split": result.split, "top1": measured.top1, "top5": measured.top5, "n_test": int(len(result.test_labels)),
            "n_classes": int(len(result.test_classes)), "accuracies": accuracies}, out.notes


def summarise_splits(per_split: list[dict[str, Any]],
                     measures: tuple[str, ...] = ()) -> tuple[dict[str, float], dict[str, float]]:
    """Mean and (population) standard deviation over splits of top-1, top-5 and each measure's values."""
    flat = [{**{k: m[k] for k in ("split", *BASE_KEYS)}, **m.get("accuracies", {})} for m in per_split]
    return summarise(flat, measures, BASE_KEYS)
