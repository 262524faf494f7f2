"""The ``pipework`` command: run, plan, inspect and clean pipelines, profiles and the run store.

It catches :class:`~pipework.errors.PipeworkError` once, prints its message and exits 1; a traceback is
shown only with ``--debug``. ``pipework run FILE`` takes the options of ``python FILE`` and runs through
:mod:`pipework.launch`, as ``MyPipeline.main()`` does.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from .errors import ConfigError, PipeworkError
from .launch import last_run_source, launch

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["cli", "load_pipeline", "main"]


# -- loading a pipeline from a file ----------------------------------------------------------------
def load_pipeline(target: str) -> type[Pipeline]:
    """Import ``FILE[:Class]`` and return the Pipeline subclass (the only one in FILE, or Class).

    Raises:
        ConfigError: If the file cannot be imported or holds no (or several) pipelines.
    """
    from .pipeline import Pipeline

    file, _, name = target.partition(":")
    path = Path(file).resolve()
    if not path.is_file():
        raise ConfigError(f"no pipeline file {file!r}", hint="give FILE[:Class], e.g. pipeline.py:Lines")
    module_name = f"_pipework_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {file!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except PipeworkError as exc:
        raise exc.within(doing=f"importing {file!r}{_line_in(exc, path)}") from exc
    except Exception as exc:
        raise ConfigError(
            f"importing {file!r}{_line_in(exc, path)} failed: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        sys.path.remove(str(path.parent))
    found = {
        k: v
        for k, v in vars(module).items()
        if isinstance(v, type)
        and issubclass(v, Pipeline)
        and v is not Pipeline
        and v.__module__ == module_name
    }
    if name:
        if name not in found:
            raise ConfigError(
                f"{file!r} has no Pipeline subclass {name!r}",
                hint=f"found: {', '.join(found) or 'none'}",
            )
        return found[name]
    if len(found) != 1:
        raise ConfigError(
            f"{file!r} defines {len(found)} pipelines",
            hint=f"name one: {file}:{'|'.join(found) or 'Class'}",
        )
    return next(iter(found.values()))


def _line_in(exc: BaseException, path: Path) -> str:
    """``" (line N)"``: the last line of ``path`` that the error went through, or ``""``."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line is not None else ""


def _last_run(workdir: str) -> str:
    source = last_run_source(workdir)
    if source is None:
        raise ConfigError(
            f"no pipeline given and no previous run recorded in {workdir}",
            hint="give the pipeline with --pipeline FILE[:Class]",
        )
    return source


_STORE_OPTION = click.option(
    "--store", help="Run store: a SQLite file or a database URL (default: the store setting, PIPEWORK_STORE)."
)
_ALL_OPTION = click.option(
    "--all", "all_projects", is_flag=True, help="Runs of every project, not only this one."
)


def _why_running(proc: str, index: int | None, store: str | None) -> bool:
    """Print the reasons of PROC's jobs from this project's latest run while it runs; False when no
    run of this project runs (or the store cannot be read): the plan says why, then."""
    from .store.views import why_lines

    try:
        found = why_lines(_store(store), proc, index, project=os.getcwd())
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


# -- pipework ... ----------------------------------------------------------------------------------
class _Group(click.Group):
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


@cli.command()
@click.argument("proc")
@click.argument("index", type=int, required=False)
@click.option("-p", "--pipeline", "target", help="FILE[:Class] (default: the last run in the workdir)")
@click.option("--workdir", default="./.pipework", show_default=True, help="Workdir of the last run.")
@click.option("--profile", help="Profile to apply.")
@_STORE_OPTION
def why(
    proc: str, index: int | None, target: str | None, workdir: str, profile: str | None, store: str | None
) -> None:
    """Print why each job of PROC (or job INDEX) would run, one line per job; while this project's
    latest run runs, why that run runs (or skips) each of them, from the run store."""
    if _why_running(proc, index, store):
        return
    cls = load_pipeline(target or _last_run(workdir))
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
    from . import paths
    from .lock import RunLock

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


@cli.group()
def profile() -> None:
    """List profiles or show the effective values of one."""


@profile.command("list")
def profile_list() -> None:
    """List the profiles of ~/.pipework.toml and ./.pipework.toml."""
    from .config import config_files, load_profiles

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
    from .config import RunConfig, resolve

    config, sources = resolve(attrs={}, profile=name)
    for key in RunConfig.field_names():
        value = getattr(config, key)
        click.echo(f"{key} = {json.dumps(value)}" + (f"    # {sources[key]}" if key in sources else ""))


