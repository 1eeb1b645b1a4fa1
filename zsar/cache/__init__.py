"""The feature cache and run-directory formats: the only code that touches h5py and pyarrow.

Readers other stages use:
- ``load_features(cache) -> FeatureSet`` and ``load_text(cache) -> TextEmbeddings``;
- ``read_cache_config(layout) -> CacheConfig``, the typed ``config.json``;
- ``RunReader(run)`` with ``SplitResult`` per split; ``write_split_result`` and friends
  for ``zsar train-head``.
"""

from zsar.cache.config import CacheConfig, read_cache_config
from zsar.cache.features import FeatureSet, load_features, load_text
from zsar.cache.layout import CacheLayout, cache_key, open_layout
from zsar.cache.runs import RunReader, SplitResult
from zsar.cache.text import TextEmbeddings

__all__ = ["CacheConfig", "CacheLayout", "FeatureSet", "RunReader", "SplitResult", "TextEmbeddings", "cache_key",
           "load_features", "load_text", "open_layout", "read_cache_config"]
