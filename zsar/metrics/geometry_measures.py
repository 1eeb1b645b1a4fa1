"""The ``closeness`` and ``dispersion`` measures (``zsar metrics --closeness / --dispersion``).

Both are of the test embeddings by true class (the unseen classes in zero-shot protocols)
and, under ``seen``, of the training embeddings of the seen classes when the run stored
them; on a raw cache, of the videos by class. The definitions are ``zsar.metrics.geometry``'s.
A set of one class has no dispersion: it is left out with a note.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from zsar.metrics.geometry import ClassGeometry, class_geometry
from zsar.metrics.measures import MEASURES, SplitMetrics, Measure, MetricsConfig, cell, markdown_table

if TYPE_CHECKING:
    from zsar.runs.results import SplitResult

log = logging.getLogger(__name__)
SEEN = "seen"
GEOMETRY_NOTE = (
    "Distances are Euclidean on the unit sphere (`||a - b||` of L2-normalised vectors, in [0, 2]). "
    "A class centre is the normalised mean of its normalised embeddings. Closeness is the mean over "
    "classes of the mean distance of a class's embeddings to its centre (lower: tighter classes); "
    "dispersion is the smallest distance between two class centres (higher: classes further apart), "
    "with the mean over all pairs beside it."
)


class GeometryMeasure(Measure):
    """Values of ``ClassGeometry`` (its ``fields``, under ``keys``) of the test and the seen embeddings."""

    fields: ClassVar[tuple[str, ...]] = ()
    titles: ClassVar[dict[str, str]] = {}
    heading: ClassVar[str] = ""
    default = True
    digits = 3
    definition = GEOMETRY_NOTE

    def split(self, result: "SplitResult", config: MetricsConfig, out: SplitMetrics) -> dict[str, Any]:
        values = self._values(class_geometry(result.test_embeddings, result.test_labels), "test", out)
        if result.train_embeddings is not None and result.train_labels is not None:
            values[SEEN] = self._values(class_geometry(result.train_embeddings, result.train_labels), SEEN, out)
        return values

    def features(self, videos: np.ndarray, labels: np.ndarray, prototypes: np.ndarray | None,
                 config: MetricsConfig, out: SplitMetrics) -> dict[str, Any]:
        return self._values(class_geometry(videos, labels), "test", out)

    def _values(self, geometry: ClassGeometry, name: str, out: SplitMetrics) -> dict[str, Any]:
        values = {key: getattr(geometry, key) for key in self.fields}
        if any(v is None for v in values.values()):
            note = f"{self.heading.lower()} of the {name} embeddings skipped: they hold {geometry.n_classes} class"
            log.warning(note)
            out.notes.append(note)
            return {}
        return values

    def report(self, summary: dict[str, Any]) -> str | None:
        groups = [("test classes (test videos)" if "run" in summary else "all classes (all videos)", summary,
                   summary.get("std", {}))]
        if SEEN in summary:
            groups.append(("seen classes (training videos)", summary[SEEN], summary.get("std", {}).get(SEEN, {})))
        groups = [g for g in groups if any(key in g[1] for key in self.fields)]
        if not groups:
            return None
        rows = [[name] + [cell(values.get(key), spread.get(key)) for key in self.fields]
                for name, values, spread in groups]
        return (f"## {self.heading} (Euclidean distance on the unit sphere)\n\n"
                + markdown_table(["classes", *(self.titles[key] for key in self.fields)], rows))


@MEASURES.register("closeness", help="Mean distance of embeddings to their class centre.")
class Closeness(GeometryMeasure):
    fields = ("closeness",)
    keys = ("closeness", SEEN)
    titles = {"closeness": "closeness"}
    columns = {"closeness": "closeness"}
    heading = "Closeness"


@MEASURES.register("dispersion", help="Smallest (and mean) distance between class centres.")
class Dispersion(GeometryMeasure):
    fields = ("dispersion", "dispersion_mean")
    keys = ("dispersion", "dispersion_mean", SEEN)
    titles = {"dispersion": "dispersion (min)", "dispersion_mean": "dispersion (mean)"}
    columns = {"dispersion": "dispersion"}
    heading = "Dispersion"