@cli.command()
def plugins() -> None:
    """List installed plugins and schedulers."""
    from .plugins import discover
    from .schedulers import available

    found = discover()
    click.echo("plugins:" if found else "plugins: none installed")
    for name, value in found.items():
        click.echo(f"  {name}  ({value})")
    click.echo("schedulers:")
    for name, value in available().items():
        click.echo(f"  {name}  ({value})")


def _store(location: str | None) -> Any:
    """The run store of ``--store``, else of the ``store`` setting (profiles, ``PIPEWORK_STORE``)."""
    from .config import resolve
    from .store import RunStore

    if location is None:
        location = resolve(attrs={})[0].store
    return RunStore(location)


def _project(all_projects: bool) -> str | None:
    """The project whose runs a command shows: the current directory (None with ``--all``)."""
    return None if all_projects else os.getcwd()


@cli.command()
@click.option("-p", "--pipeline", help="Only runs of this pipeline.")
@click.option("-n", "--limit", default=20, show_default=True, help="How many runs.")
@_ALL_OPTION
@_STORE_OPTION
def history(pipeline: str | None, limit: int, all_projects: bool, store: str | None) -> None:
    """List recent runs of this project (the current directory), newest first."""
    from .store.views import history_lines

    runs = _store(store).runs(pipeline=pipeline, project=_project(all_projects), limit=limit)
    if not runs:
        click.echo("no runs recorded" + ("" if all_projects else " in this directory (see --all)"))
        return
    click.echo("\n".join(history_lines(runs)))


def _run_or_latest(db: Any, run_id: int | None, all_projects: bool, pipeline: str | None = None) -> Any:
    """Run ``run_id``, or the latest run of this project (of ``pipeline``); None when there is none."""
    if run_id is not None:
        return db.run(run_id)
    return db.latest(pipeline=pipeline, project=_project(all_projects))


@cli.command()
@click.argument("run_id", type=int, required=False)
@_ALL_OPTION
@_STORE_OPTION
def show(run_id: int | None, all_projects: bool, store: str | None) -> None:
    """Show a run (default: the latest of this project): where it ran, its processes, its failed jobs."""
    from .store.views import run_lines

    db = _store(store)
    run = _run_or_latest(db, run_id, all_projects)
    if run is None:
        raise ConfigError(
            "no runs recorded in this directory", hint="give a run id, or see pipework history --all"
        )
    click.echo("\n".join(run_lines(run, db.procs(run.id), db.jobs(run.id))))


@cli.command()
@click.argument("pipeline", required=False)
@_ALL_OPTION
@_STORE_OPTION
def status(pipeline: str | None, all_projects: bool, store: str | None) -> None:
    """Show the latest run of this project (of PIPELINE): its driver and live job counts per process."""
    from .store.views import status_lines

    db = _store(store)
    run = _run_or_latest(db, None, all_projects, pipeline)
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
@_ALL_OPTION
@_STORE_OPTION
def logs(
    proc: str, index: int, run_id: int | None, which: bool | None, all_projects: bool, store: str | None
) -> None:
    """Print the stdout and stderr of job INDEX of PROC (also while the run runs)."""
    from . import paths

    job = _store(store).find_job(proc, index, run_id=run_id, project=_project(all_projects))
    streams = ["job.stdout", "job.stderr"] if which is None else ["job.stdout" if which else "job.stderr"]
    for name in streams:
        path = paths.join(job.dir, name)
        text = paths.read_text(path) if paths.exists(path) else ""
        if which is None:
            click.echo(f"==> {path} <==")
        click.echo(text, nl=False)


@cli.command()
def version() -> None:
    """Print the pipework version."""
    from ._version import __version__

    click.echo(f"pipework {__version__}")


def main() -> None:
    """Entry point of the ``pipework`` console script."""
    from .plugins import PluginManager

    try:
        manager = PluginManager(warn=lambda m: click.echo(f"pipework: warning: {m}", err=True))
        for impl in manager._pm.hook.on_cli.get_hookimpls():
            impl.function(cli=cli)
    except Exception as exc:  # a broken plugin never breaks the CLI
        click.echo(f"pipework: warning: a plugin's on_cli failed: {exc}", err=True)
    cli()
