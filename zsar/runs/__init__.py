"""The run directory of ``zsar train-head``: its typed files, split results, checkpoints and lock.

- ``files``: ``RunLayout`` and the typed JSON files (``RunConfig``, ``RunMetrics``, ...);
- ``results``: ``SplitResult`` per split, ``prepare_run_dir``, ``RunReader``, predictions;
- ``checkpoints``: head weights with their checksum files; ``lock``: ``RunLock``.
"""
