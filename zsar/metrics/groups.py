"""Accuracy on two groups of a split's test videos: the measures that protocols with seen candidates add.

- ``seen-unseen`` (GZSL): top-1 on the held-out videos of seen classes, on the videos of
  unseen classes, and their harmonic mean, per split; the run reports the mean of each over
  the splits.
- ``base-novel`` (base-to-novel, as ViFi-CLIP and FROSTER report it): base top-1, novel
  top-1 and their harmonic mean (HM) per seed; the run's HM is the HM of the *mean* base
  and the *mean* novel top-1 (every published table computes it so), not the mean of the
  per-seed HMs, which the per-split records keep.

A group with no test video has no top-1: the value is ``null`` in ``metrics.json`` and a
note says which split and why, instead of a silent 0 (and a harmonic mean of 0).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from zsar.metrics.accuracy import accuracy, harmonic_mean
from zsar.metrics.measures import MEASURES, SplitMetrics, Measure, MetricsConfig, cell, group_accuracy, markdown_table

if TYPE_CHECKING:
    from zsar.runs.results import SplitResult


class GroupMeasure(Measure):
    """Top-1 on the test videos of seen and of unseen classes, and their harmonic mean: ``keys`` in that order.

    ``words`` name the two groups in notes, ``titles`` the report's columns, ``heading`` its section.
    """

    flag = False  # a protocol adds it (``Protocol.measures``); zsar metrics finds it in the run's metrics.json
    words: ClassVar[tuple[str, str]] = ("seen", "unseen")
    titles: ClassVar[dict[str, str]] = {}
    heading: ClassVar[str] = ""

    def split(self, result: "SplitResult", config: MetricsConfig, out: SplitMetrics) -> dict[str, Any]:
        correct = accuracy(result.scores, result.label_positions()).correct
        measured = group_accuracy(result, correct, self.words)
        out.notes.extend(note for note in measured.notes if note not in out.notes)
        return dict(zip(self.keys, (measured.first, measured.second, measured.harmonic)))

    def report(self, summary: dict[str, Any]) -> str | None:
        if not any(key in s for s in [summary, *summary.get("per_split", [])] for key in self.keys):
            return None
        std = summary.get("std", {})
        rows = [["mean ± std"] + [cell(summary.get(key), std.get(key)) for key in self.keys]]
        rows += [[f"split {s['split']}"] + [cell(s.get(key)) for key in self.keys] for s in summary.get("per_split", [])]
        return f"## {self.heading}\n\n" + markdown_table(["", *(self.titles[key] for key in self.keys)], rows)


@MEASURES.register("seen-unseen", help="GZSL: top-1 on seen and on unseen test videos, and their harmonic mean")
class SeenUnseen(GroupMeasure):
    keys = ("seen_top1", "unseen_top1", "harmonic")
    titles = {"seen_top1": "seen top-1 %", "unseen_top1": "unseen top-1 %", "harmonic": "harmonic mean %"}
    columns = {"H %": "harmonic"}
    heading = "Seen and unseen test videos (GZSL)"
    definition = ("Seen / unseen top-1: the accuracy on the held-out videos of seen classes and on the videos of "
                  "unseen classes, all ranked among every class; the harmonic mean is 2su / (s + u) per split.")


@MEASURES.register("base-novel", help="base-to-novel: base and novel top-1, HM of their means over seeds")
class BaseNovel(GroupMeasure):
    keys = ("base_top1", "novel_top1", "hm")
    words = ("base", "novel")
    titles = {"base_top1": "base top-1 %", "novel_top1": "novel top-1 %", "hm": "HM %"}
    columns = {"HM %": "hm"}
    heading = "Base and novel classes"
    definition = ("Base / novel top-1: base videos ranked among the base classes only, novel videos among the "
                  "novel classes only. HM is the harmonic mean of the mean base and the mean novel top-1 over the "
                  "seeds (as the published tables compute it); each seed's own HM is in its row.")

    def summary(self, per_split: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
        mean, std = super().summary(per_split)
        if "base_top1" in mean and "novel_top1" in mean:
            mean["hm"] = harmonic_mean(mean["base_top1"], mean["novel_top1"])
        return mean, std
