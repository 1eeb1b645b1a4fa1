"""``zsar cache ls|info|verify``: list, describe and check feature caches."""

from __future__ import annotations

import typer

from zsar.cli.app import app, command
from zsar.cli.options import CacheFolder, CacheRoot, default_cache

cache_app = typer.Typer(help="List, describe and check feature caches.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")


@command("ls", on=cache_app)
def cache_ls(cache: CacheRoot = None) -> None:
    """List the feature caches under a cache root."""
    from zsar.cache.catalog import format_cache_list, list_caches

    root = cache if cache is not None else default_cache()
    typer.echo(format_cache_list(root, *list_caches(root)))


@command("info", on=cache_app)
def cache_info(cache: CacheFolder) -> None:
    """Describe one feature cache: what it was made from and what it holds."""
    from zsar.cache.catalog import describe_cache, format_cache_info

    typer.echo(format_cache_info(describe_cache(cache)))


@command("verify", on=cache_app)
def cache_verify(cache: CacheFolder) -> None:
    """Recheck every file of a cache (config, manifests, text, shards); exit 1 if anything is damaged."""
    from zsar.cache.verify import verify_cache

    report = verify_cache(cache)
    for problem in report.problems:
        typer.echo(problem)
    if report.problems:
        typer.echo(f"{len(report.problems)} problem(s) in {report.cache_dir}; `zsar extract` with the same "
                   "settings repairs them (run it for each rank named, with --shard RANK/N)", err=True)
        raise typer.Exit(1)
    done = report.completeness
    typer.echo(f"ok: {report.shards} shards, {report.videos} videos verified"
               + (f" ({report.failed} failed videos recorded)" if report.failed else "")
               + ("" if done is None or done.complete else f"; incomplete: {done.describe()}"))

