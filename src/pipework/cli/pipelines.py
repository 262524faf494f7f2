"""The commands about a pipeline file: ``run``, ``why``, ``graph`` and ``clean``."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import click

from ..errors import ConfigError, PipeworkError
from ..launch import launch
from .group import STORE_OPTION, cli, open_store
from .loading import last_run, load_pipeline

__all__ = ["clean", "graph", "run", "why"]


@cli.command(
    context_settings={
        "ignore_unknown_options": True,
        "allow_extra_args": True,
        "help_option_names": [],
    }
)
@click.argument("target")
@click.pass_context
def run(ctx: click.Context, target: str) -> None:
    """Run the pipeline in TARGET (FILE[:Class]); options as for `python FILE --help`."""
    cls = load_pipeline(target)
    file, _, _ = target.partition(":")
    source = f"{Path(file).resolve()}:{cls.__name__}"
    sys.exit(launch(cls, ctx.args, prog=f"pipework run {target}", source=source))


def _why_running(proc: str, index: int | None, store: str | None) -> bool:
    """Print the reasons of PROC's jobs from this project's latest run while it runs; False when no
    run of this project runs (or the store cannot be read): the plan says why, then."""
    from ..store.views import why_lines

    try:
        found = why_lines(open_store(store), proc, index, project=os.getcwd())
    except PipeworkError as exc:
        if isinstance(exc, ConfigError) and exc.key == "why":
            raise
        return False
    if found is None:
        return False
    note, lines = found
    click.echo(f"pipework: {note}", err=True)
    click.echo("\n".join(lines))
    return True


@cli.command()
@click.argument("proc")
@click.argument("index", type=int, required=False)
@click.option("-p", "--pipeline", "target", help="FILE[:Class] (default: the last run in the workdir)")
@click.option("--workdir", default="./.pipework", show_default=True, help="Workdir of the last run.")
@click.option("--profile", help="Profile to apply.")
@STORE_OPTION
def why(
    proc: str, index: int | None, target: str | None, workdir: str, profile: str | None, store: str | None
) -> None:
    """Print why each job of PROC (or job INDEX) would run, one line per job; while this project's
    latest run runs, why that run runs (or skips) each of them, from the run store."""
    if _why_running(proc, index, store):
        return
    cls = load_pipeline(target or last_run(workdir))
    plans = {p.name: p for p in (cls(profile=profile) if profile else cls()).plan()}
    if proc not in plans:
        raise ConfigError(f"pipeline has no process {proc!r}", hint=f"processes: {', '.join(plans)}")
    plan = plans[proc]
    if plan.njobs is None:
        click.echo(f"{proc}: jobs not known yet ({plan.note})")
        return
    for i, reason in plan.reasons.items():
        if index is None or i == index:
            click.echo(f"{proc} job {i}: {reason or 'cached'}")
    if index is not None and index not in plan.reasons:
        raise ConfigError(f"{proc} has no job {index}", hint=f"it has {plan.njobs} jobs (0-{plan.njobs - 1})")


@cli.command()
@click.argument("target")
@click.option(
    "--svg",
    "svg",
    type=click.Path(dir_okay=False),
    help="Also write an SVG (needs graphviz's dot).",
)
def graph(target: str, svg: str | None) -> None:
    """Print the DAG of the pipeline in TARGET as Mermaid text."""
    cls = load_pipeline(target)
    dag = cls().build_dag()
    lines = ["flowchart TD"]
    for proc in dag.order:
        name = proc.__name__
        shape = f"{name}([{name}])" if name in dag.starts else f"{name}[{name}]"
        lines.append(f"    {shape}")
    for name, reqs in dag.requires.items():
        for req in reqs:
            lines.append(f"    {req} --> {name}")
    click.echo("\n".join(lines))
    if svg:
        dot = shutil.which("dot")
        if dot is None:
            raise ConfigError("--svg needs graphviz's `dot` on PATH", hint="apt-get install graphviz")
        src = (
            "digraph pipeline {\n"
            + "".join(f'  "{r}" -> "{n}";\n' for n, reqs in dag.requires.items() for r in reqs)
            + "".join(f'  "{p.__name__}";\n' for p in dag.order)
            + "}\n"
        )
        subprocess.run([dot, "-Tsvg", "-o", svg], input=src, text=True, check=True)
        click.echo(f"wrote {svg}", err=True)


@cli.command()
@click.argument("target")
@click.option("--workdir", help="Workdir (default: the pipeline's).")
@click.option("--outputs", is_flag=True, help="Also remove the exported outputs.")
@click.option("-y", "--yes", is_flag=True, help="Do not ask.")
def clean(target: str, workdir: str | None, outputs: bool, yes: bool) -> None:
    """Remove the job directories (and with --outputs the exports) of the pipeline in TARGET."""
    from .. import paths
    from ..lock import RunLock

    cls = load_pipeline(target)
    pipeline = cls(workdir=workdir) if workdir else cls()
    config = pipeline.resolve_config()
    pdir = paths.join(paths.resolve(config.workdir), pipeline.pipeline_name)
    doomed = [pdir] + ([pipeline.outdir_path] if outputs else [])
    if not yes:
        click.confirm(f"remove {', '.join(doomed)}?", abort=True)
    lock = RunLock(pdir)
    lock.acquire()
    try:
        for path in doomed:
            paths.rmtree(path)
            click.echo(f"removed {path}")
    finally:
        lock.release()
