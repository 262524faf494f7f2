"""What a run would do, without running anything: ``--dry-run`` and ``pipework why``.

For each process in order, the plan builds its jobs from the upstream plans (output paths are known
before they exist) and checks each job's cache, giving the one-line reason a job would run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from . import cache, export, paths
from .channel import Channel
from .errors import PipeworkError
from .job import Job, JobBuilder, input_channel, template_engine
from .jobdir import check_inputs
from .schedulers import scheduler_for
from .spec import ProcSpec
from .stage import stage_root
from .state import JobState
from .template import TemplateEngine

__all__ = ["Expansion", "ProcPlan", "builders_for", "expand", "format_plan", "make_plan"]


@dataclass
class ProcPlan:
    """The plan of one process.

    Attributes:
        name: The process name.
        njobs: Its number of jobs (None when it cannot be known before its upstream runs).
        reasons: For each job index, why it would run (empty string: cached).
        note: Why the jobs are unknown, or an error found while planning.
    """

    name: str
    njobs: int | None = None
    reasons: dict[int, str] = field(default_factory=dict)
    note: str = ""

    @property
    def cached(self) -> int:
        """Number of cached jobs."""
        return sum(1 for r in self.reasons.values() if not r)

    @property
    def to_run(self) -> int:
        """Number of jobs that would run."""
        return sum(1 for r in self.reasons.values() if r)


@dataclass
class Expansion:
    """A process's jobs, expanded before anything runs from its upstream processes' predicted outputs.

    Attributes:
        channel: Its input channel (None when it can only be known once its upstream ran: an
            ``input_data`` callable that reads upstream files).
        jobs: Its jobs, placed and rendered (empty when ``channel`` is None).
        output: The output channel its jobs will produce.
        note: Why the jobs are not known yet.
    """

    channel: Channel | None
    jobs: list[Job] = field(default_factory=list)
    output: Channel | None = None
    note: str = ""


def expand(
    specs: Mapping[str, ProcSpec], builders: Mapping[str, JobBuilder], *, outdir: str
) -> dict[str, Expansion]:
    """Expand every process of the DAG into its jobs before anything runs (output paths are templates
    of inputs, so downstream inputs are known in advance).

    Template errors, missing inputs that no upstream process makes and export collisions anywhere in
    the DAG are found here, before the first job starts. Reads input files' existence only.

    Raises:
        PipeworkError: For the first such error, naming the process.
    """
    out: dict[str, Expansion] = {}
    made: set[str] = set()  # every output path some job will make
    for name, spec in specs.items():
        upstream = [out[r] for r in spec.requires]
        waiting = [r for r, u in zip(spec.requires, upstream, strict=True) if u.output is None]
        if waiting:
            out[name] = Expansion(None, note=f"waits on {', '.join(waiting)}")
            continue
        try:
            channel = input_channel(spec, [u.output for u in upstream if u.output is not None])
        except PipeworkError:
            if callable(spec.input_data) and spec.requires:  # it reads what upstream jobs write
                out[name] = Expansion(None, note=f"jobs known once {', '.join(spec.requires)} ran")
                continue
            raise
        jobs = builders[name].make_jobs(channel)
        export.targets(spec, jobs, outdir)
        check_inputs(jobs, made=made)
        outs = [o.name for o in spec.outputs]
        rows = [[j.outputs[o] for o in outs] for j in jobs]
        made.update(str(v) for row in rows for v in row)
        out[name] = Expansion(channel, jobs, Channel(outs, rows))
    return out


def builders_for(specs: Mapping[str, ProcSpec], *, pipeline_dir: str, run_tag: str) -> dict[str, JobBuilder]:
    """The job builder of every process, its scheduler and options checked.

    Raises:
        ConfigError: For an unknown scheduler or invalid options, naming the process.
        TemplateError: For a template that does not compile.
    """
    engines: dict[tuple[str, tuple[str, ...]], TemplateEngine] = {}
    root = stage_root()
    builders = {}
    for name, spec in specs.items():
        cls = scheduler_for(spec)
        builders[name] = JobBuilder(
            spec,
            template_engine(spec, engines),
            proc_dir=paths.join(pipeline_dir, name),
            run_tag=run_tag,
            stage_root=root,
            access=cls.file_access,
        )
    return builders


def make_plan(
    specs: Mapping[str, ProcSpec], *, pipeline_dir: str, outdir: str, run_tag: str
) -> list[ProcPlan]:
    """Plan every process (reads the workdir, writes nothing).

    Args:
        specs: The processes, in topological order.
        pipeline_dir: The pipeline's directory in the workdir.
        outdir: The export directory.
        run_tag: The run's tag.

    Raises:
        PipeworkError: For invalid declarations or configuration.
    """
    builders = builders_for(specs, pipeline_dir=pipeline_dir, run_tag=run_tag)
    expansions = expand(specs, builders, outdir=outdir)
    plans: list[ProcPlan] = []
    rerun: dict[str, str] = {}  # output path of a job that will run -> "Proc job i"
    moves: dict[str, dict[int, int]] = {}  # rows matched to another row's previous run, by process
    for name, spec in specs.items():
        expansion = expansions[name]
        plan = ProcPlan(name, note=expansion.note)
        plans.append(plan)
        if expansion.channel is None:
            continue
        plan.njobs = len(expansion.jobs)
        fresh = []
        for job in expansion.jobs:
            source = next((rerun[v] for v in _values(job.inputs) if v in rerun), None)
            if source:
                plan.reasons[job.index] = f"its input comes from {source}, which will run"
            else:
                fresh.append(job)
        cache.check(fresh, spec.cache, moves=moves, moved=False)
        for job in fresh:
            plan.reasons[job.index] = "" if job.state is JobState.CACHED else job.cache_reason
        for job in expansion.jobs:
            if plan.reasons[job.index]:
                for value in _values(job.outputs):
                    rerun[value] = f"{name} job {job.index}"
    return plans


def _values(mapping: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for value in mapping.values():
        if isinstance(value, (list, tuple)):
            out.extend(str(v) for v in value)
        else:
            out.append(str(value))
    return out


def format_plan(plans: list[ProcPlan], *, pipeline: str, details: int = 3) -> str:
    """The plan as text: one line per process, then the first reasons of the jobs that would run."""
    lines = [f"plan of pipeline {pipeline}:"]
    width = max((len(p.name) for p in plans), default=0)
    for plan in plans:
        if plan.njobs is None:
            lines.append(f"  {plan.name:<{width}}  ? jobs ({plan.note})")
            continue
        lines.append(
            f"  {plan.name:<{width}}  {plan.njobs} job{'s' if plan.njobs != 1 else ''}: "
            f"{plan.cached} cached, {plan.to_run} to run"
        )
        shown = 0
        for index, reason in plan.reasons.items():
            if reason and shown < details:
                lines.append(f"  {'':<{width}}    job {index}: {reason}")
                shown += 1
        if plan.to_run > shown:
            lines.append(f"  {'':<{width}}    ... and {plan.to_run - shown} more")
    return "\n".join(lines)
