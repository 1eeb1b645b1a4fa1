"""The tables of ``docs/clip-era.md`` and ``docs/reproducing.md`` that state published numbers or recipes.

Every number, ± and setting in them comes from ``published.csv`` (``load_rows``) and every
command from ``plan_rows``, so the pages cannot disagree with ``zsar reproduce``.
``page_sections()`` maps each page to its generated sections; ``make docs``
(``tools/gen_docs.py``) writes them between their markers.
"""

from __future__ import annotations

import re
from pathlib import Path

from zsar.reproduce.plan import Inputs, plan_rows
from zsar.reproduce.rows import METRIC_NAMES, PublishedRow, load_rows, reproducible_rows, select_rows

CROSS_COLUMNS = {"ucf101": "UCF101", "hmdb51": "HMDB51", "kinetics600": "K600-novel"}
B2N_COLUMNS = {"kinetics400": "K400 base / novel / HM", "hmdb51": "HMDB51 base / novel / HM",
               "ucf101": "UCF101 base / novel / HM", "ssv2": "SSv2 base / novel / HM"}
E2E_COLUMNS = {"ucf101": "UCF101", "hmdb51": "HMDB51", "activitynet": "ActivityNet"}
UNVERIFIED = "(not verified)"
EXAMPLE_ROOTS = {"ucf101": Path("/data/ucf101"), "hmdb51": Path("/data/hmdb51"),
                 "kinetics400": Path("/data/kinetics400"), "kinetics600": Path("/data/kinetics600")}
EXAMPLE_ROW = "frozen-clip-b16-ucf101"


def source_label(url: str) -> str:
    """A short name for a source URL: ``Visual-AI/FROSTER README.md``, ``arXiv 2212.03640``."""
    arxiv = re.match(r"https://arxiv\.org/abs/(\S+)", url)
    if arxiv:
        return f"arXiv {arxiv[1]}"
    github = re.match(r"https://github\.com/([^/]+/[^/]+)/blob/[0-9a-f]+/(.+)", url)
    return f"{github[1]} {github[2]}" if github else url


def _link(row: PublishedRow) -> str:
    return f"[{source_label(row.source)}]({row.source})"


def _cell(rows: list[PublishedRow]) -> str:
    """The numbers of one method on one dataset: the 3-split value, then a full-set value; marked if unverified."""
    from zsar.heads.protocols import PROTOCOLS

    parts = []
    for row in rows:
        text = " / ".join(n.text for n in row.numbers)
        one_split = PROTOCOLS.get(row.protocol).max_splits == 1  # all the target's classes at once (E2E's full)
        parts.append(("full " if one_split else "") + text
                     + ("" if row.is_verified else f" {UNVERIFIED}"))
    return "; ".join(parts) or "-"


def _by_method(rows: list[PublishedRow]) -> dict[str, list[PublishedRow]]:
    found: dict[str, list[PublishedRow]] = {}
    for row in rows:
        found.setdefault(row.method, []).append(row)
    return found


def _zsar_cell(rows: list[PublishedRow]) -> str:
    ids = [r.id for r in rows if r.reproducible]
    return ", ".join(f"`{i}`" for i in ids) if ids else "-"


def _pivot(group: str, columns: dict[str, str], extra: bool) -> str:
    """One row per method, one column per dataset (from ``published.csv``)."""
    rows = [r for r in load_rows() if r.group == group]
    head = ["method", *(["model", "training"] if extra else []), *columns.values(), "zsar rows", "source"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for method, found in _by_method(rows).items():
        cells = [_cell([r for r in found if r.dataset == d]) for d in columns]
        sources = ", ".join(dict.fromkeys(_link(r) for r in found))
        first = found[0]
        lines.append("| " + " | ".join([method, *([first.model, first.training] if extra else []), *cells,
                                        _zsar_cell(found), sources]) + " |")
    return "\n".join(lines)


def cross_dataset_table() -> str:
    """CLIP-era cross-dataset rows: K400 -> UCF101 / HMDB51 (3 splits; full sets) / K600-novel."""
    return _pivot("cross-dataset", CROSS_COLUMNS, extra=True)


def base_to_novel_table() -> str:
    """Base / novel / HM on K400, HMDB51, UCF101, SSv2."""
    return _pivot("base-novel", B2N_COLUMNS, extra=False)


def e2e_era_table() -> str:
    """The E2E-era rows (half and all classes of UCF101, HMDB51, ActivityNet)."""
    return _pivot("e2e-era", E2E_COLUMNS, extra=False)


def recipes_table() -> str:
    """Every reproducible row's recipe and band, whether a released README or code confirms it; then, per row,
    why its band is what it is and what zsar's run still does otherwise."""
    head = ["row", "published", "band", "prompts", "ensemble", "frames x views", "pooling", "protocol", "head",
            "verified"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for r in reproducible_rows():
        numbers = ", ".join(f"{METRIC_NAMES[n.metric]} {n.text}" for n in r.numbers)
        frames = f"{r.frames}{f' at stride {r.stride}' if r.stride else ''} ({r.sampling}) x {r.views}"
        stated = "published" if r.numbers[0].published is not None else "stated"
        verified = "yes" if r.is_verified else "**no**"
        lines.append("| " + " | ".join([f"`{r.id}`", f"{numbers} ({_link(r)})", f"± {r.numbers[0].band:g} ({stated})",
                                        r.prompts, r.ensemble, frames, r.pooling, f"{r.protocol} on {r.dataset}",
                                        r.head, verified]) + " |")
        notes.append(f"- `{r.id}`: band: {r.band_why}. Checked: {r.checked}. "
                     f"Still different in zsar: {r.differences or 'nothing known'}.")
    return "\n".join(lines + [""] + notes)


def example_plan(row: str = EXAMPLE_ROW) -> str:
    """``zsar reproduce ROW --plan`` with example dataset folders, as a bash block."""
    inputs = Inputs(roots=EXAMPLE_ROOTS, out=Path("zsar-reproduce"))
    return f"```bash\n{plan_rows(select_rows([row]), inputs).script().rstrip()}\n```"


def page_sections() -> dict[str, dict[str, str]]:
    """``{page (relative to the repository): {section name: body}}`` of the generated parts."""
    return {
        "docs/clip-era.md": {"reproduce-rows": recipes_table(), "reproduce-example-plan": example_plan(),
                             "published-cross-dataset": cross_dataset_table(),
                             "published-base-to-novel": base_to_novel_table()},
        "docs/reproducing.md": {"published-e2e-era": e2e_era_table(),
                                "published-cross-dataset": cross_dataset_table()},
    }
