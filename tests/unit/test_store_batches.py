"""The recorder writes in batches, never a round trip per job, and keeps what a failed write could not
store for the next one; many drivers share one SQLite store."""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pipework import Proc
from pipework.plan import builders_for, expand
from pipework.state import JobState
from pipework.store import Recorder, RunStore
from pipework.store.backend import Backend, Tx

from .helpers import make_pipeline, write


def _jobs(n: int) -> tuple[Any, list[Any]]:
    """The spec and the ``n`` planned jobs of a one-process pipeline (nothing runs)."""

    class Many(Proc):
        input = "i"
        input_data = list(range(n))
        output = "o:file:o.txt"
        script = "true"
        export = False

    pipe = make_pipeline(Many)()
    config = pipe.resolve_config()
    specs = pipe.specs(config, pipe.build_dag())
    builders = builders_for(specs, pipeline_dir=str(Path("wd/P").absolute()), run_tag="t")
    jobs = expand(specs, builders, outdir=str(Path("out").absolute()))["Many"].jobs
    return specs["Many"], jobs


def _drive(recorder: Recorder, spec: Any, jobs: list[Any]) -> None:
    """What the engine tells the recorder of a process whose jobs all succeed."""
    recorder.procs_planned([spec], {spec.name: len(jobs)})
    recorder.proc_started(spec, jobs, {})
    for job in jobs:
        job.attempts, job.jid, job.state = 1, job.name, JobState.QUEUED
    recorder.submitted(jobs, queued=1.0)
    for job in jobs:
        job.state = JobState.RUNNING
        recorder.job_state(job, JobState.RUNNING)
        job.state, job.rc = JobState.DONE, 0
        recorder.job_state(job, JobState.DONE)
    recorder.proc_ended(spec.name, state="done", seconds=1.0, counts={"done": len(jobs)}, njobs=len(jobs))


def test_a_process_of_500_jobs_is_written_in_one_transaction(isolated: Path):
    spec, jobs = _jobs(500)
    store = RunStore("runs.db")
    run_id = store.start_run(pipeline="P", workdir="/wd", outdir="/o", scheduler="local")
    recorder = Recorder(store.backend(), run_id, warn=print, interval=3600)  # no write until close
    _drive(recorder, spec, jobs)
    recorder.close(state="done")
    assert recorder.writes == 1
    # per job: its row, its attempt and its output; the process row inserted and updated twice; the run row
    assert recorder.rows_written == 3 * 500 + 3 + 1
    db = RunStore("runs.db")
    assert db.run(run_id).state == "done" and db.run(run_id).njobs == 500
    assert [(p.name, p.state, p.counts) for p in db.procs(run_id)] == [("Many", "done", {"done": 500})]
    assert {(j.state, j.attempts) for j in db.jobs(run_id)} == {("done", 1)}
    assert len(db.attempts(run_id)) == 500 and len(db.artifacts(run_id)) == 500


class _Flaky(Backend):
    """A store whose first writes fail (a server that went away and came back)."""

    def __init__(self, inner: Backend, failures: int) -> None:
        super().__init__(inner.url)
        self.inner = inner
        self.failures = failures

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        if self.failures:
            self.failures -= 1
            raise OSError("connection lost")
        with self.inner.transaction() as tx:
            yield tx


def test_a_failed_write_is_retried_with_the_next_one_and_warned_once(isolated: Path):
    spec, jobs = _jobs(20)
    store = RunStore("runs.db")
    run_id = store.start_run(pipeline="P", workdir="/wd", outdir="/o", scheduler="local")
    warnings: list[str] = []
    recorder = Recorder(_Flaky(store.backend(), failures=2), run_id, warn=warnings.append, interval=3600)
    _drive(recorder, spec, jobs[:10])
    assert not recorder.flush() and not recorder.flush()
    assert recorder.flush()
    recorder.close(state="done")
    assert [w.split(" (")[0] for w in warnings] == [
        f"the run store {store.shown} stopped recording",
        "the run store records again",
    ]
    assert "OSError: connection lost" in warnings[0]
    db = RunStore("runs.db")
    assert len(db.jobs(run_id)) == 10 and len(db.attempts(run_id)) == 10 and db.run(run_id).state == "done"


DRIVER = """
from pipework import Pipeline, Proc

class Work(Proc):
    input = "n"
    input_data = list(range(30))
    script = "true"

class P(Pipeline):
    starts = Work

if __name__ == "__main__":
    P.main()
"""


def test_drivers_creating_and_writing_one_sqlite_store_at_once_lose_nothing(isolated: Path):
    store = str(isolated / "team.sqlite")
    drivers = []
    for k in range(4):
        write(f"d{k}/pipeline.py", DRIVER)
        env = {**os.environ, "PIPEWORK_STORE": store}
        drivers.append(subprocess.Popen([sys.executable, "pipeline.py", "-q"], cwd=f"d{k}", env=env))
    assert [d.wait(timeout=120) for d in drivers] == [0, 0, 0, 0]
    db = RunStore(store)
    runs = db.runs()
    assert len(runs) == 4 and {r.state for r in runs} == {"done"}
    assert {r.project for r in runs} == {str(isolated / f"d{k}") for k in range(4)}
    for r in runs:
        assert [(j.index, j.state) for j in db.jobs(r.id)] == [(i, "done") for i in range(30)]
