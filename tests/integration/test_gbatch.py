"""The gbatch scheduler through the real google-cloud-batch client, against the local Batch API of
tests/fakes/gbatch (which runs the tasks, with /mnt/disks/<bucket> synced to the GCS emulator)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from pipework import paths
from pipework.job import Job
from pipework.schedulers.gbatch import GbatchScheduler, GbatchSettings, mount_path
from pipework.testing import SchedulerContract

from .test_cloud import make_bucket, read

pytestmark = [pytest.mark.gbatch, pytest.mark.cloud]


class TestGbatchContract(SchedulerContract):
    """The scheduler contract on the local Batch API, with the job dirs on the GCS emulator."""

    __test__ = True
    timeout = 180.0
    array_size = 20

    def make_scheduler(self, tmp_path: Path) -> GbatchScheduler:
        settings = GbatchSettings(
            project="test",
            location="local",
            endpoint=os.environ["PW_GBATCH_ENDPOINT"],
            anonymous=True,
            poll_interval=0.5,
            max_poll_interval=2.0,
        )
        return GbatchScheduler(settings, run_tag=f"c{abs(hash(str(tmp_path))) % 10**6}")

    def workdir(self, tmp_path: Path) -> str:
        marker = tmp_path / ".bucket"
        if not marker.exists():
            marker.write_text(make_bucket("gs"))
        return marker.read_text() + "/work"

    def job_file(self, job: Job, name: str) -> str:
        # what the task writes is on its VM's mount (this machine for the local API) as soon as it is
        # written, and in the bucket once the task ends; job.jid is written by the driver to the bucket
        if name == "job.jid":
            return paths.join(job.dir, name)
        return os.path.normpath(os.path.join(mount_path(job.dir), name))

PIPELINE = """
from pipework import Pipeline, Proc

class Echo(Proc):
    input = "word"
    input_data = ["hello", "world", "again"]
    output = "f:file:{{{{in.word}}}}.txt"
    script = "echo {{{{in.word}}}} > {{{{out.f}}}}; echo ran >> {{{{out.f | dirname}}}}/../runs"
    {extra}

class Join(Proc):
    requires = Echo
    input = "fs:files"
    input_data = lambda ch: [[ch.column("f")]]
    output = "all:file:all.txt"
    script = "cat {{{{in.fs | quote}}}} > {{{{out.all}}}}"

class P(Pipeline):
    starts = Echo
    workdir = "{bucket}/work"
    outdir = "{bucket}/out"
    scheduler = "gbatch"
    scheduler_opts = {{"project": "test", "location": "local", "endpoint": "{endpoint}", "anonymous": True,
                      "poll_interval": 0.5, "max_poll_interval": 2}}

if __name__ == "__main__":
    P.main()
