"""zsar: zero-shot action recognition on a shared feature cache.

The pipeline has three stages, one package each: ``zsar.extract`` (videos to cached
features), ``zsar.heads`` (train light heads on the cache, zero-shot protocols) and
``zsar.metrics`` (accuracy, hubness, closeness, dispersion). ``zsar.cache`` is the only
code that reads or writes files in the cache and run formats. ``zsar.synth`` renders the
synthetic action set; ``zsar.devices`` resolves devices for every stage. ``zsar.predict``
sits on top of them: ``zsar.predict(videos, labels, run=...)`` recognises actions in your
own videos (imported on first use, so ``import zsar`` stays light).
"""

import importlib
from typing import Any

__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """``zsar.predict``, imported on first use. Every layer imports ``zsar`` (for ``__version__``), so the
    package root names the top layer by string: a lazy edge at run time, not an import at load time."""
    if name == "predict":
        return importlib.import_module("zsar.predict").predict
    raise AttributeError(f"module 'zsar' has no attribute {name!r}")
