"""The ``zsar`` app: the ``command`` decorator every command module uses, logging and plugins, ``main``.

User mistakes surface as ``ZsarError``; they are printed as one ``error: ...`` line on
stderr with exit status 2, never as a traceback. Options before the command: ``--version``,
``-v``/``-q`` (log level) and ``--offline`` (no Hugging Face downloads: sets ``HF_HUB_OFFLINE=1``
for the command and what it starts).
"""

from __future__ import annotations

import functools
import logging
import os
import signal
import sys
from typing import Annotated, Any, Callable

import typer

from zsar import __version__
from zsar.errors import ZsarError
from zsar.registry import load_plugins

OFFLINE_ENV = "HF_HUB_OFFLINE"  # huggingface_hub's own switch, read by zsar.extract.models.hf

app = typer.Typer(
    name="zsar",
    help="Zero-shot action recognition: extract a feature cache, train light heads on it, measure them.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


# What an interrupted command keeps (every file is written atomically) and how to go on.
_KEPT = {
    "extract": "the shards committed so far are kept; run the same `zsar extract` command to resume",
    "train-head": "the splits finished so far are kept in --out; run the same `zsar train-head` command to resume",
    "sweep": "the runs finished so far are kept; run the same `zsar sweep` command to resume",
}
_KEPT_DEFAULT = "no file was left half-written; run the command again"


def command(*args: Any, on: typer.Typer | None = None, **kwargs: Any) -> Callable:
    """``app.command`` (or ``on.command``) that turns a ``ZsarError`` into a one-line message and exit status 2.

    Help texts that list registered names are ``zsar.cli.options.Listing``s.
    """

    def decorator(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(*a: Any, **kw: Any) -> Any:
            try:
                return fn(*a, **kw)
            except ZsarError as err:
                typer.echo(f"error: {err}", err=True)
                raise typer.Exit(2) from None
            except KeyboardInterrupt:  # Ctrl-C, SIGINT: say what is kept and how to go on
                # A second interrupt while this process winds down must not turn exit 130 into a signal death.
                signal.signal(signal.SIGINT, signal.SIG_IGN)
                name = args[0] if args else fn.__name__
                typer.echo(f"interrupted: {_KEPT.get(name, _KEPT_DEFAULT)}", err=True)
                raise typer.Exit(130) from None

        return (on or app).command(*args, **kwargs)(wrapper)

    return decorator


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"zsar {__version__}")
        raise typer.Exit()


@app.callback()
def _main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log debug detail.")] = False,
          quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Log warnings only.")] = False,
          offline: Annotated[bool, typer.Option("--offline", help="Download nothing: a Hugging Face model must be in "
                                                 "its cache already (as HF_HUB_OFFLINE=1).")] = False,
          version: Annotated[bool, typer.Option("--version", callback=_print_version, is_eager=True,
                                                help="Print zsar's version and exit.")] = False) -> None:
    level = logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr,
                        force=True)
    for noisy in ("transformers", "sentence_transformers", "huggingface_hub", "urllib3", "filelock", "httpx"):
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))
    if offline:
        os.environ[OFFLINE_ENV] = "1"
    try:
        load_plugins()
    except ZsarError as err:
        typer.echo(f"error: {err}", err=True)
        raise typer.Exit(2) from None


def main() -> None:
    """Console-script entry point."""
    app()

