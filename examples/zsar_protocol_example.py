"""Adding a protocol from your own module: one file with the protocol, its option and the measure it adds.

``held-out-fraction`` holds a seeded fraction of one dataset's classes out as unseen
(``--protocol-opt unseen_fraction=0.3``; default 0.25), trains on the others and tests on
the held-out ones. Each split also reports ``worst_class_top1``, the top-1 of its worst test
class: a measure the protocol names, so it lands in each split's record of ``metrics.json``,
in ``zsar metrics`` and ``report.md``, and as the ``worst class %`` column of a sweep::

    ZSAR_PLUGINS=zsar_protocol_example zsar train-head --features CACHE --head ridge \\
        --protocol held-out-fraction --protocol-opt unseen_fraction=0.3 --out runs/third

(``tests/test_plugins.py`` runs it, and ``zsar heads`` lists it with its option.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterator

import numpy as np

from zsar.errors import ZsarError
from zsar.heads.protocols import ProtocolData, SplitPlan, register, within_plan
from zsar.metrics.accuracy import accuracy
from zsar.metrics.measures import MEASURES, Measure, cell, markdown_table


@MEASURES.register("worst-class", help="top-1 of the worst test class of each split (example plugin)")
class WorstClass(Measure):
    keys = ("worst_class_top1",)
    flag = False  # added by the protocol below, not asked for with a flag
    columns = {"worst class %": "worst_class_top1"}
    definition = "Worst class: the lowest per-class top-1 among a split's test classes (example plugin)."

    def split(self, result, config, out) -> dict[str, Any]:
        per_class = accuracy(result.scores, result.label_positions()).per_class
        return {"worst_class_top1": float(np.nanmin(per_class))}

    def report(self, summary: dict[str, Any]) -> str | None:
        if "worst_class_top1" not in summary:
            return None
        spread = summary.get("std", {}).get("worst_class_top1")
        return "## Worst class\n\n" + markdown_table(["", "worst class top-1 %"],
                                                     [["mean ± std", cell(summary["worst_class_top1"], spread)]])


@dataclass(frozen=True)
class HeldOutOptions:
    """``unseen_fraction``: the share of the classes held out as unseen in each split."""

    unseen_fraction: float = 0.25

    def __post_init__(self) -> None:
        if not 0 < self.unseen_fraction < 1:
            raise ZsarError(f"--protocol-opt unseen_fraction={self.unseen_fraction}: a share, in (0, 1)")


@register("held-out-fraction", 5, None, False, "a seeded fraction of one dataset's classes unseen (example plugin)",
          options=HeldOutOptions, measures=("worst-class",))
def held_out_fraction(data: ProtocolData, n_splits: int) -> Iterator[SplitPlan]:
    labels, n_classes = data.target.labels, len(data.target.class_names)
    n_unseen = max(1, round(data.options.unseen_fraction * n_classes))
    for split in range(n_splits):
        unseen = np.sort(np.random.RandomState(split).permutation(n_classes)[:n_unseen])
        seen = np.ones(n_classes, dtype=bool)
        seen[unseen] = False
        yield within_plan(data, split, np.flatnonzero(seen[labels]), np.flatnonzero(~seen[labels]), seen, unseen)
