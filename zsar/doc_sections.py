"""Generated sections of Markdown pages: text between ``<!-- BEGIN NAME -->`` and ``<!-- END NAME -->``.

``make docs`` (``tools/gen_docs.py``) fills them: the demo's table and timings that ``zsar
demo`` saved under its output folder go into ``docs/demo.md``, the benchmark tables into
``docs/benchmarks.md``; the text around the markers is written by hand and kept.
"""

from __future__ import annotations

import re

from zsar.errors import ZsarError


def markers(name: str) -> tuple[str, str]:
    """The two comment lines around section ``name``."""
    return f"<!-- BEGIN {name} (generated: do not edit by hand) -->", f"<!-- END {name} -->"


def replace_section(text: str, name: str, body: str) -> str:
    """``text`` with section ``name``'s body replaced by ``body`` (appended at the end if it has none)."""
    begin, end = markers(name)
    block = f"{begin}\n{body.strip()}\n{end}"
    found = re.search(re.escape(begin) + r".*?" + re.escape(end), text, re.S)
    if found is None:
        if begin in text or end in text:
            raise ZsarError(f"section {name!r}: one of its markers is missing; restore `{begin}` and `{end}`")
        return text.rstrip("\n") + ("\n\n" if text.strip() else "") + block + "\n"
    return text[:found.start()] + block + text[found.end():]


def read_section(text: str, name: str) -> str | None:
    """Section ``name``'s body, or ``None`` if ``text`` has none."""
    begin, end = markers(name)
    found = re.search(re.escape(begin) + r"\n(.*?)\n?" + re.escape(end), text, re.S)
    return None if found is None else found.group(1)

