"""The synthetic action set: clips of a stick figure performing named actions, as real video files.

A data generator, not part of extraction: ``zsar synth`` and ``zsar demo`` render it in the
HMDB51 layout, and ``zsar extract --dataset synthetic`` then reads it like any dataset.

- ``actions``: the named actions (poses over time) and their composition;
- ``figure``: the skeleton, its kinematics and drawing;
- ``render``: clips with random size, position, speed and colours, the video files, the
  split lists (``generate_dataset``).
"""

from zsar.synth.actions import ACTIONS
from zsar.synth.render import SynthConfig, generate_dataset, parse_size, render_clip

__all__ = ["ACTIONS", "SynthConfig", "generate_dataset", "parse_size", "render_clip"]
