"""The local scheduler: forks, concurrency of branches, kill on signals, reattach after SIGKILL."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from pipework import Proc
from pipework.job import Job
from pipework.schedulers.base import JobEvent
from pipework.schedulers.local import LocalScheduler, LocalSettings
from pipework.schedulers.process import pidfd_works
from pipework.state import JobState
from pipework.testing import make_jobs, wait_all

from .helpers import make_pipeline, run, write


def _max_overlap(intervals: list[tuple[float, float]]) -> int:
    events = sorted([(s, 1) for s, _ in intervals] + [(e, -1) for _, e in intervals])
    best = cur = 0
    for _, delta in events:
        cur += delta
        best = max(best, cur)
    return best


def _intervals(root: str) -> list[tuple[float, float]]:
    out = []
    for f in Path(root).glob("*/span"):
        start, end = f.read_text().split()
        out.append((float(start), float(end)))
    return out


SPAN = "s=$(date +%s.%N); sleep 0.3; echo $s $(date +%s.%N) > span"


def test_forks_limits_jobs_of_one_process(isolated: Path):
    class Work(Proc):
        input = "n"
        input_data = list(range(6))
        forks = 2
        script = SPAN

    run(make_pipeline(Work))
    spans = _intervals("wd/P/Work")
    assert len(spans) == 6 and _max_overlap(spans) == 2


def test_independent_branches_run_concurrently_and_max_jobs_caps_the_run(isolated: Path):
    class Left(Proc):
        input = "n"
        input_data = [1, 2]
        forks = 2
        script = SPAN

    class Right(Proc):
        input = "n"
        input_data = [1, 2]
        forks = 2
        script = SPAN

    run(make_pipeline([Left, Right]))
    assert _max_overlap(_intervals("wd/P/Left") + _intervals("wd/P/Right")) == 4
    run(make_pipeline([Left, Right], workdir="./wd2", scheduler_opts={"max_jobs": 1}))
    assert _max_overlap(_intervals("wd2/P/Left") + _intervals("wd2/P/Right")) == 1


PIPELINE = """
import sys
from pipework import Pipeline, Proc

class Long(Proc):
    input = "n"
    input_data = [0, 1]
    forks = 2
    script = "echo started >> ../log-{{in.n}}; sleep 30; echo finished >> ../log-{{in.n}}"

class P(Pipeline):
    starts = Long
    workdir = "./wd"

if __name__ == "__main__":
    P.main()
"""


def _wait_for(predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def _started(n: int = 2) -> bool:
    return all(Path(f"wd/P/Long/log-{i}").exists() for i in range(n))


def _alive_wrappers() -> list[str]:
    out = subprocess.run(["pgrep", "-f", str(Path("wd/P/Long").resolve())], capture_output=True, text=True)
    return out.stdout.split()


def test_sigint_and_sigterm_cancel_running_jobs_and_leave_a_consistent_state(isolated: Path):
    write("pipeline.py", PIPELINE)
    for sig in (signal.SIGINT, signal.SIGTERM):
        for f in Path(".").glob("wd/P/Long/log-*"):
            f.unlink()
        driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"], stderr=subprocess.PIPE, text=True)
        assert _wait_for(_started)
        driver.send_signal(sig)
        _, err = driver.communicate(timeout=20)
        assert driver.returncode == 1
        assert f"interrupted by {sig.name}" in err and "Traceback" not in err
        assert _wait_for(lambda: not _alive_wrappers(), 10)
        for i in range(2):
            assert Path(f"wd/P/Long/{i}/job.rc").read_text().strip() == "143"
            assert "finished" not in Path(f"wd/P/Long/log-{i}").read_text()
        assert not Path("wd/P/.pipework.lock").exists()


def test_restarted_driver_adopts_jobs_of_a_killed_driver(isolated: Path):
    write("pipeline.py", PIPELINE.replace("sleep 30", "sleep 2"))
    driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"])
    assert _wait_for(_started)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    assert _alive_wrappers()  # the jobs outlive their driver
    second = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    for i in range(2):
        # started once (adopted, not resubmitted), finished once
        assert Path(f"wd/P/Long/log-{i}").read_text() == "started\nfinished\n"


def test_a_live_driver_holds_the_lock(isolated: Path):
    write("pipeline.py", PIPELINE.replace("sleep 30", "sleep 3"))
    driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"])
    try:
        assert _wait_for(_started)
        second = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True)
        assert second.returncode == 1
        assert f"another run (pid {driver.pid} on" in second.stderr
    finally:
        driver.send_signal(signal.SIGTERM)
        driver.wait(timeout=20)


def test_stale_lock_of_a_dead_driver_is_taken_over(isolated: Path):
    import json
    import socket

    write("pipeline.py", PIPELINE.replace("sleep 30", "true"))
    dead = subprocess.Popen(["true"])
    dead.wait()
    write(
        "wd/P/.pipework.lock",
        json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": 0}),
    )
    res = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    assert os.path.exists("wd/P/Long/1/job.rc")


def test_a_job_started_before_its_driver_recorded_job_jid_is_still_adopted(isolated: Path):
    """The driver may die between starting a job and writing its job.jid: the wrapper's job.pid suffices."""
    write("pipeline.py", PIPELINE.replace("sleep 30", "sleep 2"))
    driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"])
    assert _wait_for(_started)
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    for i in range(2):
        Path(f"wd/P/Long/{i}/job.jid").unlink(missing_ok=True)  # as if the driver died before writing them
    second = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    for i in range(2):
        assert Path(f"wd/P/Long/log-{i}").read_text() == "started\nfinished\n"


