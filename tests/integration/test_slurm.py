"""The slurm scheduler on the real single-node SLURM 22.05 cluster of tests/services/slurm.sh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipework.schedulers.slurm import SlurmScheduler, SlurmSettings
from pipework.testing import SchedulerContract

from .cluster import kill_driver_hard, run_driver, wait_for, write_pipeline

pytestmark = pytest.mark.slurm


class TestSlurmContract(SchedulerContract):
    __test__ = True
    timeout = 180.0

    def make_scheduler(self, tmp_path: Path) -> SlurmScheduler:
        return SlurmScheduler(SlurmSettings(), run_tag=f"c{abs(hash(str(tmp_path))) % 10**6}")


def _squeue_names() -> str:
    return subprocess.run(["squeue", "--noheader", "--format=%j"], capture_output=True, text=True).stdout


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


def test_failing_job_report_has_its_stderr(isolated: Path):
    write_pipeline(
        "slurm",
        """
from pipework import Pipeline, Proc

class Bad(Proc):
    input = "n"
    input_data = [0, 1]
    script = "echo 'cannot open reference.fa' >&2; [ {{in.n}} = 0 ] || exit 9"

class P(Pipeline):
    starts = Bad
    scheduler = "slurm"
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
    scheduler = "slurm"
    workdir = "./wd"

if __name__ == "__main__":
    P.main()
"""


def test_halt_cancels_the_run_jobs_on_the_cluster(isolated: Path):
    write_pipeline(
        "slurm",
        LONG.replace("{extra}", 'error_strategy = "halt"').replace(
            "sleep 20;", "[ {{in.n}} = 0 ] && exit 5; sleep 60;"
        ),
    )
    res = run_driver("-q")
    assert res.returncode == 1 and "[Long job 0] failed with return code 5" in res.stderr
    assert wait_for(lambda: "pw-" not in _squeue_names() or "Long" not in _squeue_names(), 30)
    for n in (1, 2):
        log = Path(f"wd/P/Long/log-{n}")
        assert not log.exists() or "end" not in log.read_text()


def test_sigterm_cancels_and_restart_after_sigkill_reattaches(isolated: Path):
    write_pipeline("slurm", LONG.replace("{extra}", ""))
    driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"], text=True)
    assert wait_for(lambda: all(Path(f"wd/P/Long/log-{n}").exists() for n in range(3)), 60)
    kill_driver_hard(driver)  # the jobs keep running on the cluster
    assert "Long" in _squeue_names()
    res = run_driver("-q")
    assert res.returncode == 0, res.stderr
    for n in range(3):  # adopted, not resubmitted: started once, ended once
        assert Path(f"wd/P/Long/log-{n}").read_text() == "start\nend\n"


def test_a_job_over_its_time_limit_is_reported_as_such(isolated: Path):
    write_pipeline(
        "slurm",
        LONG.replace("{extra}", 'resources = {"time": "1m"}')
        .replace("sleep 20", "sleep 300")
        .replace("[0, 1, 2]", "[0]"),
    )
    res = run_driver("-q", timeout=400)
    assert res.returncode == 1
    assert "[Long job 0] failed" in res.stderr and "(scheduler: TIMEOUT)" in res.stderr


def test_without_arrays_each_job_is_its_own_submission(isolated: Path):
    write_pipeline("slurm")
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
