"""Adding a measure from your own module: one registered class.

``median-rank`` is the median rank of each test video's true class among the candidates
(1: it was the top-1). The class says everything zsar needs: its flag (``zsar metrics
--median-rank``; ``default``: measured also when no flag is given, and so in every sweep),
its JSON key, its section of ``report.md`` and its column of the sweep table::

    ZSAR_PLUGINS=zsar_measure_example zsar metrics runs/rest --median-rank --plots

(``tests/test_plugins.py`` runs it.)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from zsar.metrics.measures import MEASURES, Measure, cell, markdown_table


@MEASURES.register("median-rank", help="Median rank of the true class among the candidates (example plugin).")
class MedianRank(Measure):
    keys = ("median_rank",)
    default = True
    columns = {"median rank": "median_rank"}
    definition = "Median rank: the median over test videos of the true class's rank by score (1: the top-1)."

    def split(self, result, config, out) -> dict[str, Any]:
        scores = np.asarray(result.scores)
        labels = result.label_positions()
        true = scores[np.arange(len(labels)), labels]
        ranks = 1 + (scores > true[:, None]).sum(axis=1)
        return {"median_rank": float(np.median(ranks))}

    def report(self, summary: dict[str, Any]) -> str | None:
        if "median_rank" not in summary:
            return None
        spread = summary.get("std", {}).get("median_rank")
        return "## Median rank\n\n" + markdown_table(["", "median rank"],
                                                     [["mean ± std", cell(summary["median_rank"], spread)]])
