"""``zsar sweep`` and ``zsar demo``: many ``train-head`` runs over a grid, measured, in one table.

- ``grid``: the grid of a sweep (heads x generator x transfer x re-rank x head options) and its runs;
- ``table``: a sweep's rows, its one table with the baseline row and chance, and ``report.md``;
- ``demo``: ``zsar demo``, render + extract + a short list of such runs on the synthetic set.
"""

from zsar.sweep.grid import SweepConfig, SweepResult, parse_head_grid, run_sweep
from zsar.sweep.table import SweepRow, best_line

__all__ = ["SweepConfig", "SweepResult", "SweepRow", "best_line", "parse_head_grid", "run_sweep"]
