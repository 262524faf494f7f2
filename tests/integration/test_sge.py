"""The sge scheduler on the real SGE 8.1.9 cell of tests/services/sge.sh."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest

from pipework.job import Job
from pipework.schedulers.base import JobEvent
from pipework.schedulers.sge import SgeScheduler, SgeSettings
from pipework.state import JobState
from pipework.testing import SchedulerContract, make_jobs, wait_all

from .cluster import ClusterScenarios, long_pipeline, run_driver, wait_for, write_pipeline

pytestmark = pytest.mark.sge


class TestSgeContract(SchedulerContract):
    __test__ = True
    timeout = 180.0

    def make_scheduler(self, tmp_path: Path) -> SgeScheduler:
        return SgeScheduler(SgeSettings(), run_tag=f"c{abs(hash(str(tmp_path))) % 10**6}")


def test_fan_out_fan_in_with_arrays_and_resources(isolated: Path):
    write_pipeline("sge")
    driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"], stderr=subprocess.PIPE, text=True)
    # resources reached SGE: ask qstat -j while the array is queued or running
    assert wait_for(lambda: Path("wd/Cluster/Split/0/job.jid").exists(), 60)
    array_id = Path("wd/Cluster/Split/0/job.jid").read_text().strip().split(".")[0]
    info = subprocess.run(["qstat", "-j", array_id], capture_output=True, text=True).stdout
    _, err = driver.communicate(timeout=300)
    assert driver.returncode == 0, err
    assert Path("out/Sum/total.txt").read_text() == "55\n"
    assert len({Path(f"wd/Cluster/Split/{i}/job.jid").read_text().split(".")[0] for i in range(6)}) == 1
    if info:  # the array may already have finished by the time qstat -j asked
        assert "h_vmem=200M" in info and "s_rt=600" in info


class TestSgeScenarios(ClusterScenarios):
    __test__ = True
    scheduler = "sge"
    sep = "."

    def queue(self) -> str:
        return subprocess.run(
            ["qstat", "-xml", "-u", "*"], capture_output=True, text=True
        ).stdout  # full names


def test_a_job_over_its_time_limit_is_reported_as_such(isolated: Path):
    write_pipeline(
        "sge",
        long_pipeline("sge", 'resources = {"time": "5s"}')
        .replace("sleep 20", "sleep 300")
        .replace("[0, 1, 2]", "[0]"),
    )
    res = run_driver("-q", timeout=400)
    assert res.returncode == 1
    assert "[Long job 0] failed with return code 138" in res.stderr
    assert "| pipework: the scheduler signalled the end of the time limit (SIGUSR1)" in res.stderr


class QuickSge(SgeScheduler):
    """The sge scheduler, declaring a job lost 3 s (not 30 s) after it leaves without job.rc."""

    rc_grace = 3.0


def test_a_job_sge_cannot_start_is_reported_then_deleted(tmp_path: Path):
    """A job in error state (Eqw: here its working directory does not exist) is FAILED on every query,
    never runs, and would wait in the queue forever: it ends LOST, named so, and is deleted then."""
    tag = f"eqw{abs(hash(str(tmp_path))) % 10**6}"
    (job,) = make_jobs(tmp_path / "work", ["true"], scheduler="sge")
    sched = QuickSge(SgeSettings(extra_args=["-wd", "/nonexistent/pw-eqw"]), run_tag=tag)

    async def main() -> dict[Job, JobState]:
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        try:
            await sched.dispatch([job], queue)
            return await wait_all(sched, [job], queue, timeout=120)
        finally:
            await sched.close(kill=True)

    assert asyncio.run(main()) == {job: JobState.LOST}
    assert job.native_state == f"Eqw: SGE could not start it; `qstat -j {job.jid}` says why"
    tools = [argv[0] for argv in sched.commands_run]
    assert tools.count("qdel") == 1 and tools.index("qdel") > tools.index("qstat")
    assert wait_for(lambda: f"pw-{tag}-" not in TestSgeScenarios().queue(), 30)
