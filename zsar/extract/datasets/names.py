"""Class names as natural text: ``brush_hair`` -> "brush hair", ``ApplyEyeMakeup`` -> "apply eye makeup".

``natural_text`` is the one place a dataset's raw folder/label name becomes the text a
text encoder sees. The rule: an exact entry of ``NAME_OVERRIDES`` wins; otherwise
underscores and hyphens become spaces, CamelCase words are split (``YoYo`` -> "yo yo",
``TaiChi`` -> "tai chi"; a run of capitals stays one word: ``PlayingDJ`` -> "playing dj"),
everything is lower-cased and runs of spaces collapse to one. Kinetics and ActivityNet
labels ("passing American football (in game)") keep their punctuation.

The override table is deliberately small: only names whose mechanical text is a non-word
or misleading for a text encoder.
"""

from __future__ import annotations

import re

# Raw name (exact match) -> natural text. Keep it small; each entry says why.
NAME_OVERRIDES: dict[str, str] = {
    # HMDB51
    "fall_floor": "fall on the floor",  # the action is falling down, not a floor
    "pullup": "pull up",  # one-word spellings that word-vector vocabularies lack
    "pushup": "push up",
    "situp": "sit up",
    # UCF101
    "Skijet": "jet ski",  # "skijet" is not a word; the videos show jet skiing
    "HandstandPushups": "handstand push ups",  # CamelCase gives "pushups"
    "WallPushups": "wall push ups",
}

_CAMEL_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SEPARATORS = re.compile(r"[_\-\s]+")


def natural_text(name: str) -> str:
    """The natural-language text of a raw class name (see the module docstring for the rule)."""
    if name in NAME_OVERRIDES:
        return NAME_OVERRIDES[name]
    words = _SEPARATORS.sub(" ", name)
    words = " ".join(_CAMEL_BOUNDARY.sub(" ", word) for word in words.split(" "))
    return " ".join(words.lower().split())
