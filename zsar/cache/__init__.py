"""The feature cache: the typed cache config, shards, manifest, label text, locking, verify.

Stages read a cache with ``zsar.cache.features.load_features`` and ``load_text``; the run
directory that ``zsar train-head`` writes is ``zsar.runs``.
"""
