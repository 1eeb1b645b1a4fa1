"""Label-text embeddings stored beside the features: ``text/<encoder>-<prompts>-<key>.h5``.

Per class (in the dataset's class order) the file keeps every prompt's embedding
``(C, P, D)``, their L2-normalised mean ``(C, D)``, and for word-vector encoders the
per-word vectors ``(C, L, D)`` with a mask, which ResT's text tokens use. A checksum file
``<name>.h5.sha256`` beside it (``zsar.cache.checksums``) shows any damage.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from zsar.cache.checksums import commit_with_checksum, file_problem
from zsar.cache.layout import CacheLayout
from zsar.errors import ZsarError
from zsar.files import atomic_write
from zsar.vectors import l2_normalise

_STR = h5py.string_dtype()
TEXT_REPAIR = "`zsar extract` with the same settings (--text-encoder, --prompts) writes it again"


@dataclass(kw_only=True)
class TextEmbeddings:
    """Label-text embeddings of one dataset's classes under one encoder and prompt set.

    ``embeddings`` ``(C, P, D)`` float32 (each prompt's vector, L2-normalised), ``mean``
    ``(C, D)`` the normalised mean over prompts; ``words`` ``(C, L, D)`` and ``word_mask``
    ``(C, L)`` for word-vector encoders (else ``None``). ``space`` names the joint
    embedding space shared with a backbone (e.g. a CLIP model id), ``""`` if none.
    """

    encoder: str
    model_id: str
    prompt_set: str
    class_names: list[str]
    class_texts: list[str]
    prompts: list[str]
    embeddings: np.ndarray
    key: str = ""
    space: str = ""
    words: np.ndarray | None = None
    word_mask: np.ndarray | None = None

    @property
    def mean(self) -> np.ndarray:
        return l2_normalise(self.embeddings.mean(axis=1))

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[-1])

    @property
    def file_stem(self) -> str:
        return f"{self.encoder}-{self.prompt_set}-{self.key}"

    def subset(self, class_names: list[str]) -> "TextEmbeddings":
        """The same embeddings restricted to (and ordered as) ``class_names``."""
        index = {name: i for i, name in enumerate(self.class_names)}
        missing = [n for n in class_names if n not in index]
        if missing:
            raise ZsarError(f"text embeddings {self.file_stem} have no class {missing[0]!r}; "
                            "extract text embeddings for this dataset")
        rows = np.array([index[n] for n in class_names], dtype=np.int64)
        return TextEmbeddings(
            encoder=self.encoder, model_id=self.model_id, prompt_set=self.prompt_set, class_names=list(class_names),
            class_texts=[self.class_texts[i] for i in rows], prompts=self.prompts, embeddings=self.embeddings[rows],
            key=self.key,
            space=self.space, words=None if self.words is None else self.words[rows],
            word_mask=None if self.word_mask is None else self.word_mask[rows])


def write_text_embeddings(layout: CacheLayout, text: TextEmbeddings) -> Path:
    """Write ``text`` into the cache's ``text/`` folder atomically, with its checksum file; returns the file."""
    path = layout.text_path(text.file_stem)
    with atomic_write(path, commit=commit_with_checksum) as tmp:
        layout.text_dir.mkdir(parents=True, exist_ok=True)
        _write(text, tmp)
    return path


def _write(text: TextEmbeddings, tmp: Path) -> None:
    with h5py.File(tmp, "w") as f:
        f.create_dataset("class_names", data=np.array(text.class_names, dtype=object), dtype=_STR)
        f.create_dataset("class_texts", data=np.array(text.class_texts, dtype=object), dtype=_STR)
        f.create_dataset("prompts", data=np.array(text.prompts, dtype=object), dtype=_STR)
        f.create_dataset("embeddings", data=np.asarray(text.embeddings, dtype=np.float32))
        f.create_dataset("mean", data=text.mean.astype(np.float32))
        if text.words is not None:
            f.create_dataset("words", data=np.asarray(text.words, dtype=np.float32))
            f.create_dataset("word_mask", data=np.asarray(text.word_mask, dtype=bool))
        for name in ("encoder", "model_id", "prompt_set", "key", "space"):
            f.attrs[name] = getattr(text, name)


def text_file_problem(path: Path) -> str | None:
    """Why the text file at ``path`` cannot be trusted (it or its checksum file damaged or missing), or ``None``."""
    return file_problem(path, path.parent.parent)


def read_text_embeddings(path: Path) -> TextEmbeddings:
    """Load one text-embedding file, checked against its checksum file."""
    problem = text_file_problem(path)
    if problem is not None:
        raise ZsarError(f"text embeddings {problem} (in {path.parent.parent}); {TEXT_REPAIR}")
    try:
        with h5py.File(path, "r") as f:
            strings = {k: [s.decode() if isinstance(s, bytes) else s for s in f[k][()]]
                       for k in ("class_names", "class_texts", "prompts")}
            return TextEmbeddings(
                encoder=str(f.attrs["encoder"]), model_id=str(f.attrs["model_id"]),
                prompt_set=str(f.attrs["prompt_set"]), key=str(f.attrs["key"]),
                space=str(f.attrs.get("space", "")), embeddings=f["embeddings"][()],
                words=f["words"][()] if "words" in f else None,
                word_mask=f["word_mask"][()] if "word_mask" in f else None, **strings)
    except (OSError, KeyError) as err:
        raise ZsarError(f"text embeddings {path} cannot be read ({err}); {TEXT_REPAIR}") from None


def list_text_files(layout: CacheLayout) -> list[Path]:
    return sorted(layout.text_dir.glob("*.h5"))


def find_text_embeddings(layout: CacheLayout, name: str | None = None) -> Path:
    """The text file to use: ``name`` (a file stem prefix such as ``minilm`` or a path) or the only one."""
    if name and Path(name).suffix == ".h5" and Path(name).is_file():
        return Path(name)
    files = list_text_files(layout)
    if name:
        files = [p for p in files if p.stem == name or p.stem.startswith(f"{name}-")]
    if len(files) == 1:
        return files[0]
    have = ", ".join(p.stem for p in list_text_files(layout)) or "none"
    if not files:
        raise ZsarError(f"no text embeddings {name or ''} in {layout.root} (it has: {have}); "
                        "run `zsar extract` with --text-encoder, or pass --text FILE".replace("  ", " "))
    raise ZsarError(f"{layout.root} has several text embeddings ({have}); choose one with --text NAME")
