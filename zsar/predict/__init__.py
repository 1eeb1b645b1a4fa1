"""``zsar predict``: recognise actions in your own videos, among your own labels, from a notebook or the CLI.

    import zsar
    table = zsar.predict("clips/", ["wave hand", "jump and clap", "sit down"], run="runs/rest")
    for row in table:                   # a Prediction per video, in the order given
        print(row.video, row.labels[0], row.scores[0])
    zsar.predict("clips/", "wave hand, jump", run="runs/rest", as_records=True)  # a list of dicts

Modules: ``inputs`` (videos and labels), ``choice`` (the training-free head and the checks
that need no decoding), ``model`` (a trained run as a predictor), ``windows`` (a timeline's
windows), ``label_text`` (the labels' embeddings, cached), ``cached`` (the call's rows of the
per-file cache), ``scoring`` (run heads, frozen, objects, re-ranking, probabilities),
``rows`` and ``output`` (a row per video and window, files, the terminal table), ``sheet``
(the contact sheet), ``core`` (``PredictConfig`` and ``run_predict``, the flow). The dataset
adapter that extraction reads the videos through is ``zsar.extract.datasets.unlabelled``
(``videos``), its per-file cache ``zsar.extract.per_file``.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any, Mapping, Sequence

from zsar.errors import ZsarError
from zsar.predict.config import PredictConfig
from zsar.predict.core import run_predict
from zsar.predict.inputs import Labels, check_labels, parse_labels, read_labels_file
from zsar.predict.output import Prediction, Predictions

__all__ = ["Labels", "PredictConfig", "Prediction", "Predictions", "as_labels", "parse_labels", "predict",
           "read_labels_file", "run_predict"]


def as_labels(labels: str | Path | Sequence[str] | Mapping[str, str] | Labels) -> Labels:
    """Labels from ``"a, b, c"``, a list of names, ``{name: description}`` or a label file (a ``Path``)."""
    if isinstance(labels, Labels):
        return labels
    if isinstance(labels, Path):
        return read_labels_file(labels)
    if isinstance(labels, str):
        return parse_labels(labels)
    if isinstance(labels, Mapping):
        names = [str(n).strip() for n in labels]
        return check_labels(names, [str(labels[n]).strip() or str(n).strip() for n in labels], "labels")
    if isinstance(labels, Sequence):
        names = [str(n).strip() for n in labels]
        return check_labels(names, names, "labels")
    raise ZsarError(f"labels {labels!r}: give a comma-separated string, a list of labels, a {{label: description}} "
                    "dict or a label file path")


def predict(videos: str | Path | Sequence[str | Path], labels: Any, *, run: str | Path | None = None,
            as_records: bool = False, **options: Any) -> Predictions | list[dict[str, Any]]:
    """Top-k labels per video: ``Predictions`` (iterable rows, ``.records()``, ``.columns()``, ``.write()``).

    ``videos``: a folder, file, glob or list file, or a list of them. ``labels``: see
    ``as_labels``. ``run``: a ``zsar train-head`` run; without it a training-free head
    (``head=`` frozen or objects, ``backbone=``, ``text_encoder=``; by default frozen CLIP if
    its weights are here, else objects on efficientnet-lite0). ``options``: the other fields of
    ``PredictConfig`` (``split``, ``top_k``, ``rerank``, ``cache``, ``out``, ``sheet``, ...).
    ``as_records``: return a list of dicts instead.
    """
    items = (videos,) if isinstance(videos, (str, Path)) else tuple(videos)
    config = PredictConfig(videos=tuple(str(v) for v in items), labels=as_labels(labels),
                           run=Path(run) if run is not None else None, **options)
    result = run_predict(config)
    return result.records() if as_records else result


class _CallablePackage(types.ModuleType):
    """``zsar.predict`` names both this package and its function: calling the package calls ``predict``.

    ``import zsar.predict.core`` makes the attribute ``zsar.predict`` the package, so the
    package itself must be callable for ``zsar.predict(videos, labels, run=...)`` to work.
    """

    def __call__(self, *args: Any, **kwargs: Any) -> Predictions | list[dict[str, Any]]:
        return predict(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
