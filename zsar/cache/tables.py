"""Plain rows and columns in and out of a Parquet file, for code outside ``zsar/cache`` (which may not import pyarrow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from zsar.errors import ZsarError
from zsar.files import atomic_write


def read_table_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of the Parquet file at ``path`` as a dict of column -> Python value."""
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as error:  # pyarrow raises ArrowInvalid (a ValueError) on bad files
        raise ZsarError(f"{path} is not a readable Parquet file ({error}); pass a CSV or Parquet list") from None
    return table.to_pylist()


def read_table_column(path: Path, column: str) -> list[Any]:
    """One column of the Parquet file at ``path`` as a list of Python values."""
    try:
        return pq.read_table(path, columns=[column]).column(column).to_pylist()
    except (OSError, ValueError, KeyError) as error:
        raise ZsarError(f"{path}: cannot read column {column!r} ({error}); reinstall the package that ships it") from None


def write_table_columns(path: Path, columns: dict[str, list[Any]]) -> Path:
    """Write ``columns`` (name -> equal-length lists of Python values) as a Parquet file at ``path``, atomically."""
    with atomic_write(Path(path), "choose a writable path for the Parquet file") as tmp:
        pq.write_table(pa.Table.from_pydict(columns), tmp)
    return Path(path)
