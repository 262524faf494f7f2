"""The commands that read the run store about runs and jobs: ``history``, ``show``, ``status`` and
``logs`` (also while a run runs)."""

from __future__ import annotations

import click

from .group import ALL_OPTION, STORE_OPTION, cli, open_store, project_of, run_of

__all__ = ["history", "logs", "show", "status"]


@cli.command()
@click.option("-p", "--pipeline", help="Only runs of this pipeline.")
@click.option("-n", "--limit", default=20, show_default=True, help="How many runs.")
@ALL_OPTION
@STORE_OPTION
def history(pipeline: str | None, limit: int, all_projects: bool, store: str | None) -> None:
    """List recent runs of this project (the current directory), newest first."""
    from ..store.views import history_lines

    runs = open_store(store).runs(pipeline=pipeline, project=project_of(all_projects), limit=limit)
    if not runs:
        click.echo("no runs recorded" + ("" if all_projects else " in this directory (see --all)"))
        return
    click.echo("\n".join(history_lines(runs)))


@cli.command()
@click.argument("run_id", type=int, required=False)
@ALL_OPTION
@STORE_OPTION
def show(run_id: int | None, all_projects: bool, store: str | None) -> None:
    """Show a run (default: the latest of this project): where it ran, its processes, its failed jobs."""
    from ..store.views import run_lines

    db = open_store(store)
    run = run_of(db, run_id, all_projects)
    click.echo("\n".join(run_lines(run, db.procs(run.id), db.jobs(run.id))))


@cli.command()
@click.argument("pipeline", required=False)
@ALL_OPTION
@STORE_OPTION
def status(pipeline: str | None, all_projects: bool, store: str | None) -> None:
    """Show the latest run of this project (of PIPELINE): its driver and live job counts per process."""
    from ..store.views import status_lines

    db = open_store(store)
    run = db.latest(pipeline=pipeline, project=project_of(all_projects))
    if run is None:
        click.echo("no runs recorded" + ("" if all_projects else " in this directory (see --all)"))
        return
    click.echo("\n".join(status_lines(run, db.procs(run.id))))


@cli.command()
@click.argument("proc")
@click.argument("index", type=int, default=0)
@click.option(
    "--run", "run_id", type=int, help="Run id (default: the latest run of this project that has PROC)."
)
@click.option("--stdout/--stderr", "which", default=None, help="Only one of the two streams.")
@ALL_OPTION
@STORE_OPTION
def logs(
    proc: str, index: int, run_id: int | None, which: bool | None, all_projects: bool, store: str | None
) -> None:
    """Print the stdout and stderr of job INDEX of PROC (also while the run runs)."""
    from .. import paths

    job = open_store(store).find_job(proc, index, run_id=run_id, project=project_of(all_projects))
    streams = ["job.stdout", "job.stderr"] if which is None else ["job.stdout" if which else "job.stderr"]
    for name in streams:
        path = paths.join(job.dir, name)
        text = paths.read_text(path) if paths.exists(path) else ""
        if which is None:
            click.echo(f"==> {path} <==")
        click.echo(text, nl=False)
