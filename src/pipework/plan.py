"""What a run would do, without running anything: ``--dry-run`` and ``pipework why``.

For each process in order, the plan builds its jobs from the upstream plans (output paths are known
before they exist) and checks each job's cache, giving the one-line reason a job would run.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .channel import Channel
from .errors import PipeworkError
from .plugins import PluginManager
from .progress import QuietProgress
from .run import RunContext
from .runner import ProcRunner, check_cache, input_channel
from .state import JobState

if TYPE_CHECKING:
    from .pipeline import Pipeline

__all__ = ["ProcPlan", "format_plan", "make_plan"]


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


def make_plan(pipeline: Pipeline) -> list[ProcPlan]:
    """Plan every process of a pipeline (reads the workdir, writes nothing).

    Raises:
        PipeworkError: For invalid declarations or configuration.
    """
    config = pipeline.resolve_config()
    graph = pipeline.build_dag()
    specs = pipeline.specs(config, graph)
    progress = QuietProgress()
    run = RunContext(
        name=pipeline.pipeline_name,
        config=config,
        outdir=pipeline.outdir_path,
        progress=progress,
        plugins=PluginManager(disabled=["*"], warn=progress.warn),
    )
    plans: dict[str, ProcPlan] = {}
    channels: dict[str, Channel] = {}
    rerun: dict[str, str] = {}  # output path of a job that will run -> "Proc job i"
    for name, spec in specs.items():
        run.check_scheduler(spec)
        plan = plans[name] = ProcPlan(name)
        upstream = [plans[r] for r in spec.requires]
        unknown = [u.name for u in upstream if u.njobs is None]
        if unknown:
            plan.note = f"waits on {', '.join(unknown)}"
            continue
        runner = ProcRunner(spec, run)
        try:
            channel = input_channel(spec, [channels[r] for r in spec.requires])
            jobs = runner.make_jobs(channel)
        except PipeworkError:
            if any(u.to_run for u in upstream):
                plan.note = f"jobs known once {', '.join(u.name for u in upstream if u.to_run)} ran"
                continue
            raise
        runner.export_targets()
        plan.njobs = len(jobs)
        fresh = []
        for job in jobs:
            source = next((rerun[v] for v in _values(job.inputs) if v in rerun), None)
            if source:
                plan.reasons[job.index] = f"its input comes from {source}, which will run"
            else:
                fresh.append(job)
        check_cache(fresh, spec.cache)
        for job in fresh:
            plan.reasons[job.index] = "" if job.state is JobState.CACHED else job.cache_reason
        for job in jobs:
            if plan.reasons[job.index]:
                for value in _values(job.outputs):
                    rerun[value] = f"{name} job {job.index}"
        channels[name] = runner_channel(runner)
    return list(plans.values())


def _values(mapping: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for value in mapping.values():
        if isinstance(value, (list, tuple)):
            out.extend(str(v) for v in value)
        else:
            out.append(str(value))
    return out


def runner_channel(runner: ProcRunner) -> Channel:
    """The output channel the runner's jobs would produce."""
    outs = [o.name for o in runner.spec.outputs]
    return Channel(outs, [[j.outputs[o] for o in outs] for j in runner.jobs])


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
