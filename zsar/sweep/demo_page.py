"""What ``zsar demo`` says about its own run: wall and CPU time, the machine's load, and the section of docs/demo.md.

The demo writes the section to ``OUT/page-<preset>.md``; ``make docs`` (``tools/gen_docs.py``)
copies it between the markers of ``docs/demo.md``. So a demo run never edits a tracked
file, and the page changes only when someone decides to publish a run.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from dataclasses import dataclass, field

from zsar.sweep.table import SweepRow, best_line


def _cpu_seconds() -> float:
    """CPU seconds of this process and its finished children (decoding workers, the runs' jobs)."""
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def load_average() -> float | None:
    """The 1-minute load average, or None where the platform has none."""
    try:
        return os.getloadavg()[0]
    except OSError:
        return None


@dataclass
class DemoClock:
    """Wall time per step, CPU time in all, and the load average at the start (``loads`` adds the end's)."""

    cpu: float
    last: float
    load: float | None
    laps: list[float] = field(default_factory=list)

    @classmethod
    def start(cls) -> "DemoClock":
        return cls(cpu=_cpu_seconds(), last=time.perf_counter(), load=load_average())

    def lap(self) -> float:
        """Seconds since the previous lap (or the start)."""
        now = time.perf_counter()
        seconds, self.last = now - self.last, now
        self.laps.append(seconds)
        return seconds

    def cpu_seconds(self) -> float:
        return _cpu_seconds() - self.cpu

    def loads(self) -> tuple[float | None, float | None]:
        return self.load, load_average()


def timing_line(seconds: dict[str, float], cpu_seconds: float) -> str:
    """``time: 166 s (2.8 min; render 6 s, ...), CPU time 311 s (this process and its jobs)``."""
    steps = ", ".join(f"{name} {s:.0f} s" for name, s in seconds.items())
    total = sum(seconds.values())
    return (f"time: {total:.0f} s ({total / 60:.1f} min; {steps}), CPU time {cpu_seconds:.0f} s "
            "(this process and its jobs)")


def demo_page_section(what: str, rows: list[SweepRow], table: str, seconds: dict[str, float], cpu_seconds: float,
                      load: tuple[float | None, float | None]) -> str:
    """The Markdown of docs/demo.md's section for one run: what ran, on which machine and load, times, table."""
    loads = " and ".join("unknown" if v is None else f"{v:.1f}" for v in load)
    machine = f"{os.cpu_count()} CPU core(s), {platform.machine()}, load average {loads} at the start and end"
    per_run = "\n".join(f"| {r.label} | {r.seconds:.0f} |" for r in rows if r.ran and r.seconds is not None)
    return "\n".join([
        f"{what}, written by the run itself on {machine}:", "", "```", timing_line(seconds, cpu_seconds), "```", "",
        table, "", best_line(rows) + ".", "",
        "<details><summary>Seconds per run (training with model selection, testing, metrics)</summary>", "",
        "| run | s |", "|---|---:|", per_run, "", "</details>"])
