"""What the CLI prints of the run store: the lines of ``history``, ``show`` and ``status``.

Pure formatting of records, plus :func:`driver_alive` (is a run's driver still running?), so the
commands in :mod:`pipework.cli` stay a few lines each.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..state import JobState
from .meta import host_name
from .records import JobRecord, ProcRecord, RunRecord

if TYPE_CHECKING:
    from .db import RunStore

__all__ = ["driver_alive", "history_lines", "proc_counts", "run_lines", "status_lines", "why_lines"]

#: A driver on another host whose heartbeat is older than this (seconds) is taken for gone.
STALE_HEARTBEAT = 120.0

#: Job states listed by ``show`` as failures.
BAD = (JobState.FAILED.value, JobState.KILLED.value, JobState.LOST.value)


def when(stamp: float | None) -> str:
    """A local date and time, or ``-``."""
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def home(path: str | None) -> str:
    """A directory with the home directory written ``~``."""
    if not path:
        return "-"
    user = os.path.expanduser("~")
    return "~" + path[len(user) :] if path == user or path.startswith(user + "/") else path


def driver_alive(run: RunRecord, *, now: float | None = None) -> bool | None:
    """Whether a running run's driver still runs: its pid on this host, or a recent heartbeat from
    another; None when the run is not running."""
    if run.state != "running":
        return None
    if run.host == host_name() and run.pid:
        from ..lock import pid_alive

        return pid_alive(run.pid)
    beat = run.heartbeat or run.started
    return (now or time.time()) - beat < STALE_HEARTBEAT


def history_lines(runs: Sequence[RunRecord]) -> list[str]:
    """The table of ``pipework history``: one run a line, newest first."""
    head = f"{'run':>5}  {'pipeline':<20} {'state':<12} {'started':<19} {'seconds':>8}  {'scheduler':<10}"
    lines = [head + " directory"]
    for r in runs:
        secs = f"{r.seconds:.1f}" if r.seconds is not None else "-"
        lines.append(
            f"{r.id:>5}  {r.pipeline:<20} {r.state:<12} {when(r.started):<19} {secs:>8}  {r.scheduler:<10} "
            f"{home(r.project)}"
        )
    return lines


def proc_counts(proc: ProcRecord) -> str:
    """``3 done, 2 running, 5 pending``: a process's jobs by state (the jobs not recorded yet pending)."""
    counts = dict(proc.counts)
    missing = proc.njobs - sum(counts.values())
    if missing > 0:
        counts["pending"] = counts.get("pending", 0) + missing
    return ", ".join(f"{n} {s}" for s, n in sorted(counts.items())) or "no jobs"


def _driver(run: RunRecord) -> str:
    alive = driver_alive(run)
    where = f"pid {run.pid} on {run.host}"
    if alive is None:
        return where
    return where + (", running" if alive else ", gone: it was killed; run the pipeline again to resume")


def run_lines(run: RunRecord, procs: Sequence[ProcRecord], jobs: Sequence[JobRecord]) -> list[str]:
    """What ``pipework show`` prints of one run."""
    lines = [
        f"run {run.id}: pipeline {run.pipeline}, {run.state}",
        f"  started  {when(run.started)}  ended {when(run.ended)}  on {run.host} (pid {run.pid})",
        f"  directory {home(run.project)}" + (f"  ({run.source})" if run.source else ""),
        f"  workdir  {run.workdir}\n  outdir   {run.outdir}\n  scheduler {run.scheduler}",
    ]
    extra = [f"{k} {v}" for k, v in (("profile", run.profile), ("user", run.username),
             ("pipework", run.version), ("git", run.git_commit)) if v]  # fmt: skip
    if extra:
        lines.append("  " + ", ".join(extra))
    for proc in procs:
        secs = f" in {proc.seconds:.1f}s" if proc.ended or proc.state is None else f" ({proc.state})"
        lines.append(f"  {proc.name}: {proc.njobs} jobs ({proc_counts(proc)}){secs}")
    for job in jobs:
        if job.state in BAD:
            why = f": {job.failure}" if job.failure else ""
            lines.append(f"  {job.state}: {job.proc} job {job.index} rc={job.rc} dir={job.dir}{why}")
    return lines


def status_lines(run: RunRecord, procs: Sequence[ProcRecord]) -> list[str]:
    """What ``pipework status`` prints: the run, its driver, and live counts per process."""
    state = run.state
    if driver_alive(run) is False:
        state = "running (driver gone: it was killed; run it again to resume)"
    lines = [f"run {run.id}: pipeline {run.pipeline}, {state}, started {when(run.started)}"]
    lines.append(f"  driver   {_driver(run)}")
    lines.append(f"  directory {home(run.project)}")
    done = sum(p.counts.get(s, 0) for p in procs for s in ("done", "cached"))
    total = sum(p.njobs for p in procs)
    if total:
        lines.append(f"  jobs     {done} of {total} done or cached")
    for proc in procs:
        lines.append(f"  {proc.name}: {proc_counts(proc)}")
    return lines


def why_lines(db: RunStore, proc: str, index: int | None, *, project: str) -> tuple[str, list[str]] | None:
    """``pipework why`` while a run of ``project`` runs: a note and one line per job of ``proc`` (or
    job ``index``) with the reason the run decided on; None when no run of the project runs.

    Raises:
        ConfigError: (``key="why"``) when the running run has no process ``proc``.
    """
    from ..errors import ConfigError

    run = db.latest(project=project)
    if run is None or not driver_alive(run):
        return None
    names = [p.name for p in db.procs(run.id)]
    if proc not in names:
        raise ConfigError(
            f"run {run.id} (running) has no process {proc!r}",
            key="why",
            hint=f"processes: {', '.join(names)}",
        )
    jobs = db.jobs(run.id, proc, index)
    if not jobs:
        return f"run {run.id} is running", [
            f"{proc}: " + ("no such job" if index is not None else "not started yet")
        ]
    return f"run {run.id} is running: why it runs its jobs", [
        f"{proc} job {job.index}: {job.reason or 'cached'}" for job in jobs
    ]
