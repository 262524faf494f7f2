"""The ``pipework`` group and what its commands share: error handling, the run store options, and
finding the run a command is about."""

from __future__ import annotations

import os
import sys
import traceback
from typing import TYPE_CHECKING, Any

import click

from ..errors import ConfigError, PipeworkError

if TYPE_CHECKING:
    from ..store import RunRecord, RunStore

__all__ = ["ALL_OPTION", "STORE_OPTION", "cli", "open_store", "project_of", "run_of"]


class _Group(click.Group):
    """Prints a :class:`~pipework.errors.PipeworkError` (a traceback only with ``--debug``), exits 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PipeworkError as exc:
            if ctx.params.get("debug"):
                traceback.print_exc()
            click.echo(f"pipework: error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=_Group)
@click.option("--debug", is_flag=True, help="Show tracebacks.")
def cli(debug: bool) -> None:
    """pipework: class-based workflows on a laptop, a cluster or the cloud."""


STORE_OPTION = click.option(
    "--store", help="Run store: a SQLite file or a database URL (default: the store setting, PIPEWORK_STORE)."
)
ALL_OPTION = click.option(
    "--all", "all_projects", is_flag=True, help="Runs of every project, not only this one."
)


def open_store(location: str | None) -> RunStore:
    """The run store of ``--store``, else of the ``store`` setting (profiles, ``PIPEWORK_STORE``)."""
    from ..config import resolve
    from ..store import RunStore

    if location is None:
        location = resolve(attrs={})[0].store
    return RunStore(location)


def project_of(all_projects: bool) -> str | None:
    """The project whose runs a command shows: the current directory (None with ``--all``)."""
    return None if all_projects else os.getcwd()


def run_of(
    db: RunStore, run_id: int | None, all_projects: bool = False, pipeline: str | None = None
) -> RunRecord:
    """Run ``run_id``, or the latest run of this project (of ``pipeline``).

    Raises:
        ConfigError: When there is no such run.
    """
    if run_id is not None:
        return db.run(run_id)
    found = db.latest(pipeline=pipeline, project=project_of(all_projects))
    if found is None:
        raise ConfigError(
            "no runs recorded in this directory", hint="give a run id, or see pipework history --all"
        )
    return found
