"""Shared scenarios for the cluster schedulers (run against the real SLURM and SGE services)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

PIPELINE = """
from pipework import Pipeline, Proc

class Split(Proc):
    input = "n"
    input_data = list(range(6))
    output = "part:file:part{{{{in.n}}}}.txt"
    resources = {{"cpus": 1, "mem": "200M", "time": "10m"}}
    script = "echo $(( {{{{in.n}}}} * {{{{in.n}}}} )) > {{{{out.part}}}}; hostname > host.txt"

class Sum(Proc):
    requires = Split
    input = "parts:files"
    input_data = lambda ch: [[ch.column("part")]]
    output = "total:file:total.txt"
    script = "cat {{{{in.parts | quote}}}} | awk '{{s+=$1}} END {{print s}}' > {{{{out.total}}}}"

class Cluster(Pipeline):
    starts = Split
    scheduler = "{scheduler}"
    workdir = "./wd"
    outdir = "./out"
    forks = 4

if __name__ == "__main__":
    Cluster.main()
"""


def write_pipeline(scheduler: str, body: str | None = None) -> Path:
    path = Path("pipeline.py")
    path.write_text(body if body is not None else PIPELINE.format(scheduler=scheduler))
    return path


def run_driver(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "pipeline.py", *args], capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate, timeout: float = 120.0, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def kill_driver_hard(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()


BAD = """
from pipework import Pipeline, Proc

class Bad(Proc):
    input = "n"
    input_data = [0, 1]
    script = "echo 'cannot open reference.fa' >&2; [ {{in.n}} = 0 ] || exit 9"

class P(Pipeline):
    starts = Bad
    scheduler = "SCHEDULER"
    workdir = "./wd"

if __name__ == "__main__":
    P.main()
"""

LONG = """
from pipework import Pipeline, Proc

class Long(Proc):
    input = "n"
    input_data = [0, 1, 2]
    script = "echo start >> ../log-{{in.n}}; sleep 20; echo end >> ../log-{{in.n}}"
    EXTRA

class P(Pipeline):
    starts = Long
    scheduler = "SCHEDULER"
    workdir = "./wd"

if __name__ == "__main__":
    P.main()
"""


def long_pipeline(scheduler: str, extra: str = "") -> str:
    return LONG.replace("SCHEDULER", scheduler).replace("EXTRA", extra)


class ClusterScenarios:
    """What a user does on a cluster, run against a real one. Subclasses name the scheduler."""

    __test__ = False
    scheduler: str
    #: Separator of array id and task id in job ids.
    sep: str

    def queue(self) -> str:
        """The cluster's queue listing, with full job names."""
        raise NotImplementedError

    def test_failing_job_report_has_its_stderr(self, isolated: Path) -> None:
        write_pipeline(self.scheduler, BAD.replace("SCHEDULER", self.scheduler))
        res = run_driver("-q")
        assert res.returncode == 1
        assert "[Bad job 1] failed with return code 9" in res.stderr
        assert "| cannot open reference.fa" in res.stderr

    def test_halt_cancels_the_run_jobs_on_the_cluster(self, isolated: Path) -> None:
        body = long_pipeline(self.scheduler, 'error_strategy = "halt"')
        write_pipeline(self.scheduler, body.replace("sleep 20;", "[ {{in.n}} = 0 ] && exit 5; sleep 60;"))
        res = run_driver("-q")
        assert res.returncode == 1 and "[Long job 0] failed with return code 5" in res.stderr
        assert wait_for(lambda: "Long" not in self.queue(), 30)
        for n in (1, 2):
            log = Path(f"wd/P/Long/log-{n}")
            assert not log.exists() or "end" not in log.read_text()

    def test_after_a_halt_jobs_are_killed_or_not_run_never_running(self, isolated: Path) -> None:
        body = long_pipeline(self.scheduler, "forks = 2")
        write_pipeline(
            self.scheduler, body.replace("sleep 20;", "[ {{in.n}} = 0 ] && sleep 3 && exit 5; sleep 60;")
        )
        res = run_driver("-q")
        assert res.returncode == 1 and "[Long job 0] failed with return code 5" in res.stderr
        status = subprocess.run(
            [sys.executable, "-m", "pipework", "status"], capture_output=True, text=True
        ).stdout
        line = next(x for x in status.splitlines() if x.strip().startswith("Long:"))
        assert "1 failed" in line and "running" not in line and "queued" not in line, status
        assert "killed" in line or "not run" in line, status

    def test_a_job_that_cannot_write_job_rc_says_so(self, isolated: Path) -> None:
        # job.rc (and the driver's probe) made directories: no one, not even root, can write them
        body = (
            BAD.replace("SCHEDULER", self.scheduler)
            .replace(
                "script = \"echo 'cannot open reference.fa' >&2; [ {{in.n}} = 0 ] || exit 9\"",
                'script = "mkdir {{job.dir}}/job.rc {{job.dir}}/.pw-write-probe"',
            )
            .replace("[0, 1]", "[0]")
        )
        write_pipeline(self.scheduler, body)
        res = run_driver("-q")
        assert res.returncode == 1
        assert "[Bad job 0] could not write job.rc in " in res.stderr, res.stderr
        assert "writing there fails: Is a directory" in res.stderr
        assert "killed by SIGKILL" not in res.stderr

    def test_restart_after_sigkill_reattaches(self, isolated: Path) -> None:
        write_pipeline(self.scheduler, long_pipeline(self.scheduler))
        driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"], text=True)
        assert wait_for(lambda: all(Path(f"wd/P/Long/log-{n}").exists() for n in range(3)), 60)
        kill_driver_hard(driver)  # the jobs keep running on the cluster
        assert "Long" in self.queue()
        res = run_driver("-q")
        assert res.returncode == 0, res.stderr
        for n in range(3):  # adopted, not resubmitted: started once, ended once
            assert Path(f"wd/P/Long/log-{n}").read_text() == "start\nend\n"

    def test_without_arrays_each_job_is_its_own_submission(self, isolated: Path) -> None:
        write_pipeline(self.scheduler)
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
