"""Help texts that list the valid names from the registries, filled in when the help is shown.

A command's help is built when ``zsar.cli`` is imported: before the ``ZSAR_PLUGINS``
modules are loaded (the app's callback loads them) and before the modules that fill the
registries are imported (a command imports them when it runs, so ``zsar --help`` stays
fast). An option's help therefore names its choices with a placeholder such as
``{backbones}``, and ``ChoicesInHelp`` replaces it with the registered names when that
command's help is rendered, so a plugin's dataset, backbone, text encoder or head is
listed beside the built-in ones.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

import click
from typer.core import TyperCommand


def _datasets() -> Iterable[str]:
    from zsar.extract.datasets import list_datasets

    return list_datasets()


def _backbones() -> Iterable[str]:
    from zsar.extract.models import list_backbones

    return list_backbones()


def _text_encoders() -> Iterable[str]:
    from zsar.extract.extractor import NO_TEXT
    from zsar.extract.models import list_text_encoders

    return [*list_text_encoders(), NO_TEXT]


def _prompts() -> Iterable[str]:
    from zsar.extract.models.prompts import prompt_names

    return prompt_names()


def _samplings() -> Iterable[str]:
    from zsar.extract.sampling import SAMPLING_MODES

    return SAMPLING_MODES


def _devices() -> Iterable[str]:
    from zsar.devices import DEVICES

    return DEVICES


def _precisions() -> Iterable[str]:
    from zsar.devices import PRECISIONS

    return PRECISIONS


def _heads() -> Iterable[str]:
    from zsar.heads.base import list_heads

    return list_heads()


def _protocols() -> Iterable[str]:
    from zsar.heads.protocols import PROTOCOLS

    return PROTOCOLS.names()


def _rerankers() -> Iterable[str]:
    from zsar.heads.rerank import RERANKERS

    return RERANKERS.names()


def _transfers() -> Iterable[str]:
    from zsar.heads.transfer import TRANSFER_MODES

    return TRANSFER_MODES


def _generator_modes() -> Iterable[str]:
    from zsar.heads.generator import GENERATOR_MODES

    return GENERATOR_MODES


def _formats() -> Iterable[str]:
    from zsar.synth.render import CODECS

    return CODECS


CHOICES: dict[str, Callable[[], Iterable[str]]] = {
    "datasets": _datasets, "backbones": _backbones, "text_encoders": _text_encoders, "prompts": _prompts,
    "samplings": _samplings, "devices": _devices, "precisions": _precisions, "heads": _heads,
    "protocols": _protocols, "rerankers": _rerankers, "transfers": _transfers, "generator_modes": _generator_modes,
    "formats": _formats,
}


def fill_choices(text: str) -> str:
    """``text`` with each ``{name}`` of ``CHOICES`` replaced by the valid names, comma-separated."""
    for key, names in CHOICES.items():
        placeholder = "{" + key + "}"
        if placeholder in text:
            text = text.replace(placeholder, ", ".join(names()))
    return text


class ChoicesInHelp(TyperCommand):
    """A command whose options' help lists the registered names (see the module docstring)."""

    def format_help(self, ctx: click.Context, formatter: Any) -> None:
        for param in self.params:
            template = getattr(param, "zsar_help_template", None) or getattr(param, "help", None)
            if template and "{" in template:
                param.zsar_help_template = template
                param.help = fill_choices(template)
        super().format_help(ctx, formatter)
