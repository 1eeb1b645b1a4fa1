"""The label text of the Kinetics overlap filter (``--filter-text``), chosen apart from the head's ``--text``.

E2E filters its Kinetics source in word2vec space: a source class is dropped when its
label vector is within ``tau`` cosine distance of a test class's. A head trained on CLIP
text with the filter in CLIP space trains on another source set, one that can let
near-synonyms of test classes in (or drop classes E2E keeps). So the filter has its own
text:

- ``--filter-text NAME`` (a text file stem prefix in the caches, as ``--text``);
- by default ``word2vec-e2e`` (E2E's recipe) when the source cache has it, else the run's
  ``--text``;
- the source's and the target's filter text must come from one encoder, and the run's
  ``config.json`` records it (``filter_text``).

With ``--tau 0`` nothing is filtered and no filter text is loaded.
"""

from __future__ import annotations

import numpy as np

from zsar.cache.features import FeatureSet, load_text
from zsar.cache.layout import open_layout
from zsar.cache.text import TextEmbeddings, list_text_files
from zsar.errors import ZsarError

E2E_FILTER_TEXT = "word2vec-e2e"


def default_filter_text(source: FeatureSet) -> str | None:
    """``word2vec-e2e`` when the source cache holds that text, else None (the run's ``--text``)."""
    if source.cache_dir is None:
        return None
    stems = [path.stem for path in list_text_files(open_layout(source.cache_dir))]
    return E2E_FILTER_TEXT if any(s.startswith(f"{E2E_FILTER_TEXT}-") for s in stems) else None


def _load(features: FeatureSet, name: str, flag: str, chosen: str) -> TextEmbeddings:
    try:
        text = load_text(features.cache_dir, name)  # type: ignore[arg-type]
    except ZsarError as error:
        raise ZsarError(f"--filter-text {name}{chosen}: {flag} {features.cache_dir} lacks it ({error}); extract "
                        f"it there too, or pass --filter-text NAME of a text both caches have") from None
    text = text.subset(features.class_names)
    if not np.isfinite(text.embeddings).all():
        raise ZsarError(f"text embeddings {text.file_stem} in {features.cache_dir} hold NaN/inf; extract them again")
    return text


def filter_texts(name: str | None, tau: float, source: FeatureSet,
                 target: FeatureSet) -> tuple[TextEmbeddings | None, TextEmbeddings | None]:
    """The source's and target's filter text (None, None: the filter uses the run's ``--text``)."""
    if tau == 0:
        return None, None
    chosen = "" if name is not None else " (the default: the source cache has it)"
    name = name if name is not None else default_filter_text(source)
    if name is None:
        return None, None
    source_text = _load(source, name, "--source-features", chosen)
    target_text = _load(target, name, "--features", chosen)
    for what, a, b in (("encoder", source_text.encoder, target_text.encoder),
                       ("model", source_text.model_id, target_text.model_id), ("dim", source_text.dim, target_text.dim)):
        if a != b:
            raise ZsarError(f"--filter-text {name}: the source's text {source_text.file_stem} and the target's "
                            f"{target_text.file_stem} differ in {what} ({a!r} vs {b!r}); extract both with one encoder")
    return source_text, target_text
