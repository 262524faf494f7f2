"""The run store and the commands that read it: history, show, status, logs."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pipework import PipelineFailed, Proc
from pipework.cli import cli
from pipework.store import RunStore

from .helpers import make_pipeline, run


def test_runs_processes_and_jobs_are_recorded(isolated: Path):
    class Echo(Proc):
        input = "n"
        input_data = [1, 2]
        script = "echo out{{in.n}}; echo err{{in.n}} >&2"

    pipe = make_pipeline(Echo, store=str(isolated / "runs.db"))
    run(pipe)
    run(pipe)
    db = RunStore(str(isolated / "runs.db"))
    second, first = db.runs()
    assert (first.state, second.state, first.pipeline) == ("done", "done", "P")
    assert [(p.name, p.counts) for p in db.procs(first.id)] == [("Echo", {"done": 2})]
    assert [(p.name, p.counts) for p in db.procs(second.id)] == [("Echo", {"cached": 2})]
    jobs = db.jobs(first.id)
    assert [(j.index, j.state, j.rc) for j in jobs] == [(0, "done", 0), (1, "done", 0)]
    assert jobs[1].reason == "never ran (no signature)"

    runner = CliRunner()
    store = ["--store", str(isolated / "runs.db")]
    out = runner.invoke(cli, ["history", *store]).output.splitlines()
    assert out[0].split() == ["run", "pipeline", "state", "started", "seconds", "scheduler", "directory"]
    assert out[1].split()[:3] == [str(second.id), "P", "done"]
    out = runner.invoke(cli, ["show", str(first.id), *store]).output
    assert "Echo: 2 jobs (2 done)" in out
    out = runner.invoke(cli, ["status", *store]).output
    assert out.startswith(f"run {second.id}: pipeline P, done") and "Echo: 2 cached" in out
    out = runner.invoke(cli, ["logs", "Echo", "1", "--stderr", *store]).output
    assert out == "err2\n"
    out = runner.invoke(cli, ["logs", "Echo", "0", *store]).output
    assert "job.stdout <==\nout1\n" in out and "job.stderr <==\nerr1\n" in out


def test_a_failed_run_is_recorded_as_failed_with_its_job(isolated: Path):
    class Fail(Proc):
        script = "exit 4"

    with pytest.raises(PipelineFailed):
        run(make_pipeline(Fail))  # default store: under HOME
    db = RunStore()
    (last,) = db.runs()
    assert last.state == "failed"
    out = CliRunner().invoke(cli, ["show", str(last.id)]).output
    assert "failed: Fail job 0 rc=4" in out


def test_a_store_that_cannot_be_opened_fails_the_run_before_any_job_starts(isolated: Path):
    from pipework.store import StoreUnreachable

    class Ok(Proc):
        script = "touch ran"

    Path("afile").write_text("x")
    with pytest.raises(StoreUnreachable) as info:
        run(make_pipeline(Ok, store="afile/runs.db"))
    message = str(info.value)
    assert message.startswith(f"run store {isolated / 'afile' / 'runs.db'} cannot be reached: ")
    assert "make its directory writable or choose another file" in message
    assert "store = 'none'" in message
    assert not list(Path("wd").glob("P/Ok/0/job.*")) and not Path("wd/P/Ok/0/ran").exists()


def test_store_none_records_nothing(isolated: Path):
    from pipework.store import default_store_path

    class Ok(Proc):
        script = "true"

    assert run(make_pipeline(Ok, store="none")).ok
    assert not default_store_path().exists()
