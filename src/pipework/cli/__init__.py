"""The ``pipework`` command: run, plan, inspect and clean pipelines, profiles and the run store.

One module per group of commands: :mod:`~pipework.cli.pipelines` (``run``, ``why``, ``graph``,
``clean``), :mod:`~pipework.cli.settings` (``profile``, ``plugins``, ``version``),
:mod:`~pipework.cli.runs` (``history``, ``show``, ``status``, ``logs``),
:mod:`~pipework.cli.provenance` (``lineage``, ``trace``, ``compare``) and :mod:`~pipework.cli.report`
(``report``). The group (:mod:`~pipework.cli.group`) catches :class:`~pipework.errors.PipeworkError`
once, prints its message and exits 1; a traceback is shown only with ``--debug``. ``pipework run FILE``
takes the options of ``python FILE`` and runs through :mod:`pipework.launch`, as ``MyPipeline.main()``
does.
"""

from __future__ import annotations

import click

from . import pipelines, provenance, report, runs, settings
from .group import cli
from .loading import load_pipeline

__all__ = ["cli", "load_pipeline", "main"]

_COMMANDS = (pipelines, provenance, report, runs, settings)  # imported for the commands they add


def main() -> None:
    """Entry point of the ``pipework`` console script."""
    from ..plugins import PluginManager

    try:
        manager = PluginManager(warn=lambda m: click.echo(f"pipework: warning: {m}", err=True))
        for impl in manager._pm.hook.on_cli.get_hookimpls():
            impl.function(cli=cli)
    except Exception as exc:  # a broken plugin never breaks the CLI
        click.echo(f"pipework: warning: a plugin's on_cli failed: {exc}", err=True)
    cli()
