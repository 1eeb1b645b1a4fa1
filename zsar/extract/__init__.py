"""Stage 1, ``zsar extract``: decode a dataset's videos, run a frozen backbone, fill a feature cache.

The pipeline is this package's modules: ``extractor`` (``extract(ExtractConfig)``: the
flow), ``plan`` (which chunks of the video list this rank still has to do), ``settings``
(the cache key and ``config.json``), ``loader`` (decoding workers writing into shared
memory), ``batcher`` (batches of clips across videos, one ahead on the device), ``decode``
and ``sampling`` (which frames, read how), ``chunk_writer`` (a writer thread: a shard and
its manifest rows per chunk). What it reads and runs are subpackages: ``datasets``
(adapters and class names) and ``models`` (backbones, text encoders, prompts).
"""
