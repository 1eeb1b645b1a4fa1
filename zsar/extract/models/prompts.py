"""Prompt templates: every class text is embedded once per template (``"{}"`` is the class text).

``actionclip`` is ActionCLIP's 16 video templates (``utils/Text_Prompt.py``, in that
order); ``plain`` embeds the bare class text (the word-vector baselines). A user file
holds one template per line; blank lines and lines starting with ``#`` are skipped.
The label recipes of ``label_recipes`` (``e2e``, ``aurl``) are also accepted by name: they
choose the words of each raw class name instead of filling a template (one "prompt").
"""

from __future__ import annotations

from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.datasets.label_recipes import LABEL_RECIPES

ACTIONCLIP_TEMPLATES: tuple[str, ...] = (
    "a photo of action {}",
    "a picture of action {}",
    "Human action of {}",
    "{}, an action",
    "{} this is an action",
    "{}, a video of action",
    "Playing action of {}",
    "{}",
    "Playing a kind of action, {}",
    "Doing a kind of action, {}",
    "Look, the human is {}",
    "Can you recognize the action of {}?",
    "Video classification of {}",
    "A video of {}",
    "The man is {}",
    "The woman is {}",
)

PROMPT_SETS: dict[str, tuple[str, ...]] = {
    "actionclip": ACTIONCLIP_TEMPLATES,
    "plain": ("{}",),
}


def prompt_names() -> list[str]:
    """The prompt sets and label recipes ``--prompts`` takes by name."""
    return [*PROMPT_SETS, *LABEL_RECIPES.names()]


def check_template(template: str, where: str) -> str:
    """``template`` if it has exactly one ``{}`` and no other braces; else a ZsarError naming ``where``."""
    if template.count("{}") != 1 or template.replace("{}", "").count("{") or template.replace("{}", "").count("}"):
        raise ZsarError(f"prompt template {template!r} ({where}) must contain exactly one '{{}}' "
                        "where the class text goes, and no other braces")
    return template


def load_prompts(spec: str) -> tuple[str, list[str]]:
    """A prompt set by name (``actionclip``, ``plain``, a label recipe) or a file path -> ``(set name, templates)``.

    A file's set name is its stem (``my_prompts.txt`` -> ``my_prompts``); a label recipe
    has the one template ``"{}"`` (its words are the class text).
    """
    if spec in PROMPT_SETS:
        return spec, list(PROMPT_SETS[spec])
    if spec in LABEL_RECIPES:
        return spec, ["{}"]
    path = Path(spec).expanduser()
    if not path.is_file():
        raise ZsarError(f"unknown prompt set {spec!r}: not one of {', '.join(prompt_names())} and not a file; "
                        "pass a name or a text file with one template per line")
    templates = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        line = line.strip()
        if line and not line.startswith("#"):
            templates.append(check_template(line, f"{path} line {number}"))
    if not templates:
        raise ZsarError(f"prompt file {path} has no templates; write one per line, e.g. 'a video of {{}}'")
    if len(set(templates)) != len(templates):
        duplicate = next(t for t in templates if templates.count(t) > 1)
        raise ZsarError(f"prompt file {path} repeats the template {duplicate!r}; keep each once")
    return path.stem, templates
