"""The local scheduler: jobs run as subprocesses of the driver, ``forks`` at a time per process.

Every job runs its wrapper with ``bash`` in a session of its own, so a kill reaches the whole process
tree of the job. The scheduler learns of an exit at once (no polling delay) and wakes the base's loop.
A driver that was killed leaves its jobs running; the next driver adopts them by the pid in ``job.jid``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..job import Job, launch_argv
from ..state import JobState
from .base import Scheduler

__all__ = ["LocalScheduler", "LocalSettings"]


@dataclass(frozen=True, kw_only=True)
class LocalSettings:
    """Options of the local scheduler (``scheduler_opts``).

    Attributes:
        max_jobs: Jobs running at once across all processes of the run (0: no cap beyond each
            process's ``forks``).
        kill_grace: Seconds between SIGTERM and SIGKILL when jobs are cancelled.
    """

    max_jobs: int = field(default=0, metadata={"help": "jobs running at once in the whole run (0: no cap)"})
    kill_grace: float = field(default=5.0, metadata={"help": "seconds from SIGTERM to SIGKILL on cancel"})


class LocalScheduler(Scheduler):
    """Run jobs on this machine."""

    name = "local"
    Settings = LocalSettings
    #: The local scheduler wakes the poll loop itself when a job changes (no fixed interval).
    notifies = True
    min_poll_interval = 0.5
    max_poll_interval = 2.0
    rc_grace = 0.0

    def __init__(self, settings: LocalSettings | None = None, *, run_tag: str = "run") -> None:
        super().__init__(settings, run_tag=run_tag)
        self._states: dict[Job, JobState] = {}
        self._procs: dict[Job, asyncio.subprocess.Process] = {}
        self._tasks: dict[Job, asyncio.Task[None]] = {}
        self._adopted: dict[Job, int] = {}
        self._per_proc: dict[str, asyncio.Semaphore] = {}
        cap = self.settings.max_jobs
        self._global = asyncio.Semaphore(cap) if cap and cap > 0 else None

    def _forks(self, job: Job) -> asyncio.Semaphore:
        sem = self._per_proc.get(job.proc)
        if sem is None:
            sem = asyncio.Semaphore(job.spec.forks or os.cpu_count() or 1)
            self._per_proc[job.proc] = sem
        return sem

    async def submit(self, jobs: Sequence[Job]) -> None:
        """Queue the jobs; each starts when its process and the run have a free slot."""
        for job in jobs:
            job.jid = None  # the pid, once started (the job writes it to job.jid then)
            self._states[job] = JobState.QUEUED
            self._tasks[job] = asyncio.create_task(self._run(job), name=f"pipework-{job.name}")

    async def _run(self, job: Job) -> None:
        async with self._forks(job), self._global or contextlib.nullcontext():
            if self._states.get(job) is JobState.KILLED:
                return
            try:
                proc = await asyncio.create_subprocess_exec(
                    *launch_argv(job),
                    stdin=asyncio.subprocess.DEVNULL,
                    stdout=asyncio.subprocess.DEVNULL,
                    stderr=asyncio.subprocess.DEVNULL,
                    start_new_session=True,
                )
            except OSError as exc:
                job.extra["native_state"] = f"could not start bash: {exc}"
                self._states[job] = JobState.FAILED
                self.notify(job)
                return
            self._procs[job] = proc
            job.jid = str(proc.pid)
            # the pid lets a restarted driver adopt the job if this driver is killed
            with contextlib.suppress(OSError), open(job.path("job.jid"), "w") as fh:
                fh.write(f"{proc.pid}\n")
            self._states[job] = JobState.RUNNING
            self.notify(job)
            rc = await proc.wait()
            self._procs.pop(job, None)
            if self._states.get(job) is not JobState.KILLED:
                self._states[job] = JobState.DONE if rc == 0 else JobState.FAILED
                if rc < 0:
                    job.extra["native_state"] = f"killed by signal {-rc}"
            self.notify(job)

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        """States from the driver's own process table (no system call, except for adopted jobs)."""
        out: dict[Job, JobState] = {}
        for job in jobs:
            if job in self._adopted:
                if _is_alive(self._adopted[job], job):
                    out[job] = JobState.RUNNING
                continue
            if job in self._states:
                out[job] = self._states[job]
            elif job.jid and job.jid.isdigit() and _is_alive(int(job.jid), job):
                # a job of a previous driver, seen by reattach(): adopt it
                self._adopted[job] = int(job.jid)
                out[job] = JobState.RUNNING
        return out

    async def kill(self, jobs: Sequence[Job]) -> None:
        """SIGTERM each job's process group, then SIGKILL what is left after ``kill_grace`` seconds."""
        groups: list[int] = []
        for job in jobs:
            self._states[job] = JobState.KILLED
            proc = self._procs.get(job)
            pid = proc.pid if proc is not None else self._adopted.get(job)
            if pid is not None:
                groups.append(pid)
            task = self._tasks.get(job)
            if task is not None and proc is None and not task.done():
                task.cancel()
        for pid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + self.settings.kill_grace
        while groups and asyncio.get_running_loop().time() < deadline:
            groups = [pid for pid in groups if _group_alive(pid)]
            if groups:
                await asyncio.sleep(0.05)
        for pid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.notify(*jobs)

    async def close(self, *, kill: bool = True) -> None:
        """Stop polling, kill what is still running, and reap the subprocesses."""
        await super().close(kill=kill)
        for task in self._tasks.values():
            if not task.done():
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()


def _is_alive(pid: int, job: Job) -> bool:
    """True when ``pid`` is alive and is this job's wrapper (not a recycled pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return False
    return job.path("job.wrapper").encode() in cmdline


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
