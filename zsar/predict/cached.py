"""The rows of one ``zsar predict`` call in the per-file cache: the features to score, and what the others say.

After extraction every video (and window) asked about has a manifest row (``zsar.extract.per_file``):

- ``ok``: scored;
- ``ok`` with a note that it decoded only in part (``is_partly_decoded``: fewer frames than
  its container claims): ``partial``, scored on the frames that did decode with
  ``allow_partial``, else left out with that note, as ``zsar train-head`` leaves such videos
  out; another note (a fallback decoder read it) is shown and the video is scored;
- ``failed``: the decoder's message.

Only the rows of this call are read (each of their shards once, checked against its
checksum and digests as ``zsar.cache.features`` checks a whole cache), however many other
videos earlier calls added to the cache.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa

from zsar.cache.config import read_cache_config
from zsar.cache.features import FeatureSet, read_features
from zsar.cache.layout import CacheLayout
from zsar.cache.manifest import STATUS_FAILED, is_partly_decoded, read_manifest
from zsar.predict.output import STATUS_OK, STATUS_PARTIAL

NOT_IN_CACHE = "not in the cache after extraction (another process removed its row); run the same command again"
LEFT_OUT = "left out; --allow-partial scores the frames that decoded"
SCORED_PARTIAL = "scored on the frames that decoded"


@dataclass(frozen=True, kw_only=True)
class RowState:
    """What the cache says of one asked id: ``status`` (ok, partial, failed), the decoder's ``error``, a ``note``."""

    status: str
    error: str = ""
    note: str = ""
    scored: bool = False


@dataclass(kw_only=True)
class CallRows:
    """``features``: the rows to score, in the order of ``features.video_ids``; ``states``: every asked id's state."""

    features: FeatureSet
    states: dict[str, RowState] = field(default_factory=dict)

    def position(self) -> dict[str, int]:
        return {vid: i for i, vid in enumerate(self.features.video_ids)}


def _state(status: str, error: str, note: str, allow_partial: bool) -> RowState:
    if status == STATUS_FAILED:
        return RowState(status=STATUS_FAILED, error=error, note=note)
    if is_partly_decoded(status, note):
        return RowState(status=STATUS_PARTIAL, note=f"{note}; {SCORED_PARTIAL if allow_partial else LEFT_OUT}",
                        scored=allow_partial)
    return RowState(status=STATUS_OK, note=note, scored=True)


def read_call_rows(layout: CacheLayout, ids: list[str], allow_partial: bool) -> CallRows:
    """The features and states of the rows ``ids`` (manifest ``video_id``s) of the cache at ``layout``."""
    table = read_manifest(layout)
    wanted = set(ids)
    index = {vid: i for i, vid in enumerate(table.column("video_id").to_pylist()) if vid in wanted}
    columns = {name: table.column(name).to_pylist() for name in ("status", "error", "note")}
    states = {vid: RowState(status=STATUS_FAILED, error=NOT_IN_CACHE) for vid in ids}
    for vid, i in index.items():
        states[vid] = _state(columns["status"][i], columns["error"][i], columns["note"][i], allow_partial)
    scored = [vid for vid in ids if states[vid].scored]
    config = read_cache_config(layout)
    picked = table.take(pa.array([index[vid] for vid in scored], type=pa.int64()))
    features = read_features(layout, picked) if scored else np.zeros((0, 1, 1, max(config.feature_dim, 1)),
                                                                      dtype=np.float16)
    return CallRows(features=FeatureSet(features=features, labels=np.zeros(len(scored), dtype=np.int64),
                                        video_ids=scored, class_names=list(config.class_names), config=config,
                                        cache_dir=layout.root),
                    states=states)
