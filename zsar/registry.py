"""Named registries for pluggable components (datasets, backbones, text encoders, heads, losses).

Each pluggable kind has one ``Registry``, filled by a decorator where the component is
defined::

    BACKBONES = Registry("backbone")

    @BACKBONES.register("tiny-random", help="seeded random CNN for tests")
    def create_tiny_random(config): ...

A duplicate name is refused at import time; an unknown name raises ``UnknownNameError``
listing the valid ones; ``names()`` feeds CLI choices. An entry may carry ``tags`` that
mark a role (the heads' ``baseline``); ``tagged(tag)`` lists the entries that have it.

Components outside zsar register the same way from the user's own module; the CLI imports
the modules named in ``ZSAR_PLUGINS`` (comma-separated) before it runs a command.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Callable, Generic, Iterator, TypeVar

from zsar.errors import UnknownNameError, ZsarError

PLUGINS_ENV = "ZSAR_PLUGINS"

T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class Entry(Generic[T]):
    """One registered component: its name, the registered object, a one-line help, its role tags and rank.

    ``order`` counts registrations: 0 for the first entry of the registry.
    """

    name: str
    obj: T
    help: str
    tags: frozenset[str] = frozenset()
    order: int = 0


class Registry(Generic[T]):
    """A name -> component map for one kind of component (e.g. ``"backbone"``)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._added = 0

    def register(self, name: str, *, help: str = "", tags: tuple[str, ...] = ()) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``; a second use of a name is an error."""
        if not name or name != name.strip():
            raise ValueError(f"invalid {self.kind} name {name!r}")

        def decorator(obj: T) -> T:
            self.add(name, obj, help=help, tags=tags)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, help: str = "", tags: tuple[str, ...] = ()) -> None:
        """Register ``obj`` under ``name`` without a decorator."""
        if name in self._entries:
            previous = self._entries[name].obj
            raise ValueError(
                f"duplicate {self.kind} name {name!r}: already registered by "
                f"{getattr(previous, '__module__', '?')}.{getattr(previous, '__qualname__', previous)}"
            )
        self._entries[name] = Entry(name=name, obj=obj, help=help, tags=frozenset(tags), order=self._added)
        self._added += 1

    def get(self, name: str) -> T:
        """The component registered as ``name``; an unknown name lists the valid ones."""
        return self.entry(name).obj

    def entry(self, name: str) -> Entry[T]:
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(self.names()) or "(none registered)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid {self.kind}s: {valid}") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        return [self._entries[n] for n in self.names()]

    def tagged(self, tag: str) -> list[str]:
        """The names whose entry carries ``tag``, in the order they were registered."""
        return [e.name for e in sorted(self._entries.values(), key=lambda e: e.order) if tag in e.tags]

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"


def load_plugins(spec: str | None = None) -> list[str]:
    """Import the modules in ``spec`` (default: ``$ZSAR_PLUGINS``, comma-separated) so they register components."""
    spec = os.environ.get(PLUGINS_ENV, "") if spec is None else spec
    loaded = []
    for name in filter(None, (part.strip() for part in spec.split(","))):
        try:
            importlib.import_module(name)
        except ImportError as err:
            raise ZsarError(f"{PLUGINS_ENV}: cannot import plugin module {name!r} ({err}); "
                            "put it on PYTHONPATH or fix the name") from None
        loaded.append(name)
    return loaded
