"""``zsar weights``: which backbones and text encoders have their weights on this machine, and how to get the rest."""

from __future__ import annotations

from zsar.cli.app import command


@command("weights")
def weights() -> None:
    """List every backbone and text encoder: its weights here (and where), or the one command that gets them."""
    import typer

    from zsar.extract.models.hf import hf_cache_dir, offline
    from zsar.weights import format_weights, list_weights

    typer.echo(format_weights(list_weights()))
    mode = "off (HF_HUB_OFFLINE=1)" if offline() else "on: a missing Hugging Face id is fetched on first use"
    typer.echo(f"\nHugging Face cache: {hf_cache_dir()}; downloads {mode}")
