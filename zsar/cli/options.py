"""What the commands share: option declarations used by several of them, and help texts that list registered names.

A help text with ``{heads}``, ``{backbones}``, ... is a ``Listing``: the names come from
the registries (``names()`` of those declared in light modules; for those declared beside
torch code, ``help_names.json``, generated from them, and the entries registered so far),
plugins' included, when typer builds the command (after
``ZSAR_PLUGINS`` is loaded), so a misspelt name is a ``KeyError`` at once rather than a
``{name}`` printed as it is. Nothing here imports torch: ``zsar --help`` and ``zsar COMMAND
--help`` build every command and must stay cheap (``tests/test_cli_help.py``).
"""

from __future__ import annotations

import functools
import json
from collections import UserString
from pathlib import Path
from typing import Annotated, Callable

import typer

from zsar.errors import ZsarError
from zsar.registry import CLASSIFIER, JOINT_SPACE, load_plugins, registered

HELP_NAMES_FILE = Path(__file__).with_name("help_names.json")
# The names help texts list whose modules import torch or PyAV: read from HELP_NAMES_FILE, generated from the
# registries and constants themselves by ``help_names`` (``make docs``; tests/test_docs.py checks it is current).
# A registry's key also takes the entries registered so far (a plugin's): key -> (registry kind, tag).
INDEXED: dict[str, tuple[str, str | None] | None] = {
    "backbones": ("backbone", None), "joint_backbones": ("backbone", JOINT_SPACE),
    "classifier_backbones": ("backbone", CLASSIFIER), "text_encoders": ("text encoder", None),
    "joint_text_encoders": ("text encoder", JOINT_SPACE), "heads": ("head", None), "protocols": ("protocol", None),
    "default_protocol": None, "generator_modes": None, "formats": None,
}


def help_names_text() -> str:
    """The text of ``HELP_NAMES_FILE`` as ``help_names`` gives it now."""
    return json.dumps(help_names(), indent=1, sort_keys=True) + "\n"


def help_names() -> dict[str, list[str]]:
    """What ``HELP_NAMES_FILE`` holds, computed now from the completed registries and the modules' constants
    (imports torch: ``tools/gen_docs.py`` writes the file from it)."""
    from zsar.extract.models.backbones import BACKBONES
    from zsar.extract.models.text_encoders import TEXT_ENCODERS
    from zsar.heads.base import HEADS
    from zsar.heads.generator import GENERATOR_MODES
    from zsar.heads.protocols import DEFAULT_PROTOCOL, PROTOCOLS
    from zsar.synth.render import CODECS

    registries = {"backbone": BACKBONES, "text encoder": TEXT_ENCODERS, "head": HEADS, "protocol": PROTOCOLS}
    found = {key: sorted(registries[kind].tagged(tag)) if tag else registries[kind].names()
             for key, (kind, tag) in ((k, v) for k, v in INDEXED.items() if v is not None)}
    return {**found, "default_protocol": [DEFAULT_PROTOCOL], "generator_modes": list(GENERATOR_MODES),
            "formats": list(CODECS)}


@functools.lru_cache(maxsize=1)
def _indexed() -> dict[str, list[str]]:
    return json.loads(HELP_NAMES_FILE.read_text(encoding="utf-8"))


def _indexed_names(key: str) -> list[str]:
    """The names of ``key`` from ``HELP_NAMES_FILE``, with a registry's entries registered so far (plugins')."""
    names = list(_indexed()[key])
    source = INDEXED[key]
    if source is not None:
        names += [n for n in registered(*source) if n not in names]
        names.sort()
    return names


def _datasets() -> list[str]:
    from zsar.extract.datasets import DATASETS
    return DATASETS.names()


def _prompts() -> list[str]:
    from zsar.extract.models.prompts import prompt_names
    return prompt_names()


def _samplings() -> list[str]:
    from zsar.extract.sampling import SAMPLING_MODES
    return list(SAMPLING_MODES)


def _devices() -> list[str]:
    from zsar.devices import DEVICES
    return list(DEVICES)


def _precisions() -> list[str]:
    from zsar.devices import PRECISIONS
    return list(PRECISIONS)


def _rerankers() -> list[str]:
    from zsar.heads.rerank import RERANKERS
    return RERANKERS.names()


def _transfers() -> list[str]:
    from zsar.heads.transfer import TRANSFER_MODES
    return list(TRANSFER_MODES)


NAMES: dict[str, Callable[[], list[str]]] = {
    "datasets": _datasets, "prompts": _prompts, "samplings": _samplings, "devices": _devices,
    "precisions": _precisions, "rerankers": _rerankers, "transfers": _transfers,
    **{key: functools.partial(_indexed_names, key) for key in INDEXED},
}


class _Names(dict):
    """``{name}`` -> the registered names, comma-separated, looked up only for the names a text uses."""

    def __missing__(self, key: str) -> str:
        return ", ".join(NAMES[key]())


class Listing(UserString):
    """A help text whose ``{heads}``-style fields list the registered names when typer builds the command."""

    def __init__(self, template: object) -> None:
        self.template = str(template)

    @property
    def data(self) -> str:  # type: ignore[override]
        if "{" not in self.template:
            return self.template
        try:
            load_plugins()  # idempotent; a bad ZSAR_PLUGINS is reported by the app's callback in one line
        except ZsarError:
            pass
        return self.template.format_map(_Names())


def default_cache() -> Path:
    from zsar.cache.catalog import default_cache_root

    return default_cache_root()


Features = Annotated[Path, typer.Option(help="Feature cache to test on (and, within a dataset, to train on).")]
SourceFeatures = Annotated[Path | None, typer.Option(help="Source cache to train on (cross-*, official).")]
Text = Annotated[str | None, typer.Option(help="Text embeddings in the cache(s), e.g. minilm (needed if several).")]
Device = Annotated[str, typer.Option(help=Listing("Device: {devices} (auto: cuda if there is one)."))]
CacheRoot = Annotated[Path | None, typer.Option(help="Cache root (default: $ZSAR_CACHE or ~/.cache/zsar).")]
CacheFolder = Annotated[Path, typer.Argument(help="A cache folder (as `zsar extract` printed).")]
