"""The ``zsar`` command line: one module per command group, each command parses flags, builds a config and
calls one library function.

``app`` and ``command`` live in ``zsar.cli.app``, the options several commands share in
``zsar.cli.options``; importing this package registers every command.
"""

from zsar.cli import cache, demo, extract, heads, metrics, predict, sweep  # noqa: F401 (they register commands)
from zsar.cli.app import app, main

__all__ = ["app", "main"]
