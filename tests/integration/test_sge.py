"""The sge scheduler on the real SGE 8.1.9 cell of tests/services/sge.sh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipework.schedulers.sge import SgeScheduler, SgeSettings
from pipework.testing import SchedulerContract

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
