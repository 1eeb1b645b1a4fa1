"""The ``hubness`` measure (``zsar metrics --hubness``): ``N_k`` statistics of a run's splits or of a raw cache.

Two settings, each a JSON object keyed by k:

- ``hubness``: videos against the test-class prototypes. On a run, ``N_k(c)`` counts the
  videos whose k best *final scores* include class c -- the scores the predictions were
  taken from, after any re-ranking -- so ``N_1(c)`` is exactly how many videos were
  predicted as c and a re-ranker's effect on hubness is visible. On a raw cache, the exact
  cosine k-NN of the videos among the class text prototypes (when they share a space);
- ``hubness_videos``: test videos against test videos by exact FAISS cosine k-NN, self excluded.

A k that is not below the number of candidates of a setting is left out with a note
(``N_k`` would be constant). The arrays (``zsar.metrics.hubness``) are plain NumPy.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from zsar.metrics.measures import MEASURES, SplitMetrics, Measure, MetricsConfig, cell, markdown_table

if TYPE_CHECKING:
    from zsar.runs.results import SplitResult

log = logging.getLogger(__name__)
PROTOTYPES, VIDEOS = "hubness", "hubness_videos"
SETTING_TITLES = {PROTOTYPES: "videos -> class prototypes", VIDEOS: "videos -> videos (self excluded)"}
HUBNESS_COLUMNS = {"skewness": "skewness", "robinhood": "Robin Hood", "hub_occurrence": "hub occ. (N_k>=2k)",
                   "hub_occurrence_relative": "hub occ. (>=2 mean)", "antihub_rate": "anti-hub rate",
                   "max_hub_share": "max hub share"}
HUBNESS_NOTE = (
    "`N_k` of a target counts the videos that have it among their k nearest. Against class "
    "prototypes the k nearest are the k best *final* scores (after any re-ranking), so `N_1` is "
    "the number of videos predicted as each class; videos against videos use exact cosine k-NN "
    "(FAISS `IndexFlatIP`), self excluded. Skewness 0 means no hubness; hub occurrence is the share of "
    "k-NN slots taken by hubs, targets with `N_k >= 2k` (scikit-hubness; against a few class "
    "prototypes nearly every class passes it), and, in the relative column, with `N_k` at least "
    "twice the mean."
)


def usable_k(ks: tuple[int, ...], candidates: int, what: str, notes: list[str]) -> list[int]:
    """The k values below ``candidates``; the others are noted (``zsar.metrics.measure`` logs each note once per run),
    not silently dropped."""
    usable = sorted(k for k in set(ks) if k < candidates)
    for k in sorted(set(ks) - set(usable)):
        notes.append(f"hubness k={k} against {what} skipped: there are only {candidates}, N_k would be constant")
    return usable


@MEASURES.register("hubness", help="k-occurrence skewness, Robin Hood index, hubs, anti-hubs.")
class Hubness(Measure):
    keys = (PROTOTYPES, VIDEOS)
    default = True
    uses_prototypes = True
    columns = {"N_1 skewness": f"{PROTOTYPES}.1.skewness"}
    details = {"N_5 skewness": f"{PROTOTYPES}.5.skewness"}
    definition = HUBNESS_NOTE

    def split(self, result: "SplitResult", config: MetricsConfig, out: SplitMetrics) -> dict[str, Any]:
        from zsar.metrics.hubness import score_occurrence

        ks = usable_k(config.k, len(result.test_classes), "class prototypes", out.notes)
        if ks:
            out.occurrence[PROTOTYPES] = score_occurrence(result.scores, ks, config.batch_size)
        self._videos(result.test_embeddings, config, out)
        return self._json(out)

    def features(self, videos: np.ndarray, labels: np.ndarray, prototypes: np.ndarray | None,
                 config: MetricsConfig, out: SplitMetrics) -> dict[str, Any]:
        from zsar.metrics.hubness import k_occurrence

        ks = [] if prototypes is None else usable_k(config.k, len(prototypes), "class prototypes", out.notes)
        if ks:
            out.occurrence[PROTOTYPES] = k_occurrence(videos, prototypes, ks, batch_size=config.batch_size)
        self._videos(videos, config, out)
        return self._json(out)

    @staticmethod
    def _videos(videos: np.ndarray, config: MetricsConfig, out: SplitMetrics) -> None:
        from zsar.metrics.hubness import k_occurrence

        ks = usable_k(config.k, len(videos) - 1, "other test videos", out.notes)
        if ks:
            out.occurrence[VIDEOS] = k_occurrence(videos, videos, ks, exclude_self=True, batch_size=config.batch_size)

    @staticmethod
    def _json(out: SplitMetrics) -> dict[str, Any]:
        from zsar.metrics.hubness import hubness_stats

        return {setting: {str(k): hubness_stats(n_k, k).to_json() for k, n_k in by_k.items()}
                for setting, by_k in out.occurrence.items()}

    def report(self, summary: dict[str, Any]) -> str | None:
        if PROTOTYPES not in summary and VIDEOS not in summary:
            return None
        std = summary.get("std", {})
        rows = []
        for setting in (PROTOTYPES, VIDEOS):
            for k, stats in summary.get(setting, {}).items():
                spread = std.get(setting, {}).get(k, {})
                rows.append([SETTING_TITLES[setting], k] + [cell(stats[key], spread.get(key))
                                                            for key in HUBNESS_COLUMNS])
        return "## Hubness\n\n" + markdown_table(["targets", "k", *HUBNESS_COLUMNS.values()], rows)
