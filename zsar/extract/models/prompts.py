"""Prompt templates: every class text is embedded once per template (``"{}"`` is the class text).

The published recipes' sets are package data with provenance (``zsar/prompt_data/``, each
file checked against ``SHA256SUMS`` when read): ``actionclip`` is ActionCLIP's 16 video
templates (``utils/Text_Prompt.py``, in that order), ``froster`` FROSTER's 28 templates of
its frozen-CLIP classifier, ``vifi`` ViFi-CLIP's vanilla-CLIP ``"{}"``. ``plain`` embeds
the bare class text (the word-vector baselines). A user file holds one template per line;
blank lines and lines starting with ``#`` are skipped. The label recipes of
``label_recipes`` (``e2e``, ``aurl``) are also accepted by name: they choose the words of
each raw class name instead of filling a template (one "prompt").
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from zsar.errors import ZsarError
from zsar.extract.datasets.label_recipes import LABEL_RECIPES

PROMPT_DATA = Path(__file__).resolve().parents[2] / "prompt_data"
SUMS = "SHA256SUMS"
SHIPPED_SETS = ("actionclip", "froster", "vifi")  # files <name>.txt of PROMPT_DATA


@lru_cache(maxsize=None)
def shipped_templates(name: str) -> tuple[str, ...]:
    """The templates of shipped set ``name`` (``prompt_data/<name>.txt``), after checking the file's sha256."""
    lines = (PROMPT_DATA / SUMS).read_text().splitlines()
    sums = {file: digest for digest, file in (line.split(maxsplit=1) for line in lines if line.strip())}
    path = PROMPT_DATA / f"{name}.txt"
    if name not in SHIPPED_SETS or f"{name}.txt" not in sums or not path.is_file():
        raise ZsarError(f"prompt set {name} is not in {PROMPT_DATA}; reinstall zsar (pip install --force-reinstall)")
    actual = hashlib.sha256(path.read_bytes()).hexdigest()
    if actual != sums[f"{name}.txt"]:
        raise ZsarError(f"prompt set {path} has sha256 {actual[:12]}, not {sums[f'{name}.txt'][:12]} as {SUMS} "
                        "says: it was changed; reinstall zsar (pip install --force-reinstall)")
    return tuple(check_template(line, f"{path} line {number}")
                 for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1))


def check_template(template: str, where: str) -> str:
    """``template`` if it has exactly one ``{}`` and no other braces; else a ZsarError naming ``where``."""
    if template.count("{}") != 1 or template.replace("{}", "").count("{") or template.replace("{}", "").count("}"):
        raise ZsarError(f"prompt template {template!r} ({where}) must contain exactly one '{{}}' "
                        "where the class text goes, and no other braces")
    return template


ACTIONCLIP_TEMPLATES: tuple[str, ...] = shipped_templates("actionclip")

PROMPT_SETS: dict[str, tuple[str, ...]] = {
    **{name: shipped_templates(name) for name in SHIPPED_SETS},
    "plain": ("{}",),
}


def prompt_names() -> list[str]:
    """The prompt sets and label recipes ``--prompts`` takes by name."""
    return [*PROMPT_SETS, *LABEL_RECIPES.names()]


def load_prompts(spec: str) -> tuple[str, list[str]]:
    """A prompt set by name (``prompt_names()``: a shipped set, ``plain``, a label recipe) or a file path ->
    ``(set name, templates)``.

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
