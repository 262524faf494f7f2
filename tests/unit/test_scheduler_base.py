"""What the scheduler base owns: lost jobs, transient errors, adaptive polling (with fakes of our own
Scheduler interface, not of any module)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pipework import PipelineFailed, Proc
from pipework.errors import SchedulerError
from pipework.job import Job
from pipework.schedulers.base import Scheduler
from pipework.state import JobState
from pipework.testing import make_jobs, wait_all

from .helpers import make_pipeline, run


class Vanishing(Scheduler):
    """Accepts jobs, runs none, and forgets them: like a node that died with the job."""

    name = "vanishing"
    min_poll_interval = 0.05
    rc_grace = 0.2

    async def submit(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            job.jid = f"v{job.index}"
            Path(job.path("job.stderr")).write_text("started on node7\nnode7: connection lost\n")

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        return {}

    async def kill(self, jobs: Sequence[Job]) -> None:
        pass


class Flaky(Scheduler):
    """Runs each job at submit time; its status query fails transiently ``failures`` times first."""

    name = "flaky"
    min_poll_interval = 0.05
    max_poll_interval = 0.4

    def __init__(self, *args: object, failures: int = 2, permanent: bool = False, **kw: object) -> None:
        super().__init__(*args, **kw)  # type: ignore[arg-type]
        self.failures = failures
        self.permanent = permanent
        self.calls = 0
        self.times: list[float] = []

    async def submit(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            job.jid = str(job.index)

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        self.calls += 1
        self.times.append(asyncio.get_running_loop().time())
        if self.permanent:
            raise SchedulerError("flaky: permission denied on the queue", transient=False)
        if self.failures > 0:
            self.failures -= 1
            raise SchedulerError("flaky: controller busy", transient=True)
        return {job: JobState.RUNNING for job in jobs}

    async def kill(self, jobs: Sequence[Job]) -> None:
        pass


def test_a_job_that_vanishes_without_rc_is_reported_lost_with_its_stderr(isolated: Path, monkeypatch):
    # registered the way a plugin package registers a scheduler: an entry point
    dist = isolated / "site" / "vanishing-0.1.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: vanishing\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(f"[pipework.schedulers]\nvanishing = {__name__}:Vanishing\n")
    monkeypatch.syspath_prepend(str(isolated / "site"))

    class Lost(Proc):
        script = "true"
        scheduler = "vanishing"

    with pytest.raises(PipelineFailed) as err:
        run(make_pipeline(Lost))
    text = str(err.value)
    assert "[Lost job 0] ended without writing job.rc" in text
    assert "| node7: connection lost" in text


def test_transient_status_errors_are_retried_then_succeed(tmp_path: Path):
    jobs = make_jobs(tmp_path, ["true"])
    sched = Flaky(run_tag="t", failures=2)

    async def main() -> dict[Job, JobState]:
        queue: asyncio.Queue = asyncio.Queue()
        await sched.dispatch(jobs, queue)
        # the job "finishes" once its rc exists
        await asyncio.sleep(0.1)
        Path(jobs[0].path("job.rc")).write_text("0\n")
        sched.statuses = _gone(sched.statuses)  # type: ignore[method-assign]
        try:
            return await wait_all(sched, jobs, queue, timeout=20)
        finally:
            await sched.close()

    finals = asyncio.run(main())
    assert finals[jobs[0]] is JobState.DONE
    assert sched.calls >= 3


def _gone(original):
    async def statuses(jobs):
        await original(jobs)  # still counts the calls and raises the transient errors first
        return {}

    return statuses


def test_a_permanent_status_error_ends_the_wait_with_that_error(tmp_path: Path):
    jobs = make_jobs(tmp_path, ["true"])
    sched = Flaky(run_tag="t", permanent=True)

    async def main() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        await sched.dispatch(jobs, queue)
        try:
            await wait_all(sched, jobs, queue, timeout=20)
        finally:
            await sched.close()

    with pytest.raises(SchedulerError, match="permission denied on the queue"):
        asyncio.run(main())


def test_the_poll_interval_backs_off_while_nothing_ends(tmp_path: Path):
    jobs = make_jobs(tmp_path, ["true"])
    sched = Flaky(run_tag="t", failures=0)

    async def main() -> None:
        queue: asyncio.Queue = asyncio.Queue()
        await sched.dispatch(jobs, queue)
        await asyncio.sleep(2.5)
        await sched.close()

    asyncio.run(main())
    gaps = [b - a for a, b in zip(sched.times, sched.times[1:], strict=False)]
    assert gaps[0] < 0.15  # starts fast
    assert max(gaps) <= 0.4 + 0.1  # never beyond max_poll_interval
    assert gaps[-1] > 3 * gaps[0]  # and slows down while no job ends
