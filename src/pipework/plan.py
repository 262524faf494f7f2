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
from .config import build_scheduler_settings
from .errors import ConfigError, PipeworkError
from .job import JobBuilder, input_channel, template_engine
from .schedulers import get_scheduler_class
from .spec import ProcSpec
from .stage import stage_root
from .state import JobState
from .template import TemplateEngine

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
    plans: dict[str, ProcPlan] = {}
    channels: dict[str, Channel] = {}
    rerun: dict[str, str] = {}  # output path of a job that will run -> "Proc job i"
    engines: dict[tuple[str, tuple[str, ...]], TemplateEngine] = {}
    root = stage_root()
    for name, spec in specs.items():
        try:
            cls = get_scheduler_class(spec.scheduler)
        except ConfigError as exc:
            raise exc.within(proc=name) from exc
        build_scheduler_settings(cls, spec.scheduler_opts, proc=name)
        plan = plans[name] = ProcPlan(name)
        upstream = [plans[r] for r in spec.requires]
        unknown = [u.name for u in upstream if u.njobs is None]
        if unknown:
            plan.note = f"waits on {', '.join(unknown)}"
            continue
        builder = JobBuilder(
            spec,
            template_engine(spec, engines),
            proc_dir=paths.join(pipeline_dir, name),
            run_tag=run_tag,
            stage_root=root,
            access=cls.file_access,
        )
        try:
            jobs = builder.make_jobs(input_channel(spec, [channels[r] for r in spec.requires]))
        except PipeworkError:
            if any(u.to_run for u in upstream):
                plan.note = f"jobs known once {', '.join(u.name for u in upstream if u.to_run)} ran"
                continue
            raise
        export.targets(spec, jobs, outdir)
        plan.njobs = len(jobs)
        fresh = []
        for job in jobs:
            source = next((rerun[v] for v in _values(job.inputs) if v in rerun), None)
            if source:
                plan.reasons[job.index] = f"its input comes from {source}, which will run"
            else:
                fresh.append(job)
        cache.check(fresh, spec.cache)
        for job in fresh:
            plan.reasons[job.index] = "" if job.state is JobState.CACHED else job.cache_reason
        for job in jobs:
            if plan.reasons[job.index]:
                for value in _values(job.outputs):
                    rerun[value] = f"{name} job {job.index}"
        outs = [o.name for o in spec.outputs]
        channels[name] = Channel(outs, [[j.outputs[o] for o in outs] for j in jobs])
    return list(plans.values())


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
