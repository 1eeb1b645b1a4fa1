"""What the commands share: option declarations used by several of them, and help texts that list registered names.

A help text with ``{heads}``, ``{backbones}``, ... is a ``Listing``: the names come from
the registries themselves (``HEADS.names``, ``BACKBONES.names`` ...), plugins' included,
when typer builds the command (after ``ZSAR_PLUGINS`` is loaded), so a misspelt name is a
``KeyError`` at once rather than a ``{name}`` printed as it is.
"""

from __future__ import annotations

from collections import UserString
from pathlib import Path
from typing import Annotated, Callable

import typer

from zsar.errors import ZsarError
from zsar.registry import load_plugins


def _datasets() -> list[str]:
    from zsar.extract.datasets import DATASETS
    return DATASETS.names()


def _backbones() -> list[str]:
    from zsar.extract.models import BACKBONES
    return BACKBONES.names()


def _text_encoders() -> list[str]:
    from zsar.extract.models import TEXT_ENCODERS
    return TEXT_ENCODERS.names()


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


def _heads() -> list[str]:
    from zsar.heads.base import HEADS
    return HEADS.names()


def _protocols() -> list[str]:
    from zsar.heads.protocols import PROTOCOLS
    return PROTOCOLS.names()


def _default_protocol() -> list[str]:
    from zsar.heads.protocols import DEFAULT_PROTOCOL
    return [DEFAULT_PROTOCOL]


def _rerankers() -> list[str]:
    from zsar.heads.rerank import RERANKERS
    return RERANKERS.names()


def _transfers() -> list[str]:
    from zsar.heads.transfer import TRANSFER_MODES
    return list(TRANSFER_MODES)


def _generator_modes() -> list[str]:
    from zsar.heads.generator import GENERATOR_MODES
    return list(GENERATOR_MODES)


def _formats() -> list[str]:
    from zsar.synth.render import CODECS
    return list(CODECS)


NAMES: dict[str, Callable[[], list[str]]] = {
    "datasets": _datasets, "backbones": _backbones, "text_encoders": _text_encoders, "prompts": _prompts,
    "samplings": _samplings, "devices": _devices, "precisions": _precisions, "heads": _heads,
    "protocols": _protocols, "default_protocol": _default_protocol, "rerankers": _rerankers, "transfers": _transfers, "generator_modes": _generator_modes,
    "formats": _formats,
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
