"""The run store of runs whose job dirs are on a bucket: what the wrapper measured (``job.usage``,
staged out beside the job's streams, or written on the mounted bucket by gbatch) is read into each
attempt, many at a time; the sizes of cloud outputs come from their readers' signatures (the cache
check's listing), with no request of their own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipework.store import RunStore

from .test_cloud import make_bucket, read

PIPELINE = """
from pipework import Pipeline, Proc

class Echo(Proc):
    input = "word"
    input_data = ["a", "bb", "ccc"]
    output = "f:file:{{{{in.word}}}}.txt"
    script = "echo {{{{in.word}}}} > {{{{out.f}}}}"

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
    store = "runs.db"
    {extra}

if __name__ == "__main__":
    P.main()
"""


def _run(bucket: str, extra: str = "") -> None:
    Path("pipeline.py").write_text(PIPELINE.format(bucket=bucket, extra=extra))
    res = subprocess.run([sys.executable, "pipeline.py", "-q"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr


def _check_measured(bucket: str) -> None:
    db = RunStore("runs.db")
    attempts = db.attempts(1)
    assert [(a.proc, a.index) for a in attempts] == [("Echo", 0), ("Echo", 1), ("Echo", 2), ("Join", 0)]
    for a in attempts:
        assert a.host and a.wall is not None and a.cpu is not None, a
        assert a.started is not None and a.ended is not None and a.started <= a.ended
    job = db.jobs(1, "Echo", 1)[0]
    assert job.wall == attempts[1].wall and job.host == attempts[1].host
    assert read(f"{bucket}/work/P/Echo/1/job.usage").startswith("pipework-usage 1\nstart ")


@pytest.mark.cloud
@pytest.mark.parametrize("scheme", ["gs", "s3"])
def test_a_bucket_workdir_records_what_each_wrapper_measured_and_the_outputs_sizes(
    isolated: Path, scheme: str
):
    bucket = make_bucket(scheme)
    _run(bucket)
    _check_measured(bucket)
    arts = {(a.proc, a.index): a for a in RunStore("runs.db").artifacts(1)}
    for index, word in enumerate(["a", "bb", "ccc"]):
        echo = arts[("Echo", index)]
        assert echo.uri == f"{bucket}/work/P/Echo/{index}/output/{word}.txt"
        assert echo.nbytes == len(word) + 1 and echo.mtime is not None  # from Join's signature
        assert echo.consumers == (("Join", 0),)
    assert arts[("Join", 0)].exported == f"{bucket}/out/Join/all.txt"
    # lineage from the exported URL: Join's job, and each input's Echo job
    found = subprocess.run(
        [sys.executable, "-m", "pipework", "lineage", f"{bucket}/out/Join/all.txt", "--json", "--store", "runs.db"],
        capture_output=True, text=True,
    )  # fmt: skip
    tree = json.loads(found.stdout)
    assert tree["match"] == "export" and tree["job"]["proc"] == "Join"
    assert sorted((i["job"]["proc"], i["job"]["index"]) for i in tree["inputs"]) == [
        ("Echo", k) for k in range(3)
    ]


@pytest.mark.cloud
@pytest.mark.gbatch
def test_gbatch_records_what_each_task_measured(isolated: Path):
    bucket = make_bucket("gs")
    opts = (
        f'scheduler = "gbatch"\n    scheduler_opts = {{"project": "test", "location": "local", '
        f'"endpoint": "{os.environ["PW_GBATCH_ENDPOINT"]}", "anonymous": True, "poll_interval": 0.5, '
        '"max_poll_interval": 2}'
    )
    _run(bucket, opts)
    _check_measured(bucket)
    trace = subprocess.run(
        [sys.executable, "-m", "pipework", "trace", "--store", "runs.db"], capture_output=True, text=True
    )
    rows = [line.split("\t") for line in trace.stdout.splitlines()[1:]]
    assert len(rows) == 4 and all(r[6] == "COMPLETED" and r[12] != "-" and r[17] != "-" for r in rows)
