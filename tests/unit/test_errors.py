"""Errors carry their context as attributes: within() adds context, pickling keeps it, callers read it."""

from __future__ import annotations

import os
import pickle
import signal
import threading
import time
from pathlib import Path

import pytest

from pipework import (
    ConfigError,
    JobFailed,
    PipelineFailed,
    PipeworkError,
    Proc,
    SchedulerError,
    StorageError,
)

from .helpers import make_pipeline, run


def test_within_returns_a_new_error_with_more_context_and_leaves_the_original():
    err = StorageError("cannot write out.txt", hint="check the bucket's permissions")
    wider = err.within(proc="Count", job=3, doing="exporting its outputs failed")
    assert type(wider) is StorageError and wider is not err
    assert str(wider) == (
        "[Count job 3] exporting its outputs failed: cannot write out.txt -- check the bucket's permissions"
    )
    assert str(err) == "cannot write out.txt -- check the bucket's permissions"
    assert (err.proc, err.job) == (None, None)


def test_within_fills_proc_job_and_hint_only_where_unset():
    err = ConfigError("forks must be a positive int, got 0", proc="Align", job=1, key="forks")
    wider = err.within(proc="Other", job=7, hint="set forks = 4", source="PIPEWORK_FORKS")
    assert (
        str(wider)
        == "[Align job 1] forks must be a positive int, got 0 (from PIPEWORK_FORKS) -- set forks = 4"
    )
    assert wider.key == "forks"
    hinted = ConfigError("bad", hint="the first fix").within(hint="another fix")
    assert str(hinted) == "bad -- the first fix"


def test_within_keeps_the_fields_of_each_class():
    failed = JobFailed(
        "exited with 2", proc="Count", job=0, rc=2, jobdir="/wd/P/Count/0", stderr_tail="oops\n"
    )
    wider = failed.within(doing="retry 3")
    assert (wider.rc, wider.jobdir, wider.stderr_tail) == (2, "/wd/P/Count/0", "oops\n")
    assert wider.report().splitlines()[0] == "[Count job 0] retry 3: exited with 2"
    sched = SchedulerError("Batch API create_job: Conflict", reason="already_exists", transient=False)
    assert sched.within(proc="P").reason == "already_exists"


def test_raise_from_within_chains_the_original():
    original = ConfigError("cache is 'sometimes'", hint='cache is true, false or "content"')
    with pytest.raises(ConfigError) as info:
        try:
            raise original
        except ConfigError as exc:
            raise exc.within(proc="Count") from exc
    assert info.value.__cause__ is original
    assert str(info.value) == "[Count] cache is 'sometimes' -- cache is true, false or \"content\""


@pytest.mark.parametrize(
    "err",
    [
        ConfigError("forks must be a positive int, got 0", key="forks", proc="P", hint="h"),
        SchedulerError("Batch API list_tasks: NotFound", transient=True, reason="not_found", job=2),
        PipelineFailed("pipeline P was interrupted by SIGTERM", interrupted="SIGTERM"),
        JobFailed("exited with 1", proc="P", job=0, rc=1, stderr_tail="x"),
        StorageError("gone", proc="P").within(job=4, doing="staging"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_context_survives_pickling(err: PipeworkError):
    back = pickle.loads(pickle.dumps(err))
    assert type(back) is type(err) and str(back) == str(err) and back.args == err.args
    assert vars(back) == vars(err)


def test_failed_pipeline_is_not_interrupted():
    class Fails(Proc):
        script = "echo interrupted >&2; exit 3"  # the word in the report does not make it an interrupt

    with pytest.raises(PipelineFailed) as info:
        run(make_pipeline(Fails))
    assert info.value.interrupted is None and "interrupted" in str(info.value)
    assert _last_run_state() == "failed"


def test_a_signal_ends_the_run_as_interrupted(isolated: Path):
    started = isolated / "started"

    class Waits(Proc):
        script = f"touch {started}; sleep 30"

    def interrupt() -> None:
        deadline = time.monotonic() + 30
        while not started.exists() and time.monotonic() < deadline:
            time.sleep(0.05)  # waiting on the job's marker file, not on a fixed delay
        if started.exists():
            os.kill(os.getpid(), signal.SIGINT)

    thread = threading.Thread(target=interrupt)
    thread.start()
    try:
        with pytest.raises(PipelineFailed) as info:
            run(make_pipeline(Waits))
    finally:
        thread.join()
    assert info.value.interrupted == "SIGINT"
    assert str(info.value) == "pipeline P was interrupted by SIGINT; its running jobs were cancelled"
    assert _last_run_state() == "interrupted"


def _last_run_state() -> str:
    from pipework.store import RunStore

    (last,) = RunStore(None).runs(limit=1)
    return str(last.state)


@pytest.mark.parametrize(
    ("name", "reason", "transient"),
    [
        ("Conflict", "already_exists", False),  # HTTP 409 over REST
        ("AlreadyExists", "already_exists", False),
        ("NotFound", "not_found", False),
        ("TooManyRequests", "quota", True),
        ("ResourceExhausted", "quota", True),
        ("ServiceUnavailable", "unavailable", True),
        ("Forbidden", "permission", False),
        ("Unauthenticated", "permission", False),
        ("BadRequest", None, False),
    ],
)
def test_gbatch_errors_name_their_reason(name: str, reason: str | None, transient: bool):
    exceptions = pytest.importorskip("google.api_core.exceptions")
    from pipework.schedulers.gbatch import _error

    err = _error(getattr(exceptions, name)("Job pw-1 says so"), "create_job")
    assert (err.reason, err.transient) == (reason, transient)
    assert err.message.startswith("Batch API create_job: ")


def test_gbatch_missing_credentials_is_a_reason_too():
    auth = pytest.importorskip("google.auth.exceptions")
    from pipework.schedulers.gbatch import _error

    err = _error(auth.DefaultCredentialsError("no ADC"), "client")
    assert err.reason == "credentials" and str(err).startswith("Batch API client: no credentials -- ")
