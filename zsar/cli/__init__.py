"""The ``zsar`` command line: one module per command group, each command parses flags, builds a config and
calls one library function.

``app`` and ``command`` live in ``zsar.cli.app``, the options several commands share in
``zsar.cli.options``; importing this package registers every command.
"""

from zsar.cli import demo, extract, cache, heads, sweep, metrics, predict, reproduce, weights  # noqa: F401,I001 (the help lists them in this order)
from zsar.cli.app import app, main

__all__ = ["app", "main"]
