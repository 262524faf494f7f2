"""The slurm scheduler on the real single-node SLURM 22.05 cluster of tests/services/slurm.sh."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from pipework.schedulers.slurm import SlurmScheduler, SlurmSettings
from pipework.testing import SchedulerContract

from .cluster import ClusterScenarios, long_pipeline, run_driver, write_pipeline

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
    assert "[Long job 0] failed" in res.stderr and "(scheduler: TIMEOUT)" in res.stderr
