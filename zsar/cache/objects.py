"""A backbone's object classifier and its class names in a text space, stored beside the features.

The training-free ``objects`` head (``zsar.heads.objects``) scores videos by the objects
the backbone's own ImageNet classifier sees in them and by how close those objects' names
are to each label in the label text's space. It needs two arrays the features do not hold:
the classifier layer (applied to the cached, pooled features, so a cache made before needs
no re-extraction) and the object names embedded by the label text's encoder. Both go into
one file per text encoder::

    <cache>/objects/<encoder>-<key>.h5[.sha256]

``key`` covers the backbone weights, the encoder and its model, the name template and the
names. ``zsar.extract.objects`` writes the file (it needs the backbone and the encoder);
``find_object_vocabulary`` finds the one that fits a cache's label text, and every reader
checks the file against its checksum first.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from zsar.cache.checksums import commit_with_checksum, file_problem
from zsar.cache.layout import cache_key
from zsar.errors import ZsarError
from zsar.files import atomic_write

FOLDER = "objects"
_STR = h5py.string_dtype()
_ATTRS = ("template", "weights_id", "encoder", "model_id", "names_sha256", "key")


@dataclass(kw_only=True)
class ObjectVocabulary:
    """An image classifier's K object classes, as logits and as text.

    ``weight`` ``(K, D)`` and ``bias`` ``(K,)``: the classifier layer of the backbone with
    ``weights_id`` (object logits = features @ weight.T + bias); ``names`` its K classes in
    output order; ``embeddings`` ``(K, Dt)``: each name, put in ``template``, embedded by
    ``encoder`` (model ``model_id``) and L2-normalised; ``names_sha256``: the digest of the
    shipped names file.
    """

    names: list[str]
    template: str
    weight: np.ndarray
    bias: np.ndarray
    embeddings: np.ndarray
    weights_id: str
    encoder: str
    model_id: str
    names_sha256: str
    key: str = ""

    def __post_init__(self) -> None:
        k = len(self.names)
        if self.weight.shape[0] != k or self.bias.shape != (k,) or self.embeddings.shape[0] != k:
            raise ValueError(f"{k} names but a {self.weight.shape} classifier, {self.bias.shape} bias and "
                             f"{self.embeddings.shape} embeddings")
        if not self.key:
            self.key = cache_key({"weights_id": self.weights_id, "encoder": self.encoder, "model_id": self.model_id,
                                  "template": self.template, "names_sha256": self.names_sha256})

    @property
    def file_name(self) -> str:
        return f"{self.encoder}-{self.key}.h5"

    def fits(self, weights_id: str, encoder: str, model_id: str) -> bool:
        """Whether this vocabulary belongs to features of ``weights_id`` and label text of ``encoder``/``model_id``."""
        return (self.weights_id, self.encoder, self.model_id) == (weights_id, encoder, model_id)


def objects_dir(cache_dir: Path) -> Path:
    return Path(cache_dir) / FOLDER


def write_object_vocabulary(cache_dir: Path, vocabulary: ObjectVocabulary) -> Path:
    """Write ``vocabulary`` into ``<cache_dir>/objects/`` atomically, with its checksum file; returns the file."""
    path = objects_dir(cache_dir) / vocabulary.file_name
    with atomic_write(path, commit=commit_with_checksum) as tmp:
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(tmp, "w") as f:
            f.create_dataset("names", data=np.array(vocabulary.names, dtype=object), dtype=_STR)
            f.create_dataset("weight", data=np.asarray(vocabulary.weight, dtype=np.float32))
            f.create_dataset("bias", data=np.asarray(vocabulary.bias, dtype=np.float32))
            f.create_dataset("embeddings", data=np.asarray(vocabulary.embeddings, dtype=np.float32))
            for name in _ATTRS:
                f.attrs[name] = getattr(vocabulary, name)
    return path


def _problem(path: Path) -> str | None:
    return file_problem(path, path.parent.parent)


def read_object_vocabulary(path: Path) -> ObjectVocabulary:
    """Load one object-vocabulary file, checked against its checksum file."""
    problem = _problem(path)
    if problem is not None:
        raise ZsarError(f"object vocabulary {problem}; delete {path} and run the command again to rebuild it")
    return _read(path)


def _read(path: Path) -> ObjectVocabulary:
    try:
        with h5py.File(path, "r") as f:
            names = [s.decode() if isinstance(s, bytes) else str(s) for s in f["names"][()]]
            return ObjectVocabulary(names=names, weight=f["weight"][()], bias=f["bias"][()],
                                    embeddings=f["embeddings"][()], **{a: str(f.attrs[a]) for a in _ATTRS})
    except (OSError, KeyError) as err:
        raise ZsarError(f"object vocabulary {path} cannot be read ({err}); delete it and run the command "
                        "again to rebuild it") from None


def find_object_vocabulary(cache_dir: Path, weights_id: str, encoder: str, model_id: str) -> ObjectVocabulary | None:
    """The vocabulary in ``cache_dir`` for features of ``weights_id`` and text of ``encoder``/``model_id``, or None.

    A damaged file is left alone here (``None``) so the caller rebuilds it; ``read_object_vocabulary`` names it.
    """
    for path in sorted(objects_dir(cache_dir).glob(f"{encoder}-*.h5")):
        if _problem(path) is not None:
            continue
        vocabulary = _read(path)
        if vocabulary.fits(weights_id, encoder, model_id):
            return vocabulary
    return None
