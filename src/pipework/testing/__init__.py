"""Contract tests that every scheduler runs, built-in or plugin.

A plugin author subclasses :class:`SchedulerContract` in their own tests and answers one method::

    from pipework.testing import SchedulerContract

    class TestMyScheduler(SchedulerContract):
        __test__ = True

        def make_scheduler(self, tmp_path):
            return MyScheduler(MyScheduler.Settings(queue="test"), run_tag="contract")

The suite submits real jobs through the scheduler (their job directories live under ``tmp_path``,
which must be visible to where the jobs run) and checks what a user relies on: completion confirmed by
``job.rc``, failures with their return code, cancellation, arrays, one status query per poll interval
whatever the number of jobs (and, for a grid scheduler, a status command whose size does not grow with
them), reattaching a fresh instance without resubmitting, deterministic names.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from .. import paths
from ..config import RunConfig
from ..job import Job
from ..jobdir import clean
from ..layout import FileAccess, place
from ..proc import Proc
from ..schedulers import get_scheduler_class
from ..schedulers.base import JobEvent, Scheduler
from ..spec import make_spec
from ..stage import stage_root
from ..state import JobState

__all__ = ["SchedulerContract", "make_jobs", "wait_all"]


def make_jobs(
    workdir: Path | str,
    scripts: Sequence[str],
    *,
    proc: str = "Contract",
    forks: int | None = None,
    resources: Mapping[str, Any] | None = None,
    scheduler: str = "local",
    scheduler_opts: Mapping[str, Any] | None = None,
    access: FileAccess | None = None,
) -> list[Job]:
    """Jobs of one process, one per bash script, with their directories, scripts and wrappers written.

    Args:
        workdir: Where the job directories go (``<workdir>/<proc>/<index>``): a local path or a bucket.
        scripts: The script of each job.
        proc: The process name.
        forks: The process's ``forks``.
        resources: The process's resources.
        scheduler: The scheduler name recorded on the process.
        scheduler_opts: The process's scheduler options.
        access: How the scheduler's jobs reach files on a bucket (default: the ``scheduler``'s).
    """
    cls = type(
        proc,
        (Proc,),
        {
            "__module__": __name__,
            "script": "{{ proc.envs.scripts[job.index] }}",
            "forks": forks,
            "resources": dict(resources or {}),
            "scheduler": scheduler,
            "scheduler_opts": dict(scheduler_opts or {}),
        },
    )
    spec = make_spec(cls, RunConfig(), is_end=True)
    access = access if access is not None else get_scheduler_class(scheduler).file_access
    base = str(workdir) if paths.is_cloud(str(workdir)) else str(Path(workdir).resolve())
    jobs = []
    for index, script in enumerate(scripts):
        jobdir = paths.join(base, proc, str(index))
        paths.makedirs(jobdir)
        layout = place(
            access,
            job_dir=jobdir,
            cloud_inputs=[],
            stage_dir=os.path.join(stage_root(), "contract", proc, str(index)),
            proc=proc,
            index=index,
        )
        job = Job(
            spec=spec,
            index=index,
            dir=jobdir,
            name=f"pw-contract-{proc}-{index}",
            inputs={},
            outputs={},
            script=script,
            layout=layout,
        )
        jobs.append(job)
    clean(jobs)
    return jobs


async def wait_all(
    scheduler: Scheduler[Any], jobs: Sequence[Job], queue: asyncio.Queue[JobEvent], *, timeout: float = 120.0
) -> dict[Job, JobState]:
    """Wait until every job has a final state; return them.

    Raises:
        TimeoutError: If some job is still not final after ``timeout`` seconds.
        BaseException: An error the scheduler's poll loop reported.
    """
    finals: dict[Job, JobState] = {}
    deadline = time.monotonic() + timeout
    while len(finals) < len(jobs):
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{len(jobs) - len(finals)} job(s) not final after {timeout}s")
        item = await asyncio.wait_for(queue.get(), left)
        if isinstance(item, BaseException):
            raise item
        job, state = item
        if state.is_final:
            finals[job] = state
    return finals


class _Counting:
    """Wraps a scheduler's ``statuses`` to record each call's time and job count."""

    def __init__(self, scheduler: Scheduler[Any]) -> None:
        self.calls: list[tuple[float, int]] = []
        original = scheduler.statuses

        async def statuses(jobs: Sequence[Job]) -> Mapping[Job, JobState]:
            self.calls.append((time.monotonic(), len(jobs)))
            return await original(jobs)

        scheduler.statuses = statuses  # type: ignore[method-assign]


class SchedulerContract:
    """The behaviour every scheduler must have. Subclass it, set ``__test__ = True``, and implement
    :meth:`make_scheduler`. Override :attr:`supports_arrays` / :attr:`timeout` if needed.
    """

    __test__ = False
    #: Seconds any one test may wait for its jobs.
    timeout: float = 120.0
    #: Number of jobs of the array test.
    array_size: int = 50

    def make_scheduler(self, tmp_path: Path) -> Scheduler[Any]:
        """Return a new scheduler instance for a test."""
        raise NotImplementedError

    # -- helpers -------------------------------------------------------------------------------
    def _run(self, coro: Any) -> Any:
        return asyncio.run(coro)

    def workdir(self, tmp_path: Path) -> str:
        """Where the test jobs' directories go (default ``<tmp_path>/work``; a bucket URL for a
        scheduler whose jobs need one). Jobs must see it where they run."""
        return str(tmp_path / "work")

    def job_file(self, job: Job, name: str) -> str:
        """Where the test reads a job's file (a path or URL), while the job runs and after: by default
        in its job dir; for a scheduler whose jobs write through a mount, where this machine sees it."""
        return paths.join(job.dir, name)

    def _read(self, job: Job, name: str) -> str:
        return paths.read_text(self.job_file(job, name))

    def _exists(self, job: Job, name: str) -> bool:
        return paths.exists(self.job_file(job, name))

    def _jobs(self, tmp_path: Path, scripts: Sequence[str], **kw: Any) -> list[Job]:
        sched = self.make_scheduler(tmp_path)
        kw.setdefault("scheduler", sched.name)
        return make_jobs(self.workdir(tmp_path), scripts, access=type(sched).file_access, **kw)

    def _run_to_end(self, tmp_path: Path, jobs: list[Job]) -> tuple[Scheduler[Any], dict[Job, JobState]]:
        """Dispatch the jobs on a new scheduler and wait for their final states."""

        async def main() -> tuple[Scheduler[Any], dict[Job, JobState]]:
            sched = self.make_scheduler(tmp_path)
            queue: asyncio.Queue[JobEvent] = asyncio.Queue()
            try:
                await sched.dispatch(jobs, queue)
                return sched, await wait_all(sched, jobs, queue, timeout=self.timeout)
            finally:
                await sched.close(kill=True)

        result: tuple[Scheduler[Any], dict[Job, JobState]] = self._run(main())
        return result

    # -- the contract --------------------------------------------------------------------------
    def test_jobs_reach_done_confirmed_by_rc(self, tmp_path: Path) -> None:
        """Three jobs end DONE with rc 0 and their files in place."""
        jobs = self._jobs(tmp_path, [f"echo out{i}; echo err{i} >&2; echo {i} > result" for i in range(3)])

        sched, finals = self._run_to_end(tmp_path, jobs)
        for i, job in enumerate(jobs):
            assert finals[job] is JobState.DONE, (job, finals[job])
            assert job.rc == 0
            assert self._read(job, "job.rc").strip() == "0"
            assert self._read(job, "job.stdout") == f"out{i}\n"
            assert self._read(job, "job.stderr") == f"err{i}\n"
            assert self._read(job, "result") == f"{i}\n"
            if sched.jid_files:
                assert self._read(job, "job.jid").strip()
            assert self._read(job, "job.pid").strip().isdigit()

    def test_failing_job_reports_its_rc(self, tmp_path: Path) -> None:
        """A job that exits 3 ends FAILED with rc 3, next to one that succeeds."""
        jobs = self._jobs(tmp_path, ["exit 0", "echo broken >&2; exit 3"])

        _, finals = self._run_to_end(tmp_path, jobs)
        assert finals[jobs[0]] is JobState.DONE
        assert finals[jobs[1]] is JobState.FAILED and jobs[1].rc == 3
        assert self._read(jobs[1], "job.stderr") == "broken\n"

    def test_scripts_that_take_over_their_shell_still_report_rc(self, tmp_path: Path) -> None:
        """job.rc is right whatever the script does to its shell: its own EXIT trap, exec, set -e,
        cd elsewhere, or names that look like the wrapper's."""
        scripts = [
            "trap 'echo bye > trapped' EXIT; exit 5",
            "exec bash -c 'exit 6'",
            "set -e; false; echo unreachable > reached",
            "cd /; exit 2",
            "_pw_dir=/nowhere; echo ok",
            "echo plain > plain",
        ]
        jobs = self._jobs(tmp_path, scripts)

        self._run_to_end(tmp_path, jobs)
        assert [job.rc for job in jobs] == [5, 6, 1, 2, 0, 0]
        assert self._read(jobs[0], "trapped") == "bye\n"
        assert not self._exists(jobs[2], "reached")
        assert self._read(jobs[4], "job.stdout") == "ok\n"
        assert self._read(jobs[5], "plain") == "plain\n"

    def test_kill_cancels_running_and_queued_jobs(self, tmp_path: Path) -> None:
        """cancel() (the scheduler's kill) ends running jobs (their wrapper still writes job.rc) and
        queued ones."""
        jobs = self._jobs(tmp_path, ["touch started; sleep 60; touch finished"] * 2, forks=1)

        async def main() -> dict[Job, JobState]:
            sched = self.make_scheduler(tmp_path)
            queue: asyncio.Queue[JobEvent] = asyncio.Queue()
            try:
                await sched.dispatch(jobs, queue)
                deadline = time.monotonic() + self.timeout
                while not self._exists(jobs[0], "started"):
                    assert time.monotonic() < deadline, "the first job never started"
                    await asyncio.sleep(0.1)
                await sched.cancel(jobs)
                return await wait_all(sched, jobs, queue, timeout=self.timeout)
            finally:
                await sched.close(kill=True)

        finals = self._run(main())
        assert all(state in (JobState.KILLED, JobState.FAILED) for state in finals.values()), finals
        assert not self._exists(jobs[0], "finished")
        assert not self._exists(jobs[1], "finished")

    def test_array_of_many_jobs_with_one_status_query_per_poll(self, tmp_path: Path) -> None:
        """Many jobs complete; status queries never go one per job."""
        n = self.array_size
        jobs = self._jobs(tmp_path, [f"echo {i} > result" for i in range(n)], forks=8)

        async def main() -> tuple[dict[Job, JobState], _Counting, float]:
            sched = self.make_scheduler(tmp_path)
            counting = _Counting(sched)
            queue: asyncio.Queue[JobEvent] = asyncio.Queue()
            started = time.monotonic()
            try:
                await sched.dispatch(jobs, queue)
                finals = await wait_all(sched, jobs, queue, timeout=self.timeout)
                return finals, counting, time.monotonic() - started
            finally:
                await sched.close(kill=True)

        finals, counting, elapsed = self._run(main())
        assert all(state is JobState.DONE for state in finals.values())
        assert all(self._read(j, "result") == f"{j.index}\n" for j in jobs)
        calls = len(counting.calls)
        sched = self.make_scheduler(tmp_path)
        if not sched.notifies:
            # a scheduler that is polled (not woken by its jobs) asks once per interval at most
            budget = elapsed / sched.min_poll_interval + 2
            assert calls <= budget, f"{calls} status queries in {elapsed:.1f}s (budget {budget:.0f})"
        assert calls < n, f"{calls} status queries for {n} jobs: one per job?"

    def test_fresh_instance_reattaches_without_resubmitting(self, tmp_path: Path) -> None:
        """A new scheduler instance (a restarted driver) adopts a running job (job.jid or job.pid)."""
        jobs = self._jobs(tmp_path, ["echo x >> ../count; sleep 3"])

        async def first() -> None:
            sched = self.make_scheduler(tmp_path)
            queue: asyncio.Queue[JobEvent] = asyncio.Queue()
            await sched.dispatch(jobs, queue)
            deadline = time.monotonic() + self.timeout
            while not self._exists(jobs[0], "../count"):
                assert time.monotonic() < deadline, "the job never started"
                await asyncio.sleep(0.1)
            await sched.close(kill=False)  # the driver dies; its jobs go on

        async def second() -> tuple[list[Job], dict[Job, JobState]]:
            sched = self.make_scheduler(tmp_path)
            queue: asyncio.Queue[JobEvent] = asyncio.Queue()
            try:
                adopted = await sched.reattach(jobs, queue)
                return adopted, await wait_all(sched, adopted, queue, timeout=self.timeout)
            finally:
                await sched.close(kill=True)

        self._run(first())
        adopted, finals = self._run(second())
        assert adopted == jobs
        assert finals[jobs[0]] is JobState.DONE
        assert self._read(jobs[0], "../count") == "x\n"  # ran once

    def test_deterministic_job_names(self, tmp_path: Path) -> None:
        """Job names are pw-<run tag>-<process>-<index>."""
        (job,) = self._jobs(tmp_path, ["true"], proc="Named")
        job.index = 7
        sched = self.make_scheduler(tmp_path)
        assert sched.job_name(job) == f"pw-{sched.run_tag}-Named-7"

    def test_one_small_status_query_for_ten_thousand_jobs(self, tmp_path: Path) -> None:
        """10,000 jobs are asked about in ONE status query; for a grid scheduler that query is one
        command of a few bytes (a command listing every job would be refused by the system, E2BIG)."""
        from ..schedulers.grid import GridScheduler

        sched = self.make_scheduler(tmp_path)
        (first,) = self._jobs(tmp_path, ["true"])

        def jid(i: int) -> str | None:
            if not isinstance(sched, GridScheduler):
                return None
            return f"{100 + i // 1000}{sched.task_sep}{sched.first_task + i % 1000}"

        jobs = [
            Job(
                spec=first.spec,
                index=i,
                dir=paths.join(first.dir.rsplit("/", 1)[0], str(i)),
                name=f"pw-{sched.run_tag}-{first.proc}-{i}",
                inputs={},
                outputs={},
                jid=jid(i),
            )
            for i in range(10_000)
        ]
        commands: list[list[str]] = []
        if isinstance(sched, GridScheduler):

            async def record(argv: Sequence[str]) -> str:
                commands.append(list(argv))
                return ""  # an empty queue

            sched.run_command = record  # type: ignore[method-assign]
        counting = _Counting(sched)

        async def ask() -> list[Job]:
            queue: asyncio.Queue[JobEvent] = asyncio.Queue()
            try:
                return await sched.reattach(jobs, queue)  # none of them runs: nothing is adopted
            finally:
                await sched.close(kill=False)

        assert self._run(ask()) == []
        assert [n for _, n in counting.calls] == [10_000]
        if isinstance(sched, GridScheduler):
            assert len(commands) == 1, commands
            size = sum(len(arg.encode()) + 1 for arg in commands[0])
            assert size < 4096, f"the status query of 10,000 jobs is {size} bytes: {commands[0][:8]}"