def _scheduler_run(main: Any) -> Any:
    return asyncio.run(main)


def test_waiting_jobs_hold_no_task_and_a_cancel_then_a_resubmit_runs_a_job_once(tmp_path: Path):
    """500 queued jobs of a process with forks 2 hold a few tasks, not 500; cancelled while waiting, a job
    never starts, and submitted again it runs once."""
    jobs = make_jobs(tmp_path / "work", ["sleep 30"] * 2 + ["echo x >> ../count"] * 498, forks=2)

    async def main() -> tuple[int, dict[Job, JobState]]:
        sched = LocalScheduler(LocalSettings(kill_grace=2.0), run_tag="t")
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        try:
            before = len(asyncio.all_tasks())
            await sched.dispatch(jobs, queue)
            tasks = len(asyncio.all_tasks()) - before
            await sched.cancel(jobs[2:])  # still waiting behind the two long ones
            finals = await wait_all(sched, jobs[2:], queue, timeout=30)
            await sched.cancel(jobs[:2])
            await wait_all(sched, jobs[:2], queue, timeout=30)
            await sched.dispatch(jobs[2:3], queue)  # again: it runs, once
            finals.update(await wait_all(sched, jobs[2:3], queue, timeout=30))
            return tasks, finals
        finally:
            await sched.close(kill=True)

    tasks, finals = _scheduler_run(main())
    assert tasks <= 4, f"{tasks} tasks for 500 jobs"
    assert finals[jobs[2]] is JobState.DONE
    assert all(finals[j] is JobState.KILLED for j in jobs[3:])
    assert (tmp_path / "work" / "Contract" / "count").read_text() == "x\n"


def test_the_scheduler_reports_how_a_job_ended(tmp_path: Path):
    """The wrapper's exit status and its rusage (CPU seconds, peak memory) land on the job."""
    jobs = make_jobs(tmp_path / "work", ["exit 3", "x=$(seq 1 20000 | wc -l)"])

    async def main() -> None:
        sched = LocalScheduler(run_tag="t")
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        try:
            await sched.dispatch(jobs, queue)
            await wait_all(sched, jobs, queue, timeout=30)
        finally:
            await sched.close(kill=True)

    _scheduler_run(main())
    assert [job.exit_status for job in jobs] == [3, 0]
    assert [job.rc for job in jobs] == [3, 0]
    if pidfd_works():
        assert all(isinstance(job.cpu_seconds, float) and job.cpu_seconds >= 0 for job in jobs)
        assert all(job.peak_rss is not None and job.peak_rss > 100_000 for job in jobs)
