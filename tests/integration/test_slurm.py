"""The slurm scheduler on the real single-node SLURM 22.05 cluster of tests/services/slurm.sh."""

from __future__ import annotations

import asyncio
import getpass
import re
import subprocess
from pathlib import Path

import pytest

from pipework.job import Job
from pipework.schedulers.base import JobEvent
from pipework.schedulers.slurm import SlurmScheduler, SlurmSettings
from pipework.state import JobState
from pipework.testing import SchedulerContract, make_jobs

from .cluster import ClusterScenarios, long_pipeline, run_driver, wait_for, write_pipeline

pytestmark = pytest.mark.slurm


class TestSlurmContract(SchedulerContract):
    __test__ = True
    timeout = 180.0

    def make_scheduler(self, tmp_path: Path) -> SlurmScheduler:
        return SlurmScheduler(SlurmSettings(), run_tag=f"c{abs(hash(str(tmp_path))) % 10**6}")


def test_fan_out_fan_in_with_arrays_and_resources(isolated: Path):
    write_pipeline("slurm")
    res = run_driver("-q")
    assert res.returncode == 0, res.stderr
    assert Path("out/Sum/total.txt").read_text() == "55\n"
    jid = Path("wd/Cluster/Split/3/job.jid").read_text().strip()
    _, _, task = jid.partition("_")
    assert task == "3"  # one array for the process, the task id selects the job
    assert len({Path(f"wd/Cluster/Split/{i}/job.jid").read_text().split("_")[0] for i in range(6)}) == 1
    # resources reached SLURM: scontrol still knows the finished array for MinJobAge seconds
    info = subprocess.run(["scontrol", "show", "job", jid], capture_output=True, text=True).stdout
    assert "MinMemoryNode=200M" in info and "TimeLimit=00:10:00" in info and "NumCPUs=1" in info


class TestSlurmScenarios(ClusterScenarios):
    __test__ = True
    scheduler = "slurm"
    sep = "_"

    def queue(self) -> str:
        return subprocess.run(["squeue", "--noheader", "--format=%j"], capture_output=True, text=True).stdout


def test_a_job_over_its_time_limit_is_reported_as_such(isolated: Path):
    write_pipeline(
        "slurm",
        long_pipeline("slurm", 'resources = {"time": "1m"}')
        .replace("sleep 20", "sleep 300")
        .replace("[0, 1, 2]", "[0]"),
    )
    res = run_driver("-q", timeout=400)
    assert res.returncode == 1
    assert "[Long job 0] failed with return code 143 (timeout; scheduler: TIMEOUT)" in res.stderr


def slurm_config(key: str, default: int) -> int:
    """A number from ``scontrol show config`` (MaxArraySize, MaxJobCount)."""
    config = subprocess.run(["scontrol", "show", "config"], capture_output=True, text=True, check=True).stdout
    found = re.search(rf"^{key}\s*=\s*(\d+)", config, re.MULTILINE)
    return int(found.group(1)) if found else default


def run_jobs(tag: str) -> list[str]:
    """The names of the queued or running jobs of run ``tag`` on the cluster."""
    names = subprocess.run(
        ["squeue", "--noheader", f"--user={getpass.getuser()}", "--format=%j"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [name for name in names if name.startswith(f"pw-{tag}-")]


def test_a_ten_thousand_job_process_is_queried_with_one_short_squeue(tmp_path: Path):
    """Regression: squeue once listed every job name in one argument (E2BIG beyond ~5,000 jobs).

    The process has 10,000 jobs. SLURM counts every array task against MaxJobCount (10,000 by default,
    for the whole cluster), so the jobs that fit in a fifth of it are submitted as arrays and polled;
    then a restarted driver asks about all 10,000 at once (reattach: one status query for every job).
    """
    tag = f"big{abs(hash(str(tmp_path))) % 10**6}"
    jobs = make_jobs(tmp_path / "work", ["sleep 30"] * 10_000, proc="Big", forks=1, scheduler="slurm")
    submitted = jobs[: min(len(jobs), slurm_config("MaxJobCount", 10_000) // 5)]
    settings = SlurmSettings(max_array_size=slurm_config("MaxArraySize", 1001))
    first, second = (SlurmScheduler(settings, run_tag=tag) for _ in range(2))

    async def main() -> dict[Job, JobState]:
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        try:
            await first.dispatch(submitted, queue)
            assert await asyncio.to_thread(wait_for, lambda: first.status_calls > 0 or not queue.empty(), 60)
            while not queue.empty():  # the poll loop reports an error that ends the run on the queue
                if isinstance(item := queue.get_nowait(), BaseException):
                    raise item
            await first.close(kill=False)  # the driver dies; a new one asks about every job
            return {job: job.state for job in await second.reattach(jobs, asyncio.Queue())}
        finally:
            await first.close(kill=True)
            await second.close(kill=True)

    try:
        adopted = asyncio.run(main())
        queries = [argv for sched in (first, second) for argv in sched.commands_run if argv[0] == "squeue"]
        assert queries and all(sum(len(arg.encode()) + 1 for arg in argv) < 4096 for argv in queries)
        assert list(adopted) == submitted  # found queued or running, all of them
        assert set(adopted.values()) <= {JobState.QUEUED, JobState.RUNNING}
        assert wait_for(lambda: not run_jobs(tag), 60), run_jobs(tag)[:5]
    finally:  # whatever failed, leave the cluster empty
        subprocess.run(["scancel", f"--user={getpass.getuser()}", f"--name=pw-{tag}-Big"], check=False)
