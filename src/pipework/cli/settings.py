"""The commands about this installation: ``profile list|show``, ``plugins`` and ``version``."""

from __future__ import annotations

import json

import click

from .group import cli

__all__ = ["plugins", "profile", "version"]


@cli.group()
def profile() -> None:
    """List profiles or show the effective values of one."""


@profile.command("list")
def profile_list() -> None:
    """List the profiles of ~/.pipework.toml and ./.pipework.toml."""
    from ..config import config_files, load_profiles

    files = config_files()
    profiles = load_profiles(files)
    if not files:
        click.echo("no profile files (~/.pipework.toml, ./.pipework.toml)")
    for name, tables in profiles.items():
        click.echo(f"{name}  ({', '.join(str(p) for p, _ in tables)})")


@profile.command("show")
@click.argument("name", default="default")
def profile_show(name: str) -> None:
    """Print the effective settings of profile NAME and where each comes from."""
    from ..config import RunConfig, resolve

    config, sources = resolve(attrs={}, profile=name)
    for key in RunConfig.field_names():
        value = getattr(config, key)
        click.echo(f"{key} = {json.dumps(value)}" + (f"    # {sources[key]}" if key in sources else ""))


@cli.command()
def plugins() -> None:
    """List installed plugins and schedulers."""
    from ..plugins import discover
    from ..schedulers import available

    found = discover()
    click.echo("plugins:" if found else "plugins: none installed")
    for name, value in found.items():
        click.echo(f"  {name}  ({value})")
    click.echo("schedulers:")
    for name, value in available().items():
        click.echo(f"  {name}  ({value})")


@cli.command()
def version() -> None:
    """Print the pipework version."""
    from .._version import __version__

    click.echo(f"pipework {__version__}")
