"""Plain rows out of a Parquet file, for readers outside ``zsar/cache`` (which may not import pyarrow)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from zsar.errors import ZsarError


def read_table_rows(path: Path) -> list[dict[str, Any]]:
    """Every row of the Parquet file at ``path`` as a dict of column -> Python value."""
    try:
        table = pq.read_table(path)
    except (OSError, ValueError) as error:  # pyarrow raises ArrowInvalid (a ValueError) on bad files
        raise ZsarError(f"{path} is not a readable Parquet file ({error}); pass a CSV or Parquet list") from None
    return table.to_pylist()
