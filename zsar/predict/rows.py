"""The ``Prediction`` of each video asked about, from the cache's states of its rows and their scores.

A video's row takes the state of its whole-video row (``zsar.predict.cached``): ``ok`` and
scored, ``partial`` (scored with ``--allow-partial``, else left out with its note),
``failed`` (the decoder's message), or ``failed`` before extraction when its name cannot be
listed. Its timeline has a ``Window`` per window of a scored video: the window's top-k, or
the reason it has none (a window past the frames a cut file decodes, say). Top-k labels are
ranked by score, which the probabilities follow (a softmax is monotone), and the margin is
the first probability minus the second.
"""

from __future__ import annotations

import math

import numpy as np

from zsar.extract.chunk_writer import printable
from zsar.predict.cached import CallRows
from zsar.predict.inputs import Labels
from zsar.predict.output import STATUS_FAILED, Prediction, Window
from zsar.predict.windows import Asked
from zsar.vectors import top_k



def _top(i: int, scores: np.ndarray, probabilities: np.ndarray, labels: Labels, k: int) -> dict:
    """The top-k fields of scored row ``i``."""
    best = top_k(scores[i:i + 1], min(k, len(labels)))[0]
    ranked = np.sort(probabilities[i])[::-1]
    margin = float(ranked[0] - ranked[1]) if len(ranked) > 1 else math.nan
    return dict(labels=tuple(labels.names[j] for j in best),
                probabilities=tuple(float(probabilities[i, j]) for j in best),
                scores=tuple(float(scores[i, j]) for j in best), margin=margin)


def build_rows(asked: list[Asked], rows: CallRows, scores: np.ndarray, probabilities: np.ndarray, labels: Labels,
               k: int) -> list[Prediction]:
    """A ``Prediction`` per video of ``asked``, in order (module doc)."""
    position = rows.position()
    out = []
    for item in asked:
        video = item.video
        if item.name_error:  # its name as UTF-8 can hold it: the bytes that are not UTF-8 as \xNN escapes
            out.append(Prediction(video=printable(video.shown), path=printable(str(video.path)), status=STATUS_FAILED,
                                  error=item.name_error))
            continue
        state = rows.states[video.video_id]
        top = _top(position[video.video_id], scores, probabilities, labels, k) if state.scored else {}
        windows = []
        if state.scored:
            for (start, end), wid in zip(item.windows, item.window_ids()):
                window = rows.states[wid]
                fields = _top(position[wid], scores, probabilities, labels, k) if window.scored else {}
                windows.append(Window(start=start, end=end, error="" if window.scored else
                                      window.error or window.note, **fields))
        out.append(Prediction(video=video.shown, path=str(video.path), status=state.status, error=state.error,
                              note=state.note, windows=tuple(windows), **top))
    return out

