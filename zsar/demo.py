"""``zsar demo``: the whole pipeline on the synthetic action set, with no network.

The demo grows with the pipeline: it renders the synthetic dataset (HMDB51 layout),
and then runs the later stages on it as they exist.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from zsar.extract.synth import SynthConfig, generate_dataset


@dataclass(frozen=True)
class DemoConfig:
    """Where the demo writes and how big it is (``quick``: fewer clips and splits)."""

    out: Path = Path("zsar-demo")
    quick: bool = False

    @property
    def synth(self) -> SynthConfig:
        return SynthConfig(classes=20, per_class=6 if self.quick else 12, frames=32)


def run_demo(config: DemoConfig, echo: Callable[[str], None]) -> None:
    """Run the demo and report each step through ``echo``."""
    data = Path(config.out) / "synthetic"
    synth = config.synth
    echo(f"[1/1] rendering {synth.classes} actions x {synth.per_class} clips into {data}")
    generate_dataset(synth, data)
    echo(f"      done: {synth.classes * synth.per_class} clips in {data / 'videos'}, "
         f"split files in {data / 'splits'}")
    echo("next stages (extract, train-head, metrics) run here once they are built")
