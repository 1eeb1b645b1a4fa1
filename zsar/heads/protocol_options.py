"""The options types of protocols, each with the published protocol's defaults, and how a run sets them.

A protocol's options are a frozen dataclass (``Protocol.options``): ``--protocol-opt
KEY=VALUE`` (and ``--tau``, ``--base-train``, ``--class-lists``) set its fields by name,
``__post_init__`` checks them, and the defaults are the published protocol's:

- ``NoOptions``: a protocol with none (``within-half``, ``gzsl``);
- ``SourceOptions``: one that trains on a source cache; ``tau`` 0, no overlap filter, as the
  papers that train on the whole source set (``official``; ``k600-novel`` has its own note);
- ``E2EOptions``: E2E's cross protocols, with its filter at ``tau`` 0.05.

``filter_note`` says, for a run's notes, when its source set is not the published one.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from zsar.errors import ZsarError

E2E_TAU = 0.05  # E2E's overlap filter threshold (its cross protocols' default)


@dataclass(frozen=True)
class NoOptions:
    """The options of a protocol that has none."""


@dataclass(frozen=True)
class SourceOptions:
    """Options of a protocol that trains on a source cache: the overlap filter's ``tau`` (``--tau``).

    The default is the published protocol's: 0 (no filter) where the papers train on the whole
    source set (``official``, ``k600-novel``); E2E's 0.05 for its own protocols (``E2EOptions``).
    """

    tau: float = 0.0

    def __post_init__(self) -> None:
        if not 0 <= self.tau <= 2:
            raise ZsarError(f"--tau {self.tau}: a cosine distance, in [0, 2]")

    def filter_note(self, data: Any) -> str | None:
        """What a run notes about its source set (None: it is the published one); ``data``: its ``ProtocolData``."""
        if self.tau == 0:
            return None
        return (f"the overlap filter (--tau {self.tau:g}) dropped source classes near the target's; the papers that "
                "report this protocol train on the whole source set (--tau 0, its default)")


@dataclass(frozen=True)
class E2EOptions(SourceOptions):
    """E2E's cross protocols: its overlap filter, ``tau`` 0.05, run once against the union of its test sets."""

    tau: float = E2E_TAU

    def filter_note(self, data: Any) -> str | None:
        if self.tau == 0 or data.overlap_text:
            return None
        return (f"the source set differs from E2E's Kinetics-664: the overlap filter (--tau {self.tau:g}) ran "
                "against this target's classes only, while E2E filters Kinetics once against UCF101 and HMDB51 "
                "together; pass --overlap-with UCF101_CACHE --overlap-with HMDB51_CACHE for E2E's set")


def protocol_options(protocol: Any, values: dict[str, Any]) -> Any:
    """A ``Protocol``'s options with ``values`` set by name (the others keep its defaults), checked by its type."""
    names = [f.name for f in fields(protocol.options)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        flag = f"--{unknown[0].replace('_', '-')}"
        raise ZsarError(f"--protocol {protocol.name} has no option {unknown[0]!r} ({flag} or --protocol-opt "
                        f"{unknown[0]}=...); its options: {', '.join(names) or 'none'}")
    try:
        return protocol.options(**values)
    except TypeError as error:
        raise ZsarError(f"--protocol-opt for {protocol.name}: {error}") from None