"""


def api(path: str) -> dict:
    with urllib.request.urlopen(
        os.environ["PW_GBATCH_ENDPOINT"] + path, data=b"" if path.endswith("reset") else None
    ) as r:
        return json.loads(r.read() or b"{}")


def write_pipeline(bucket: str, extra: str = "") -> None:
    Path("pipeline.py").write_text(
        PIPELINE.format(bucket=bucket, endpoint=os.environ["PW_GBATCH_ENDPOINT"], extra=extra)
    )


def run_driver(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "pipeline.py", "-q", *args], capture_output=True, text=True, timeout=300
    )


def test_fan_out_fan_in_on_batch_with_one_query_per_poll(isolated: Path):
    bucket = make_bucket("gs")
    write_pipeline(bucket)
    api("/_fake/reset")
    res = run_driver()
    assert res.returncode == 0, res.stderr
    assert read(f"{bucket}/out/Join/all.txt") == "hello\nworld\nagain\n"
    jid = read(f"{bucket}/work/P/Echo/2/job.jid").strip()
    assert jid.startswith("projects/test/locations/local/jobs/pw-") and jid.endswith("#2")
    requests = api("/_fake/requests")["requests"]
    creates = [r for r in requests if r["method"] == "POST"]
    assert len(creates) == 2  # one Batch job per process submission, whatever the number of jobs
    polls = [r for r in requests if r["path"].endswith("/tasks")]
    assert polls and all(r["method"] == "GET" for r in polls)
    # each poll asks once per active Batch job: never once per task
    assert len(polls) < 3 * 10
    rerun = run_driver("--dry-run")
    assert "Echo  3 jobs: 3 cached, 0 to run" in rerun.stdout, rerun.stdout


def test_container_runnable_spec_reaches_the_api(isolated: Path):
    bucket = make_bucket("gs")
    write_pipeline(bucket, extra='container = "ghcr.io/lab/tools:1.2"')
    res = run_driver()
    assert res.returncode == 0, res.stderr  # the fake runs the container's command on the host
    jid = read(f"{bucket}/work/P/Echo/0/job.jid").strip().split("#")[0]
    job = api("/v1/" + jid)
    container = job["taskGroups"][0]["taskSpec"]["runnables"][0]["container"]
    bucket_name = bucket.split("//")[1]
    assert container["imageUri"] == "ghcr.io/lab/tools:1.2" and container["entrypoint"] == "bash"
    assert container["volumes"] == [f"/mnt/disks/{bucket_name}:/mnt/disks/{bucket_name}"]
    assert job["labels"]["pipework-proc"] == "echo"


def test_a_failing_task_reports_its_stderr_from_the_bucket(isolated: Path):
    bucket = make_bucket("gs")
    write_pipeline(bucket)
    body = (
        Path("pipeline.py")
        .read_text()
        .replace(
            'script = "echo {{in.word}} > {{out.f}}; echo ran >> {{out.f | dirname}}/../runs"',
            'script = "echo {{in.word}} > {{out.f}}; echo no reference for {{in.word}} >&2; [ {{in.word}} != world ]"',
        )
    )
    Path("pipeline.py").write_text(body)
    res = run_driver()
    assert res.returncode == 1
    assert "[Echo job 1] failed with return code 1" in res.stderr
    assert "| no reference for world" in res.stderr


def _batch_jobs() -> list[str]:
    return [r["path"] for r in api("/_fake/requests")["requests"] if r["method"] == "DELETE"]


def test_halt_deletes_the_batch_jobs_and_a_restarted_driver_reattaches(isolated: Path):
    bucket = make_bucket("gs")
    write_pipeline(bucket)
    body = (
        Path("pipeline.py")
        .read_text()
        .replace(
            'script = "echo {{in.word}} > {{out.f}}; echo ran >> {{out.f | dirname}}/../runs"',
            'script = "echo ran >> {{job.dir}}/../runs-{{in.word}}; sleep 4; echo {{in.word}} > {{out.f}}"',
        )
    )
    Path("pipeline.py").write_text(body)
    api("/_fake/reset")
    driver = subprocess.Popen([sys.executable, "pipeline.py", "-q"], text=True)
    deadline = time.monotonic() + 60
    name = bucket.split("//")[1]
    while time.monotonic() < deadline and not Path(f"/mnt/disks/{name}/work/P/Echo/runs-again").exists():
        time.sleep(0.2)
    driver.send_signal(signal.SIGKILL)  # the Batch job goes on without its driver
    driver.wait()
    res = run_driver()
    assert res.returncode == 0, res.stderr
    assert read(f"{bucket}/out/Join/all.txt") == "hello\nworld\nagain\n"
    creates = [r for r in api("/_fake/requests")["requests"] if r["method"] == "POST"]
    assert len(creates) == 2  # Echo adopted (not resubmitted), Join submitted once
    for word in ("hello", "world", "again"):
        assert read(f"{bucket}/work/P/Echo/runs-{word}") == "ran\n"

    # now a halt: a failing task while others run; the run's Batch jobs are deleted
    write_pipeline(bucket)
    Path("pipeline.py").write_text(
        Path("pipeline.py")
        .read_text()
        .replace(
            'script = "echo {{in.word}} > {{out.f}}; echo ran >> {{out.f | dirname}}/../runs"',
            'script = "[ {{in.word}} != hello ] || exit 3; sleep 30"',
        )
        .replace("/work", "/work2")
    )
    api("/_fake/reset")
    res = run_driver()
    assert res.returncode == 1 and "[Echo job 0] failed with return code 3" in res.stderr
    assert _batch_jobs(), "the halted run did not delete its Batch job"


def set_policy(policy: dict) -> None:
    request = urllib.request.Request(
        os.environ["PW_GBATCH_ENDPOINT"] + "/_fake/policy", data=json.dumps(policy).encode(), method="POST"
    )
    urllib.request.urlopen(request).close()


def test_a_project_without_permission_is_a_clear_error(isolated: Path):
    bucket = make_bucket("gs")
    write_pipeline(bucket)
    Path("pipeline.py").write_text(
        Path("pipeline.py").read_text().replace('"project": "test"', '"project": "locked"')
    )
    api("/_fake/reset")
    set_policy({"deny": ["locked"]})
    try:
        res = run_driver()
    finally:
        api("/_fake/reset")
    assert res.returncode == 1
    assert "Traceback" not in res.stderr
    assert "permission denied" in res.stderr and "batch.jobs.create" in res.stderr, res.stderr
    assert "roles batch.jobsEditor" in res.stderr  # the fix


def test_quota_errors_are_retried_with_backoff(isolated: Path):
    bucket = make_bucket("gs")
    write_pipeline(bucket)
    api("/_fake/reset")
    set_policy({"refuse_creates": {"test": 2}})  # the first two job creations hit the quota
    res = run_driver()
    assert res.returncode == 0, res.stderr
    assert read(f"{bucket}/out/Join/all.txt") == "hello\nworld\nagain\n"
    creates = [r for r in api("/_fake/requests")["requests"] if r["method"] == "POST"]
    assert len(creates) == 4  # two refused, then one Batch job per process
