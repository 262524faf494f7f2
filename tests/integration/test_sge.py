"""The sge scheduler on the real SGE 8.1.9 cell of tests/services/sge.sh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipework.schedulers.sge import SgeScheduler, SgeSettings
from pipework.testing import SchedulerContract

from .cluster import kill_driver_hard, run_driver, wait_for, write_pipeline

pytestmark = pytest.mark.sge


class TestSgeContract(SchedulerContract):
    __test__ = True
    timeout = 180.0

    def make_scheduler(self, tmp_path: Path) -> SgeScheduler:
        return SgeScheduler(SgeSettings(), run_tag=f"c{abs(hash(str(tmp_path))) % 10**6}")


def _qstat() -> str:
    return subprocess.run(["qstat", "-xml", "-u", "*"], capture_output=True, text=True).stdout  # full names


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


def test_failing_job_report_has_its_stderr(isolated: Path):
    write_pipeline(
        "sge",
        """
from pipework import Pipeline, Proc

class Bad(Proc):
    input = "n"
    input_data = [0, 1]
    script = "echo 'cannot open reference.fa' >&2; [ {{in.n}} = 0 ] || exit 9"

class P(Pipeline):
    starts = Bad
    scheduler = "sge"
    workdir = "./wd"

if __name__ == "__main__":
    P.main()
""",
    )
    res = run_driver("-q")
    assert res.returncode == 1
    assert "[Bad job 1] failed with return code 9" in res.stderr
    assert "| cannot open reference.fa" in res.stderr


LONG = """
from pipework import Pipeline, Proc

class Long(Proc):
    input = "n"
    input_data = [0, 1, 2]
    script = "echo start >> ../log-{{in.n}}; sleep 20; echo end >> ../log-{{in.n}}"
    {extra}

class P(Pipeline):
    starts = Long
    scheduler = "sge"
    workdir = "./wd"

if __name__ == "__main__":
    P.main()
"""


def test_halt_cancels_the_run_jobs_on_the_cluster(isolated: Path):
    write_pipeline(
        "sge",
        LONG.replace("{extra}", 'error_strategy = "halt"').replace(
            "sleep 20;", "[ {{in.n}} = 0 ] && exit 5; sleep 60;"
        ),
    )
    res = run_driver("-q")
    assert res.returncode == 1 and "[Long job 0] failed with return code 5" in res.stderr
    assert wait_for(lambda: "pw-" not in _qstat() or "Long" not in _qstat(), 30)
    for n in (1, 2):
        log = Path(f"wd/P/Long/log-{n}")
        assert not log.exists() or "end" not in log.read_text()


def test_sigterm_cancels_and_restart_after_sigkill_reattaches(isolated: Path):
    write_pipeline("sge", LONG.replace("{extra}", ""))
    driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"], text=True)
    assert wait_for(lambda: all(Path(f"wd/P/Long/log-{n}").exists() for n in range(3)), 60)
    kill_driver_hard(driver)  # the jobs keep running on the cluster
    assert "Long" in _qstat()
    res = run_driver("-q")
    assert res.returncode == 0, res.stderr
    for n in range(3):  # adopted, not resubmitted: started once, ended once
        assert Path(f"wd/P/Long/log-{n}").read_text() == "start\nend\n"


def test_a_job_over_its_time_limit_is_reported_as_such(isolated: Path):
    write_pipeline(
        "sge",
        LONG.replace("{extra}", 'resources = {"time": "5s"}')
        .replace("sleep 20", "sleep 300")
        .replace("[0, 1, 2]", "[0]"),
    )
    res = run_driver("-q", timeout=400)
    assert res.returncode == 1
    assert "[Long job 0] failed with return code 138" in res.stderr
    assert "| pipework: the scheduler signalled the end of the time limit (SIGUSR1)" in res.stderr


def test_without_arrays_each_job_is_its_own_submission(isolated: Path):
    write_pipeline("sge")
    body = (
        Path("pipeline.py")
        .read_text()
        .replace("forks = 4", 'forks = 4\n    scheduler_opts = {"array": False}')
    )
    Path("pipeline.py").write_text(body)
    res = run_driver("-q")
    assert res.returncode == 0, res.stderr
    assert Path("out/Sum/total.txt").read_text() == "55\n"
    jids = [Path(f"wd/Cluster/Split/{i}/job.jid").read_text().strip() for i in range(6)]
    assert all(j.isdigit() for j in jids) and len(set(jids)) == 6
