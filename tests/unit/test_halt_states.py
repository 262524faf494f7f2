"""After a halt, the jobs it killed are reported killed and the jobs it never started "not run" -- in the
display, ``pipework show`` and ``pipework status`` -- never "running"; a job that could not write its
``job.rc`` says so instead of blaming a kill."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

PIPELINE = """
from pipework import Pipeline, Proc

class Work(Proc):
    input = "n"
    input_data = list(range(6))
    forks = 2
    script = "if [ {{in.n}} = 0 ]; then sleep 0.5; exit 3; fi; sleep 30"

class After(Proc):
    requires = Work
    script = "true"

class P(Pipeline):
    starts = Work
    workdir = "./wd"

if __name__ == "__main__":
    P.main()
"""


def _cli(*args: str) -> str:
    res = subprocess.run([sys.executable, "-m", "pipework", *args], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_a_halt_reports_killed_and_not_run_jobs_everywhere(isolated: Path):
    Path("pipeline.py").write_text(PIPELINE)
    res = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    out = res.stdout + res.stderr
    # job 0 failed; the jobs running then (job 1, and job 2 if it took job 0's slot) were killed; the
    # others never started; After never ran
    found = re.search(r"\[Work\] stopped after [\d.]+s: 6 jobs: 1 failed, (\d) killed, (\d) not run", out)
    assert found is not None, out
    killed, not_run = int(found.group(1)), int(found.group(2))
    assert killed + not_run == 5 and 1 <= killed <= 2, out
    assert "[After] not run: 6 jobs: 6 not run" in out
    show = _cli("show", "1")
    assert f"Work: 6 jobs (1 failed, {killed} killed, {not_run} not run)" in show, show
    assert "After: 6 jobs (6 not run)" in show, show
    assert "running" not in show.split("\n", 1)[1] and "queued" not in show
    assert "killed: Work job 1" in show
    status = _cli("status")
    assert f"Work: 1 failed, {killed} killed, {not_run} not run" in status, status
    assert "running" not in status.split("\n", 1)[1]


def test_a_job_that_cannot_write_job_rc_says_so(isolated: Path):
    Path("pipeline.py").write_text(
        PIPELINE.replace(
            'script = "if [ {{in.n}} = 0 ]; then sleep 0.5; exit 3; fi; sleep 30"',
            # job.rc made a directory: no one, not even root, can write it
            'script = "mkdir {{job.dir}}/job.rc"',
        ).replace("list(range(6))", "[0]")
    )
    res = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, timeout=60)
    assert res.returncode == 1
    out = res.stdout + res.stderr
    assert "[Work job 0] could not write job.rc in " in out, out
    assert "(its script exited 0)" in out and "disk is full or the workdir is read-only" in out
    assert "killed by SIGKILL" not in out
