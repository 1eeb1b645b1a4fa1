"""The user's labels as label-text embeddings, stored in the predicted videos' cache and reused.

Labels are encoded with the text encoder, model and prompt templates that the run's own
label text used (or, with no run, those the caller names), by ``encode_classes`` as
``zsar extract`` encodes class names. The result is one file
``text/<encoder>-<prompts>-<key>.h5`` in the cache of the predicted videos, where ``key``
covers the encoder, its model, the templates and every label's name and text: asking
again with the same labels reads that file (no encoder is loaded), and a new label list
only adds a file beside it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from zsar.cache.checksums import remove_with_checksum
from zsar.cache.layout import CacheLayout, cache_key
from zsar.cache.text import TextEmbeddings, read_text_embeddings, text_file_problem, write_text_embeddings
from zsar.errors import ZsarError
from zsar.extract.datasets.label_recipes import LABEL_RECIPES
from zsar.extract.models.prompts import PROMPT_SETS, load_prompts
from zsar.extract.models.text_encoders import TextEncoderConfig, create_text_encoder, encode_classes
from zsar.files import atomic_write_text
from zsar.predict.inputs import Labels

log = logging.getLogger(__name__)
PROMPTS_FOLDER = "predict-prompts"  # under the cache root: a run's own template file, when not a named set


@dataclass(frozen=True, kw_only=True)
class TextSpec:
    """How to encode labels: encoder name, its model (``None``: its default), prompt templates and their set name.

    ``model_id``: the id the encoder must report (a run's), ``None`` to accept any.
    """

    encoder: str
    model: str | None
    prompt_set: str
    templates: tuple[str, ...]
    model_id: str | None = None

    @classmethod
    def of_run_text(cls, text: TextEmbeddings, model: str | None = None) -> "TextSpec":
        """The spec that encodes new labels as ``text`` (a run's label text) was encoded."""
        if text.prompt_set in LABEL_RECIPES:
            raise ZsarError(f"the run's label text uses the {text.prompt_set!r} word recipe, which picks words per "
                            "dataset class name and has none for free-text labels; train a run with --prompts "
                            "plain or actionclip to predict free-text labels")
        return cls(encoder=text.encoder, model=model, prompt_set=text.prompt_set, templates=tuple(text.prompts),
                   model_id=text.model_id)

    @classmethod
    def named(cls, encoder: str, model: str | None, prompts: str) -> "TextSpec":
        """The spec of ``--text-encoder``, ``--text-model`` and ``--prompts`` (a set name or a template file)."""
        if prompts in LABEL_RECIPES:
            raise ZsarError(f"--prompts {prompts} is a word recipe for dataset class names; free-text labels take "
                            f"a template set ({', '.join(PROMPT_SETS)}) or a template file")
        prompt_set, templates = load_prompts(prompts)
        return cls(encoder=encoder, model=model, prompt_set=prompt_set, templates=tuple(templates))

    def key(self, labels: Labels) -> str:
        return cache_key({"encoder": self.encoder, "model": self.model_id or self.model or "",
                          "prompts": list(self.templates), "names": list(labels.names), "texts": list(labels.texts)})

    def prompt_spec(self, cache_root: Path) -> str:
        """What ``encode_classes`` takes: the set's name if it is a built-in set, else a file of the templates."""
        if PROMPT_SETS.get(self.prompt_set) == self.templates:
            return self.prompt_set
        path = Path(cache_root) / PROMPTS_FOLDER / f"{self.prompt_set}.txt"
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, "".join(f"{t}\n" for t in self.templates))
        return str(path)


def label_text(layout: CacheLayout, labels: Labels, spec: TextSpec, device: str = "cpu") -> TextEmbeddings:
    """The embeddings of ``labels`` under ``spec``: read from ``layout``'s ``text/``, else encoded and stored there."""
    key = spec.key(labels)
    path = layout.text_path(f"{spec.encoder}-{spec.prompt_set}-{key}")
    if path.is_file():
        problem = text_file_problem(path)
        if problem is None:
            return read_text_embeddings(path)
        log.warning("label text %s; encoding it again", problem)
        remove_with_checksum(path)
    encoder = create_text_encoder(TextEncoderConfig(spec.encoder, spec.model, device))
    if spec.model_id is not None and encoder.model_id != spec.model_id:
        raise ZsarError(f"the run's labels were encoded with {spec.encoder} model {spec.model_id!r}, this one is "
                        f"{encoder.model_id!r}; pass --text-model with the run's model")
    text = encode_classes(encoder, list(labels.names), list(labels.texts), spec.prompt_spec(layout.root.parent.parent
                                                                                             .parent))
    text = replace(text, key=key)
    written = write_text_embeddings(layout, text)
    log.info("label text: %s (%d labels x %d prompts)", written.name, *text.embeddings.shape[:2])
    return text
