"""Reliability suite (issue 6): extraction under kills, concurrency, bad input and damage.

The helpers in ``tests/_extract_data.py`` are shared with ``tests/test_extract.py``.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
