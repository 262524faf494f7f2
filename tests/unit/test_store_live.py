"""The run store as a run writes it: jobs, attempts and artifacts appear while it runs, and the
commands that read it (status, why, logs) answer mid-run."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pipework import PipelineFailed, Proc
from pipework.cli import cli
from pipework.store import RunStore

from .helpers import make_pipeline, run


def _wait_for(check: Any, what: str, timeout: float = 30.0) -> Any:
    """Poll ``check`` until it returns something true (a state, never a fixed delay)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_status_why_and_logs_answer_while_the_run_runs(isolated: Path):
    go = isolated / "go"

    class Gate(Proc):
        input = "n"
        input_data = [0, 1, 2]
        script = (
            f"echo started {{{{in.n}}}}; [ {{{{in.n}}}} = 0 ] || while [ ! -e {go} ]; do sleep 0.05; done"
        )

    class After(Proc):
        requires = Gate
        script = "true"

    store = str(isolated / "runs.db")
    errors: list[BaseException] = []

    def drive() -> None:
        try:
            run(make_pipeline(Gate, store=store))
        except BaseException as exc:  # reported by the test below
            errors.append(exc)

    thread = threading.Thread(target=drive)
    thread.start()
    try:
        db = RunStore(store)

        def running() -> Any:
            assert not errors, errors
            runs = db.runs()
            if not runs:
                return None
            counts = {p.name: p.counts for p in db.procs(runs[0].id)}
            return (
                counts
                if counts.get("Gate", {}).get("running") == 2 and counts["Gate"].get("done") == 1
                else None
            )

        _wait_for(running, "two jobs running and one done")
        runner = CliRunner()
        status = runner.invoke(cli, ["status", "--store", store]).output
        assert status.startswith("run 1: pipeline P, running, started ")
        assert "driver   pid " in status and ", running" in status
        assert "  Gate: 1 done, 2 running" in status and "  After: 3 pending" in status
        assert "jobs     1 of 6 done or cached" in status
        why = runner.invoke(cli, ["why", "Gate", "--store", store])
        assert why.exit_code == 0, why.output
        assert "Gate job 1: never ran (no signature)" in why.output
        logs = runner.invoke(cli, ["logs", "Gate", "2", "--stdout", "--store", store]).output
        assert logs == "started 2\n"
    finally:
        go.write_text("go")
        thread.join()
    assert not errors
    db = RunStore(store)
    assert db.run(1).state == "done"
    assert [(p.name, p.state, p.counts) for p in db.procs(1)] == [
        ("Gate", "done", {"done": 3}),
        ("After", "done", {"done": 3}),
    ]


def test_each_attempt_is_recorded_with_its_timestamps_measurements_and_failure(isolated: Path):
    class Flaky(Proc):
        input = "n"
        input_data = [0, 1]
        error_strategy = "retry"
        num_retries = 1
        resources = {"cpus": 2, "mem": "1G"}
        # job 1 fails on its first attempt (no marker yet), then succeeds
        script = "echo hi; [ {{in.n}} = 0 ] || [ -e {{job.dir}}/../tried ] || { touch {{job.dir}}/../tried; exit 5; }"

    run(make_pipeline(Flaky, store="runs.db"))
    db = RunStore("runs.db")
    attempts = db.attempts(1)
    assert [(a.index, a.attempt, a.state, a.rc) for a in attempts] == [
        (0, 1, "done", 0),
        (1, 1, "failed", 5),
        (1, 2, "done", 0),
    ]
    _, failed, second = attempts
    assert failed.failure == "failed with return code 5" and second.failure is None
    for a in attempts:
        assert a.jid == "pw-" + a.jid.split("-")[1] + f"-Flaky-{a.index}"
        assert a.host and a.wall is not None and a.wall >= 0 and a.cpu is not None and a.cpu >= 0
        assert (
            a.queued is not None and a.submitted is not None and a.started is not None and a.ended is not None
        )
        assert a.queued <= a.submitted and a.started <= a.ended
        assert (a.req_cpus, a.req_mem_mib, a.req_time_s) == (2, 1024, None)
    assert failed.ended is not None and second.queued is not None and failed.ended <= second.queued + 5
    job = db.jobs(1, "Flaky", 1)[0]
    assert (job.state, job.attempts, job.rc, job.cache, job.task_id) == ("done", 2, 0, "run", 2)
    assert job.wall == second.wall and job.host == second.host and job.failure is None
    assert job.sig_hash and len(job.sig_hash) == 64 and job.script_hash and job.inputs == '{"n": 1}'
    assert Path(job.dir, "job.usage").read_text().startswith("pipework-usage 1\nstart ")


def test_artifacts_name_their_producer_and_every_job_that_read_them(isolated: Path):
    class Make(Proc):
        input = "n"
        input_data = [1, 2]
        output = ["f:file:{{in.n}}.txt", "v:var:value{{in.n}}"]
        script = "printf 'line\\n%.0s' $(seq {{in.n}}) > {{out.f}}"

    class Use(Proc):
        requires = Make
        input = "fs:files"
        input_data = lambda ch: [[ch.column("f")]]
        output = "all:file:all.txt"
        script = "cat {{in.fs | quote}} > {{out.all}}"

    pipe = make_pipeline(Make, store="runs.db")
    run(pipe)
    db = RunStore("runs.db")
    arts = {(a.proc, a.index, a.name): a for a in db.artifacts(1)}
    f1, v2, total = arts[("Make", 0, "f")], arts[("Make", 1, "v")], arts[("Use", 0, "all")]
    assert (f1.kind, f1.nbytes, f1.exported) == ("file", 5, None) and f1.uri.endswith(
        "/P/Make/0/output/1.txt"
    )
    assert f1.mtime is not None and f1.consumers == (("Use", 0),)
    assert (v2.kind, v2.uri, v2.var_value, v2.consumers) == ("var", "var:Make/1/v", "value2", ())
    assert total.nbytes == 15 and total.exported == str(isolated / "out" / "Use" / "all.txt")
    run(pipe)  # cached: the run records the same artifacts, made by its cached jobs
    again = {(a.proc, a.index, a.name): a for a in db.artifacts(2)}
    assert again[("Make", 0, "f")].uri == f1.uri and again[("Make", 0, "f")].mtime == f1.mtime
    assert {j.cache for j in db.jobs(2)} == {"cached"} and not db.attempts(2)


def test_a_halted_run_records_how_each_job_ended(isolated: Path):
    class Work(Proc):
        input = "n"
        input_data = [0, 1, 2]
        forks = 1
        script = "[ {{in.n}} != 2 ] || sleep 30; exit {{in.n}}"

    class Later(Proc):
        requires = Work
        script = "true"

    with pytest.raises(PipelineFailed):
        run(make_pipeline(Work, store="runs.db"))
    db = RunStore("runs.db")
    assert db.run(1).state == "failed"
    assert [(j.index, j.state) for j in db.jobs(1, "Work")][:2] == [(0, "done"), (1, "failed")]
    assert db.jobs(1, "Work", 2)[0].state in ("killed", "not run")  # as the halt found it
    assert db.jobs(1, "Work", 1)[0].failure == "failed with return code 1"
    procs = {p.name: p for p in db.procs(1)}
    assert procs["Work"].state == "stopped" and procs["Later"].state == "not run"
    assert procs["Later"].counts == {"not run": 3}
