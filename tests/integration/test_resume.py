"""Resume never reruns a finished job: the driver is SIGKILLed, the jobs finish without it, and the
next run accepts them as done (their signature was stored before they were submitted)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .cluster import wait_for

PIPELINE = """
from pipework import Pipeline, Proc

class Work(Proc):
    input = "n"
    input_data = list(range({n}))
    output = "o:file:o{{{{in.n}}}}.txt"
    script = "echo {{{{in.n}}}} >> {log}; sleep {sleep}; echo {{{{in.n}}}} > {{{{out.o}}}}"

class After(Proc):
    requires = Work
    input = "os:files"
    input_data = lambda ch: [[ch.column("o")]]
    output = "all:file:all.txt"
    script = "cat {{{{in.os | quote}}}} > {{{{out.all}}}}"

class P(Pipeline):
    starts = Work
    scheduler = "{scheduler}"
    workdir = "{workdir}"
    outdir = "./out"
    forks = {forks}
    scheduler_opts = {opts}

if __name__ == "__main__":
    P.main()
"""


def write(
    scheduler: str, *, n: int, sleep: str, forks: int = 8, workdir: str = "./wd", log: str = "", opts: str = "{}"
) -> Path:
    path = Path("executions.log").resolve()
    Path("pipeline.py").write_text(
        PIPELINE.format(
            n=n, log=log or path, sleep=sleep, scheduler=scheduler, forks=forks, workdir=workdir, opts=opts
        )
    )
    return path


def executions(log: Path) -> dict[int, int]:
    counts: dict[int, int] = {}
    for line in log.read_text().split() if log.exists() else []:
        counts[int(line)] = counts.get(int(line), 0) + 1
    return counts


def start() -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "pipeline.py", "-q"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )


def finish() -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, timeout=600)


def test_kill_9_soak_on_local_reruns_no_finished_job(isolated: Path):
    """10 rounds: start the driver, SIGKILL it at a random moment; then run to the end. Every job ran
    exactly once: finished jobs are never run again, running ones are adopted."""
    n = 40
    log = write("local", n=n, sleep="0.$(( RANDOM % 4 ))")
    rng = random.Random(11)
    for _ in range(10):
        driver = start()
        time.sleep(rng.uniform(0.3, 1.5))
        driver.send_signal(signal.SIGKILL)
        driver.wait()
    res = finish()
    assert res.returncode == 0, res.stderr
    counts = executions(log)
    assert sorted(counts) == list(range(n))
    assert {k: v for k, v in counts.items() if v > 1} == {}, "jobs that ran more than once"
    assert Path("out/After/all.txt").read_text().split() == [str(i) for i in range(n)]


def _killed_mid_run_then_resumed(scheduler: str, **kw: object) -> None:
    log = write(scheduler, n=4, sleep="4", forks=4, **kw)  # type: ignore[arg-type]
    driver = start()
    assert wait_for(lambda: len(executions(log)) == 4, 120), "the jobs never started"
    driver.send_signal(signal.SIGKILL)  # the jobs go on and finish while no driver runs
    driver.wait()
    time.sleep(6)
    res = finish()
    assert res.returncode == 0, res.stderr
    assert executions(log) == {0: 1, 1: 1, 2: 1, 3: 1}
    assert Path("out/After/all.txt").read_text() == "0\n1\n2\n3\n"


def test_jobs_that_finish_while_no_driver_runs_are_done_local(isolated: Path):
    _killed_mid_run_then_resumed("local")


@pytest.mark.slurm
def test_jobs_that_finish_while_no_driver_runs_are_done_slurm(isolated: Path):
    _killed_mid_run_then_resumed("slurm")


@pytest.mark.sge
def test_jobs_that_finish_while_no_driver_runs_are_done_sge(isolated: Path):
    _killed_mid_run_then_resumed("sge")


@pytest.mark.cloud
@pytest.mark.parametrize("scheme", ["gs", "s3"])
def test_jobs_that_finish_while_no_driver_runs_are_done_on_a_bucket(isolated: Path, scheme: str):
    from .test_cloud import make_bucket

    _killed_mid_run_then_resumed("local", workdir=f"{make_bucket(scheme)}/work")


@pytest.mark.slurm
@pytest.mark.cloud
def test_jobs_that_finish_while_no_driver_runs_are_done_slurm_on_a_bucket(isolated: Path):
    from .test_cloud import make_bucket

    _killed_mid_run_then_resumed("slurm", workdir=f"{make_bucket('gs')}/work")


@pytest.mark.gbatch
@pytest.mark.cloud
def test_jobs_that_finish_while_no_driver_runs_are_done_gbatch(isolated: Path):
    from .test_cloud import make_bucket

    bucket = make_bucket("gs")
    # the Batch VMs see the bucket mounted; the local API runs them on this machine, so the log is shared
    opts = (
        f'{{"project": "test", "location": "local", "endpoint": "{os.environ["PW_GBATCH_ENDPOINT"]}", '
        '"anonymous": True, "poll_interval": 0.5, "max_poll_interval": 1}'
    )
    _killed_mid_run_then_resumed("gbatch", workdir=f"{bucket}/work", opts=opts)


def test_executions_log_counts_appends(isolated: Path):
    """The helper the tests rely on counts one line per execution."""
    log = Path("executions.log")
    log.write_text("1\n2\n1\n")
    assert executions(log) == {1: 2, 2: 1}
    assert os.path.exists(log)


def test_two_drivers_started_at_once_run_each_job_once(isolated: Path):
    """Five trials of two drivers started at the same instant on one workdir: one runs, the other
    stops with a clear message; no job runs twice."""
    log = write("local", n=24, sleep="0.1")
    for trial in range(5):
        subprocess.run(["rm", "-rf", "out", "wd"], check=True)
        log.unlink(missing_ok=True)
        drivers = [
            subprocess.Popen([sys.executable, "pipeline.py", "-q"], stderr=subprocess.PIPE, text=True)
            for _ in range(2)
        ]
        results = [(d.wait(timeout=120), d.stderr.read() if d.stderr else "") for d in drivers]
        codes = sorted(rc for rc, _ in results)
        assert codes in ([0, 0], [0, 1]), (trial, results)
        for rc, err in results:
            if rc == 1:
                assert "another run (pid" in err and "Traceback" not in err
        # whichever way the race went (one refused, or the second found everything cached), each
        # job ran exactly once
        assert executions(log) == {i: 1 for i in range(24)}, (trial, results)
