"""zsar: zero-shot action recognition on a shared feature cache.

The pipeline has three stages, one package each: ``zsar.extract`` (videos to cached
features), ``zsar.heads`` (train light heads on the cache, zero-shot protocols) and
``zsar.metrics`` (accuracy, hubness, closeness, dispersion). ``zsar.cache`` is the only
code that reads or writes files in the cache and run formats. ``zsar.synth`` renders the
synthetic action set; ``zsar.devices`` resolves devices for every stage.
"""

__version__ = "0.1.0"
