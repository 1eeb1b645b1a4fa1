"""The feature cache and run-directory formats: the only code that touches h5py and pyarrow.

Readers other stages use:
- ``load_features(cache) -> FeatureSet`` and ``load_text(cache) -> TextEmbeddings``;
- ``RunReader(run)`` with ``SplitResult`` per split; ``write_split_result`` and friends
  for ``zsar train-head``.
"""

from zsar.cache.features import FeatureSet, load_features, load_text
from zsar.cache.layout import CacheLayout, cache_key, open_layout
from zsar.cache.runs import RunReader, SplitResult
from zsar.cache.text import TextEmbeddings

__all__ = ["CacheLayout", "FeatureSet", "RunReader", "SplitResult", "TextEmbeddings", "cache_key",
           "load_features", "load_text", "open_layout"]
