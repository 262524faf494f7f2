"""The commands that follow what runs did, from the run store: ``lineage`` (where an output came
from), ``trace`` (every attempt, as Nextflow's trace file) and ``compare`` (two runs)."""

from __future__ import annotations

import json

import click

from .group import ALL_OPTION, STORE_OPTION, cli, open_store, run_of

__all__ = ["compare", "lineage", "trace"]


@cli.command()
@click.argument("target")
@click.option("--depth", default=10, show_default=True, help="How many levels of inputs to follow.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@STORE_OPTION
def lineage(target: str, depth: int, as_json: bool, store: str | None) -> None:
    """Show where TARGET (an output's path or URL, or its export in the outdir) came from: the run,
    process and job that made it, its script hash, and its inputs with their own producers."""
    from ..errors import ConfigError
    from ..store.lineage import lineage as find
    from ..store.lineage import lineage_json, lineage_lines

    db = open_store(store)
    node = find(db, target, depth=depth)
    if as_json:
        click.echo(json.dumps(lineage_json(node), indent=2))
        return
    if node.artifact is None:
        raise ConfigError(
            f"no run in the run store {db.shown} made {target!r}",
            hint="give an output path of a job, or its export in the outdir (see pipework show)",
        )
    click.echo("\n".join(lineage_lines(node)))


@cli.command()
@click.argument("run_id", type=int, required=False)
@click.option("--format", "fmt", type=click.Choice(["tsv", "json"]), default="tsv", show_default=True)
@click.option("--raw", is_flag=True, help="Numbers (epoch ms, ms, bytes), as Nextflow's trace.raw.")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="Write to this file.")
@ALL_OPTION
@STORE_OPTION
def trace(
    run_id: int | None, fmt: str, raw: bool, output: str | None, all_projects: bool, store: str | None
) -> None:
    """Print one row per job attempt of a run (default: this project's latest) with Nextflow's trace
    fields: task_id hash native_id process tag name status exit submit start complete duration
    realtime %cpu peak_rss workdir attempt hostname."""
    from ..store.trace import trace_json, trace_rows, trace_tsv

    db = open_store(store)
    run = run_of(db, run_id, all_projects)
    rows = trace_rows(db.jobs(run.id), db.attempts(run.id), raw=raw)
    text = trace_json(rows) + "\n" if fmt == "json" else "".join(line + "\n" for line in trace_tsv(rows))
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text)
        click.echo(f"wrote {output}", err=True)
    else:
        click.echo(text, nl=False)


@cli.command()
@click.argument("run_a", type=int)
@click.argument("run_b", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print JSON (every job that differs).")
@STORE_OPTION
def compare(run_a: int, run_b: int, as_json: bool, store: str | None) -> None:
    """Compare two runs: which processes and jobs differ (signatures, why the second ran them) and
    how their times changed."""
    from ..store.compare import compare as diff
    from ..store.compare import compare_json, compare_lines

    found = diff(open_store(store), run_a, run_b)
    click.echo(json.dumps(compare_json(found), indent=2) if as_json else "\n".join(compare_lines(found)))
