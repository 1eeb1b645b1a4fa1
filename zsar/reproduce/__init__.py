"""``zsar reproduce``: published rows with their whole recipes, the commands that reproduce them, and the verdicts.

- ``rows``: ``published.csv``, the table of published numbers and recipes (``load_rows``,
  ``reproducible_rows``, ``select_rows``, ``format_listing``);
- ``plan``: the ``zsar extract`` / ``zsar train-head`` commands of some rows (``plan_rows``);
- ``compare``: ours beside the published numbers, verdicts, paired tests, the report;
- ``standin``: a tiny offline stand-in of the datasets and CLIP for ``--dry``;
- ``docs``: the tables of ``docs/clip-era.md`` and ``docs/reproducing.md``, from the CSV.

The commands themselves run in ``zsar.cli.reproduce`` (through the ``zsar`` app, in-process).
"""

from zsar.reproduce.compare import (Outcome, compare, format_comparison, summary_line, verdict,
                                    write_reproduce_report)
from zsar.reproduce.plan import Inputs, Plan, Step, needs_few_shot, plan_rows, rows_datasets
from zsar.reproduce.rows import (PublishedRow, format_listing, load_rows, reproducible_rows, select_rows)
from zsar.reproduce.standin import write_standin

__all__ = ["Inputs", "Outcome", "Plan", "PublishedRow", "Step", "compare", "format_comparison", "format_listing",
           "load_rows", "needs_few_shot", "plan_rows", "reproducible_rows", "rows_datasets", "select_rows", "summary_line", "verdict",
           "write_reproduce_report", "write_standin"]
