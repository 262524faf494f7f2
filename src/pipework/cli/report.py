"""``pipework report``: a run's HTML report."""

from __future__ import annotations

import click

from .group import ALL_OPTION, STORE_OPTION, cli, open_store, run_of

__all__ = ["report"]


@cli.command()
@click.argument("run_id", type=int, required=False)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False),
    help="The HTML file (default: pipework-report-RUN.html).",
)
@ALL_OPTION
@STORE_OPTION
def report(run_id: int | None, output: str | None, all_projects: bool, store: str | None) -> None:
    """Write the HTML report of a run (default: this project's latest): one self-contained file with
    its summary, DAG, timeline, resources used and requested, failed jobs and every job."""
    from ..report import write_report

    db = open_store(store)
    run = run_of(db, run_id, all_projects)
    path = output or f"pipework-report-{run.id}.html"
    size = write_report(db, run.id, path)
    click.echo(f"wrote {path} ({size / 1e6:.1f} MB, run {run.id})", err=True)
