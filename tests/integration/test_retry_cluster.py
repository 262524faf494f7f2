"""Resources that grow on retry, by failure reason, on the real SLURM 22.05 and SGE 8.1.9 services: a job
killed by its time limit is classified ``timeout``, retried with more time, and succeeds; the submit
commands show the growth, and the cluster's own records show both attempts."""

from __future__ import annotations

import asyncio
import re
import stat
import subprocess
from pathlib import Path

import pytest

from pipework.schedulers.slurm import SlurmScheduler, SlurmSettings
from pipework.testing import make_jobs

from .cluster import run_driver, write_pipeline

PIPELINE = """
from pipework import Pipeline, Proc

class Slow(Proc):
    input = "n"
    input_data = [0]
    output = "o:file:done.txt"
    retry_on = ["timeout"]
    num_retries = 2
    resources = {"mem": "100M", "time": lambda job: TIME}
    resource_limits = {"time": "LIMIT"}
    script = "echo start >> ../log; sleep SLEEP; echo end >> ../log; echo ok > {{out.o}}"

class P(Pipeline):
    starts = Slow
    scheduler = "SCHEDULER"
    scheduler_opts = {"COMMAND": "RECORDER"}
    workdir = "./wd"
    outdir = "./out"

if __name__ == "__main__":
    P.main()
"""


def recorder(tool: str) -> str:
    """A stand-in for ``tool`` that appends its argv to ``submits.txt`` and runs the real one."""
    path = Path(f"rec-{tool}").resolve()
    log = Path("submits.txt").resolve()
    path.write_text(f'#!/bin/sh\necho "$*" >> {log}\nexec {tool} "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def pipeline(scheduler: str, tool: str, *, time: str, limit: str, sleep: int) -> None:
    body = (
        PIPELINE.replace("SCHEDULER", scheduler)
        .replace("COMMAND", tool)
        .replace("RECORDER", recorder(tool))
        .replace("TIME", time)
        .replace("LIMIT", limit)
        .replace("SLEEP", str(sleep))
    )
    write_pipeline(scheduler, body)


@pytest.mark.slurm
def test_slurm_a_job_killed_by_its_time_limit_is_retried_with_more_time(isolated: Path):
    # SLURM limits are whole minutes and it enforces them every 30 s: 100 s of work is killed under
    # a 1-minute limit and finishes under a 2-minute one
    pipeline("slurm", "sbatch", time='f"{job.attempt}m"', limit="5m", sleep=100)
    res = run_driver("-q", timeout=600)
    assert res.returncode == 0, res.stderr
    assert Path("out/Slow/done.txt").read_text() == "ok\n"
    assert Path("wd/P/Slow/log").read_text() == "start\nstart\nend\n"  # killed once, then finished
    assert (
        "[Slow job 0] failed with return code 143 (timeout; scheduler: TIMEOUT) -- timeout: attempt 1 of 3, "
        "retrying with time=2m; its output of that attempt: job.stdout.1, job.stderr.1" in res.stderr
    ), res.stderr
    times = re.findall(r"--time=(\S+)", Path("submits.txt").read_text())
    assert times == ["00:01:00", "00:02:00"]  # the sbatch of each attempt
    # SLURM's own record of both attempts (kept for MinJobAge): the first ended by its time limit
    name = f"pw-{_tag()}-Slow"
    listed = subprocess.run(
        ["squeue", "--noheader", "--states=all", f"--name={name}", "--format=%T|%l|%A"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert sorted(line.rsplit("|", 1)[0] for line in listed) == ["COMPLETED|2:00", "TIMEOUT|1:00"], listed
    # and sacct reads the same from the jobcomp file (this cluster has no slurmdbd), as the
    # scheduler does for a job that left squeue before it showed how it ended
    first = next(line.rsplit("|", 1)[1] for line in listed if line.startswith("TIMEOUT"))
    assert _sacct_kind(first) == "timeout"


def _tag() -> str:
    """The run tag of the pipeline in this directory (from the job's name on the cluster)."""
    jid = Path("wd/P/Slow/0/job.jid").read_text().strip()
    info = subprocess.run(["scontrol", "show", "job", jid], capture_output=True, text=True, check=True).stdout
    found = re.search(r"JobName=pw-([^-\s]+)-Slow", info)
    assert found, info
    return found.group(1)


def _sacct_kind(jid: str) -> str | None:
    """What the slurm scheduler's accounting query says of a job id (a fresh scheduler, as after a
    driver that did not see the job end)."""
    (job,) = make_jobs(Path("probe"), ["true"], scheduler="slurm")
    job.jid = jid
    sched = SlurmScheduler(SlurmSettings(), run_tag="probe")
    asyncio.run(sched.classify([job]))
    tools = [argv[:2] for argv in sched.commands_run]
    assert tools == [["sacct", "-X"], ["sacct", "-c"]], sched.commands_run  # no slurmdbd: the jobcomp file
    return job.failure_kind


@pytest.mark.sge
def test_sge_a_job_killed_by_its_time_limit_is_retried_with_more_time(isolated: Path):
    pipeline("sge", "qsub", time='f"{10 * job.attempt}s"', limit="1m", sleep=15)
    res = run_driver("-q", timeout=600)
    assert res.returncode == 0, res.stderr
    assert Path("out/Slow/done.txt").read_text() == "ok\n"
    assert Path("wd/P/Slow/log").read_text() == "start\nstart\nend\n"
    assert (
        "[Slow job 0] failed with return code 138 (timeout) -- timeout: attempt 1 of 3, retrying with "
        "time=20s; its output of that attempt: job.stdout.1, job.stderr.1" in res.stderr
    ), res.stderr
    assert (
        "pipework: the scheduler signalled the end of the time limit (SIGUSR1)"
        in Path("wd/P/Slow/0/job.stderr.1").read_text()
    )
    limits = re.findall(r"-l (\S+)", Path("submits.txt").read_text())
    assert limits == ["h_vmem=100M,h_rt=00:00:40,s_rt=00:00:10", "h_vmem=100M,h_rt=00:00:50,s_rt=00:00:20"]
    # SGE's accounting of both attempts: the first ended by s_rt (the wrapper's 138), the second well
    jid = Path("wd/P/Slow/0/job.jid").read_text().strip().split(".")[0]
    name = _qacct_field(jid, "jobname")
    records = subprocess.run(["qacct", "-j", name], capture_output=True, text=True, check=True).stdout
    ends = re.findall(r"^exit_status\s+(\d+)", records, re.MULTILINE)
    categories = re.findall(r"^category\s+(.+?)\s*$", records, re.MULTILINE)
    assert ends[-2:] == ["138", "0"], records
    assert [c for c in categories if "s_rt" in c][-2:] == [
        "-l h_rt=40,h_vmem=100M,s_rt=10",
        "-l h_rt=50,h_vmem=100M,s_rt=20",
    ], categories


def _qacct_field(jid: str, field: str) -> str:
    out = subprocess.run(["qacct", "-j", jid], capture_output=True, text=True, check=True).stdout
    found = re.search(rf"^{field}\s+(\S+)", out, re.MULTILINE)
    assert found, out
    return found.group(1)
