"""An example pipework scheduler plugin: detached jobs, polled with one ``ps`` call per interval."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from pipework.schedulers import Job, JobState, Scheduler, launch_argv

__all__ = ["DetachedScheduler", "DetachedSettings"]


@dataclass(frozen=True, kw_only=True)
class DetachedSettings:
    """Options of the detached scheduler (``scheduler_opts``)."""

    poll: float = field(default=0.5, metadata={"help": "seconds between two status queries"})


class DetachedScheduler(Scheduler[DetachedSettings]):
    """Run each job as a detached process; find out which still run with one ``ps`` per poll."""

    name = "detached"
    Settings = DetachedSettings
    min_poll_interval = 0.5
    max_poll_interval = 2.0
    rc_grace = 5.0

    async def submit(self, jobs: Sequence[Job]) -> None:
        """Start every job at once (this example ignores ``forks``); the job id is its pid."""
        for job in jobs:
            proc = await asyncio.create_subprocess_exec(
                *launch_argv(job),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.DEVNULL,
                stderr=asyncio.subprocess.DEVNULL,
                start_new_session=True,
                env=dict(self.job_env),  # the driver's environment with the run's env on top
            )
            job.jid = str(proc.pid)
            # reap it in the background so it does not linger as a zombie of this driver
            asyncio.get_running_loop().create_task(proc.wait())

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        """ONE ``ps`` call for all jobs; a job whose pid is gone is left out (the base reads job.rc)."""
        proc = await asyncio.create_subprocess_exec(
            "ps", "-e", "-o", "pid=,stat=", stdout=asyncio.subprocess.PIPE
        )
        out, _ = await proc.communicate()
        running = {
            pid: stat for pid, _, stat in (line.strip().partition(" ") for line in out.decode().splitlines())
        }
        return {
            job: JobState.RUNNING
            for job in jobs
            if job.jid in running and not running[job.jid].strip().startswith("Z")
        }

    async def kill(self, jobs: Sequence[Job]) -> None:
        """SIGTERM each job's process group."""
        for job in jobs:
            if job.jid and job.jid.isdigit():
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(int(job.jid), signal.SIGTERM)
