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

import importlib
from typing import Any

import click
from typer.core import TyperCommand

# placeholder -> (module, name): a registry, a function that lists names, or a tuple/dict of modes.
CHOICES: dict[str, tuple[str, str]] = {
    "datasets": ("zsar.extract.datasets", "DATASETS"),
    "backbones": ("zsar.extract.models", "BACKBONES"),
    "text_encoders": ("zsar.extract.models", "TEXT_ENCODERS"),
    "prompts": ("zsar.extract.models.prompts", "prompt_names"),
    "samplings": ("zsar.extract.sampling", "SAMPLING_MODES"),
    "devices": ("zsar.devices", "DEVICES"),
    "precisions": ("zsar.devices", "PRECISIONS"),
    "heads": ("zsar.heads.base", "list_heads"),
    "protocols": ("zsar.heads.protocols", "list_protocols"),
    "rerankers": ("zsar.heads.rerank", "RERANKERS"),
    "transfers": ("zsar.heads.transfer", "TRANSFER_MODES"),
    "generator_modes": ("zsar.heads.generator", "GENERATOR_MODES"),
    "formats": ("zsar.synth.render", "CODECS"),
}


def choice_names(key: str) -> list[str]:
    """The valid names behind the placeholder ``{key}`` (imports the module that holds them)."""
    module, name = CHOICES[key]
    value = getattr(importlib.import_module(module), name)
    return list(value() if callable(value) else value)


def fill_choices(text: str) -> str:
    """``text`` with each ``{name}`` of ``CHOICES`` replaced by the valid names, comma-separated."""
    for key in CHOICES:
        placeholder = "{" + key + "}"
        if placeholder in text:
            text = text.replace(placeholder, ", ".join(choice_names(key)))
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
