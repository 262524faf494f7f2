"""What the grid base owns, without a cluster: starting commands, one bounded status query, native
states, and deleting jobs the scheduler keeps in a final state (fakes of our own interfaces only)."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest

from pipework.errors import SchedulerError
from pipework.job import Job
from pipework.schedulers.base import Scheduler
from pipework.schedulers.sge import SgeScheduler, SgeSettings
from pipework.schedulers.slurm import SlurmScheduler, SlurmSettings
from pipework.state import JobState
from pipework.testing import make_jobs, wait_all

DATA = Path(__file__).parent / "data"


def canned(name: str) -> str:
    lines = (DATA / name).read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("# captured"))


def run_command(argv: list[str]) -> None:
    asyncio.run(SlurmScheduler(SlurmSettings(), run_tag="t").run_command(argv))


def test_a_command_too_long_to_start_is_a_scheduler_error_naming_it():
    with pytest.raises(SchedulerError) as err:
        run_command(["/bin/true", "x" * 200_000])  # over Linux's 128 kB per argument: E2BIG
    text = str(err.value)
    assert text.startswith("cannot run '/bin/true': Argument list too long (E2BIG), 2 arguments of")
    assert "please report it" in text and not err.value.transient


def test_a_command_that_is_missing_or_not_executable_is_a_scheduler_error(tmp_path: Path):
    with pytest.raises(
        SchedulerError, match=r"cannot run 'no-such-sbatch': .*\(ENOENT\) -- install the slurm"
    ):
        run_command(["no-such-sbatch"])
    script = tmp_path / "squeue"
    script.write_text("#!/bin/sh\n")
    with pytest.raises(SchedulerError, match=r"\(EACCES\) -- make .*squeue executable") as err:
        run_command([str(script)])
    assert err.value.reason == "permission"


class Recording(SlurmScheduler):
    """Answers the status query with canned squeue output and records the commands."""

    answer = ""

    async def run_command(self, argv: Sequence[str]) -> str:
        self.commands_run.append(list(argv))
        return self.answer


class RecordingSge(SgeScheduler):
    answer = ""

    async def run_command(self, argv: Sequence[str]) -> str:
        self.commands_run.append(list(argv))
        return self.answer


def test_statuses_is_one_query_by_user_and_names_notable_slurm_states(tmp_path: Path):
    jobs = make_jobs(tmp_path, ["true"] * 3)
    for job, jid in zip(jobs, ("7_1", "7_2", "7_3"), strict=True):
        job.jid = jid
    sched = Recording(SlurmSettings(), run_tag="t")
    sched.answer = (
        "7_1|RUNNING|pw-t-Contract|None\n7_2|TIMEOUT|pw-t-Contract|None\n7_3|COMPLETED|pw-u-X|None\n"
    )

    states = asyncio.run(sched.statuses(jobs))
    assert states == {jobs[0]: JobState.RUNNING, jobs[1]: JobState.FAILED}  # 7_3 is another run's
    assert [job.native_state for job in jobs] == [None, "TIMEOUT", None]
    assert sched.commands_run == [SlurmScheduler.status_argv(SlurmSettings(), user=sched.user)]


def test_an_sge_job_in_error_state_is_reported_without_a_qdel_in_the_query(tmp_path: Path):
    text = canned("sge-8.1.9/qstat_xml_mixed.txt")
    eqw = [k for k, s in SgeScheduler.parse_status(text, prefix="pw-abc12345-").items() if s.native == "Eqw"]
    (job,) = make_jobs(tmp_path, ["true"])
    job.jid = eqw[0][0] if eqw[0][1] is None else f"{eqw[0][0]}.{eqw[0][1]}"
    sched = RecordingSge(SgeSettings(), run_tag="abc12345")
    sched.answer = text

    assert asyncio.run(sched.statuses([job])) == {job: JobState.FAILED}
    assert job.native_state == f"Eqw: SGE could not start it; `qstat -j {job.jid}` says why"
    assert [argv[0] for argv in sched.commands_run] == ["qstat"]


class StuckInFailed(Scheduler):
    """Reports every job FAILED forever, like an SGE job in Eqw; records what it is asked to kill."""

    name = "stuck"
    min_poll_interval = 0.05
    rc_grace = 0.2

    def __init__(self) -> None:
        super().__init__(run_tag="t")
        self.kills: list[list[Job]] = []
        self.forgotten: set[Job] = set()

    async def submit(self, jobs: Sequence[Job]) -> None:
        for job in jobs:
            job.jid = str(job.index)

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        return {job: JobState.FAILED for job in jobs if job not in self.forgotten}

    async def kill(self, jobs: Sequence[Job]) -> None:
        self.kills.append(list(jobs))
        raise SchedulerError("stuck: cannot kill")  # errors of this kill do not end the run


def test_jobs_kept_in_a_final_state_without_rc_are_killed_once_when_lost(tmp_path: Path):
    jobs = make_jobs(tmp_path, ["true"] * 4)
    Path(jobs[0].path("job.rc")).write_text("3\n")  # ended by its script: not killed
    sched = StuckInFailed()
    sched.forgotten.add(jobs[3])  # gone from the queue: nothing to kill

    async def main() -> dict[Job, JobState]:
        queue: asyncio.Queue = asyncio.Queue()
        await sched.dispatch(jobs, queue)
        try:
            return await wait_all(sched, jobs, queue, timeout=20)
        finally:
            await sched.close()

    finals = asyncio.run(main())
    assert [finals[job] for job in jobs] == [JobState.FAILED, JobState.LOST, JobState.LOST, JobState.LOST]
    assert sched.kills == [[jobs[1], jobs[2]]]
