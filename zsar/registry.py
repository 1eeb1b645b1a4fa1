"""Named registries for pluggable components: one ``Registry`` type for every kind.

Each pluggable kind has one ``Registry``, filled by a decorator where the component is
defined::

    BACKBONES = Registry("backbone", modules=("zsar.extract.models.clip",))

    @BACKBONES.register("tiny-random", help="seeded random CNN for tests")
    def create_tiny_random(config): ...

Every registry answers the same verbs: ``names()`` (sorted; CLI choices), ``get(name)``
(the registered object), ``create(name, *args)`` (calls it), ``help(name)`` (its one line)
and ``entry(name)`` (all of it). A registry owns its completion: ``modules`` are the modules
whose import registers more entries (the built-in ones defined elsewhere); the first verb
imports them, once. Declaring a registry imports nothing, so this module stays free of
torch and completing a registry is what loads the heavy modules.

A name must be a non-empty string with no surrounding spaces; a duplicate name is refused
at import time; an unknown name raises ``UnknownNameError`` listing the valid ones. An entry
may carry ``tags`` that mark a role (the heads' ``baseline``); ``tagged(tag)`` lists them.

Components outside zsar register the same way from the user's own module; the CLI imports
the modules named in ``ZSAR_PLUGINS`` (comma-separated) before it runs a command.

Help texts list names without importing anything heavy (``zsar --help`` must not import
torch, and the registries of backbones, text encoders, heads and protocols are declared in
modules that do): the CLI reads the built-in names from an index generated from the
completed registries (``zsar/cli/help_names.json``, ``make docs``), and adds what
``registered`` finds registered so far (a plugin's entries), completing nothing.
"""

from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from typing import Any, Callable, Generic, Iterator, TypeVar

from zsar.errors import UnknownNameError, ZsarError

PLUGINS_ENV = "ZSAR_PLUGINS"
# Registry tags of roles that commands choose by (see ``Registry.tagged``):
CLASSIFIER = "classifier"    # a backbone that keeps its own ImageNet classifier layer (``Backbone.classifier``),
#                              which the training-free ``objects`` head applies to the cached features
JOINT_SPACE = "joint-space"  # a backbone or text encoder of a pair of towers with one joint video-text space
#                              (CLIP's): the training-free ``frozen`` head scores the one's features against the other's text
PER_FILE = "per-file"        # a dataset without a fixed video list (``videos``): its cache is keyed by the model
#                              setting alone and grows per file as videos are asked for (``zsar.extract.per_file``)

T = TypeVar("T")
_MADE: dict[str, list["Registry"]] = {}  # every registry made in this process, by kind (``registered`` reads them)


@dataclass(frozen=True, kw_only=True)
class Entry(Generic[T]):
    """One registered component: its name, the registered object, a one-line help, its role tags and rank.

    ``order`` counts registrations: 0 for the first entry of the registry. ``tiny``: what
    builds a small, fast instance for tests (a backbone's: ``(name, folder) -> BackboneConfig``,
    writing tiny weights into ``folder``; None: the defaults are small enough).
    """

    name: str
    obj: T
    help: str
    tags: frozenset[str] = frozenset()
    order: int = 0
    tiny: Any = None


class Registry(Generic[T]):
    """A name -> component map for one kind of component (e.g. ``"backbone"``), completed on first use.

    ``modules``: modules whose import registers the built-in entries defined outside the
    registry's own module; they are imported once, by the first verb that reads the registry.
    """

    def __init__(self, kind: str, modules: tuple[str, ...] = ()) -> None:
        self.kind = kind
        self.modules = tuple(modules)
        self._entries: dict[str, Entry[T]] = {}
        self._added = 0
        self._completed = not self.modules
        _MADE.setdefault(kind, []).append(self)

    def register(self, name: str, *, help: str = "", tags: tuple[str, ...] = (),
                 tiny: Any = None) -> Callable[[T], T]:
        """Decorator that registers ``obj`` under ``name``; a second use of a name is an error."""
        self._check_name(name)

        def decorator(obj: T) -> T:
            self.add(name, obj, help=help, tags=tags, tiny=tiny)
            return obj

        return decorator

    def add(self, name: str, obj: T, *, help: str = "", tags: tuple[str, ...] = (), tiny: Any = None) -> None:
        """Register ``obj`` under ``name`` without a decorator (the same checks as ``register``)."""
        self._check_name(name)
        if name in self._entries:
            previous = self._entries[name].obj
            raise ValueError(
                f"duplicate {self.kind} name {name!r}: already registered by "
                f"{getattr(previous, '__module__', '?')}.{getattr(previous, '__qualname__', previous)}"
            )
        self._entries[name] = Entry(name=name, obj=obj, help=help, tags=frozenset(tags), order=self._added, tiny=tiny)
        self._added += 1

    def _check_name(self, name: object) -> None:
        if not isinstance(name, str) or not name or name != name.strip():
            raise ValueError(f"invalid {self.kind} name {name!r}: a non-empty string with no surrounding spaces")

    def complete(self) -> "Registry[T]":
        """Import ``modules`` (once) so the built-in entries are registered; returns the registry."""
        if not self._completed:
            self._completed = True  # first: a module that reads the registry while it registers must not recurse
            for module in self.modules:
                importlib.import_module(module)
        return self

    def get(self, name: str) -> T:
        """The component registered as ``name``; an unknown name lists the valid ones."""
        return self.entry(name).obj

    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Call the component registered as ``name`` with ``args`` (a factory or a class)."""
        return self.get(name)(*args, **kwargs)  # type: ignore[operator]

    def help(self, name: str) -> str:
        """The one-line help of ``name``."""
        return self.entry(name).help

    def entry(self, name: str) -> Entry[T]:
        self.complete()
        try:
            return self._entries[name]
        except KeyError:
            valid = ", ".join(self.names()) or "(none registered)"
            raise UnknownNameError(f"unknown {self.kind} {name!r}; valid {self.kind}s: {valid}") from None

    def names(self) -> list[str]:
        """Registered names, sorted."""
        self.complete()
        return sorted(self._entries)

    def entries(self) -> list[Entry[T]]:
        """Every entry, sorted by name."""
        return [self._entries[n] for n in self.names()]

    def in_order(self) -> list[Entry[T]]:
        """Every entry in the order it was registered."""
        self.complete()
        return sorted(self._entries.values(), key=lambda e: e.order)

    def tagged(self, tag: str) -> list[str]:
        """The names whose entry carries ``tag``, in the order they were registered."""
        return [e.name for e in self.in_order() if tag in e.tags]

    def __contains__(self, name: object) -> bool:
        self.complete()
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self.names())

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {sorted(self._entries)})"


def registered(kind: str, tag: str | None = None) -> list[str]:
    """The names (those carrying ``tag``, if given) registered so far in the registries of ``kind`` made in this
    process, sorted; completes nothing and imports nothing (a registry whose module is not imported adds none)."""
    return sorted({e.name for registry in _MADE.get(kind, []) for e in registry._entries.values()
                   if tag is None or tag in e.tags})


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
