"""Recording a run as it happens, in batches: what the engine calls while it runs.

The engine's calls only note what happened in memory (a few dictionary operations, no I/O, on the
event loop); a thread of the recorder writes what changed every :data:`FLUSH_INTERVAL` seconds, in one
transaction, and when a process ends and the run ends. A job that goes from queued to done within one
interval is written once. Rows a write could not store (a server that went away) are kept and written
with the next batch; the run goes on, with one warning.
"""

from __future__ import annotations

import contextvars
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import paths
from ..state import JobState
from .backend import Backend, insert_sql, update_sql
from .batch import Batch
from .capture import (
    JOB_STATE,
    Attempt,
    artifact_rows,
    attempt_row,
    consumer_rows,
    fact_rows,
    job_row,
    job_update,
    signature_changes,
    signature_row,
)
from .tables import TABLES
from .usage import USAGE_FILE, Usage, read_cloud_usage, read_usage

if TYPE_CHECKING:
    from ..errors import JobFailed
    from ..job import Job
    from ..spec import ProcSpec

__all__ = ["FLUSH_INTERVAL", "HEARTBEAT", "Recorder"]

#: Seconds between two writes of what changed.
FLUSH_INTERVAL = 1.0
#: Seconds between two heartbeats of the run row while nothing else changes (``pipework status``
#: tells a live driver on another host by it).
HEARTBEAT = 15.0

_MEASURED = ["host", "queued", "submitted", "started", "ended", "wall", "cpu", "peak_rss", "failure",
             "native_state"]  # fmt: skip
_PROC_END = ["run_id", "name", "njobs", "counts", "seconds", "state", "ended"]
_SQL = {
    "procs+": insert_sql("procs", TABLES["procs"].names),
    "procs~start": update_sql("procs", ["run_id", "name", "njobs", "state", "started"]),
    "procs~end": update_sql("procs", _PROC_END),
    "jobs+": insert_sql("jobs", TABLES["jobs"].names),
    "jobs~": update_sql("jobs", [*JOB_STATE, *_MEASURED]),
    "jobs~state": update_sql("jobs", JOB_STATE),
    "jobs~sig": update_sql("jobs", ["run_id", "proc", "idx", "sig_hash", "script_hash"]),
    "attempts+": insert_sql("attempts", TABLES["attempts"].names),
    "attempts~": update_sql("attempts", TABLES["attempts"].names),
    "artifacts+": insert_sql("artifacts", TABLES["artifacts"].names),
    "consumers+": insert_sql("consumers", TABLES["consumers"].names),
    # what a reader's signature says of an output the producer could not size (on a bucket) or hash
    "artifacts~facts": update_sql("artifacts", ["nbytes", "mtime", "checksum"]).replace(
        "nbytes = :nbytes, mtime = :mtime, checksum = :checksum",
        "nbytes = COALESCE(nbytes, :nbytes), mtime = COALESCE(mtime, :mtime), "
        "checksum = COALESCE(checksum, :checksum)",
    ),
}


class Recorder:
    """Writes one run's processes, jobs, attempts and artifacts to the store while it runs.

    The ``proc_*``, ``submitted``, ``job_*`` calls are made on the event loop and never block;
    :meth:`measure` and :meth:`close` block (call them in a worker thread).

    Args:
        backend: The store's database.
        run_id: The run, as :meth:`pipework.store.RunStore.start_run` recorded it.
        warn: Shows a warning (called from the recorder's thread: it must be thread-safe).
        interval: Seconds between two writes.
    """

    def __init__(
        self, backend: Backend, run_id: int, *, warn: Callable[[str], None], interval: float = FLUSH_INTERVAL
    ) -> None:
        self.backend = backend
        self.run_id = run_id
        self.interval = interval
        self._warn = warn
        self._lock = threading.Lock()
        self._batch = Batch()
        self._current: dict[Job, Attempt] = {}
        self._offsets: dict[str, int] = {}
        self._next_task = 1
        self._exports: dict[str, dict[Job, dict[str, str]]] = {}
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._beat = time.time()
        self._failing: str | None = None
        #: Outputs recorded without a size (on a bucket) or checksum: ``uri -> (proc, idx, name)``,
        #: completed from the facts in their readers' signatures.
        self._unsized: dict[str, tuple[str, int, str]] = {}
        self._hashing = False  # a process hashes its inputs (cache = "content")
        #: Rows written so far (inserts and updates), and writes (transactions).
        self.rows_written = 0
        self.writes = 0

    # -- the engine's calls (event loop) ----------------------------------------------------------
    def start(self) -> None:
        """Start the thread that writes every :attr:`interval` seconds."""
        self._thread = threading.Thread(target=self._loop, name="pipework-store", daemon=True)
        self._thread.start()

    def procs_planned(self, specs: Sequence[ProcSpec], njobs: Mapping[str, int | None]) -> None:
        """Every process of the run, before any starts, with its planned number of jobs."""
        rows = []
        for seq, spec in enumerate(specs):
            res = spec.resources
            rows.append(
                {
                    "run_id": self.run_id,
                    "name": spec.name,
                    "njobs": njobs.get(spec.name) or 0,
                    "counts": "{}",
                    "seconds": 0.0,
                    "seq": seq,
                    "state": "pending",
                    "started": None,
                    "ended": None,
                    "scheduler": spec.scheduler,
                    "cache": str(spec.cache),
                    "req_cpus": res.cpus,
                    "req_mem_mib": res.mem_mib,
                    "req_time_s": res.time_s,
                    "req_gpus": res.gpus,
                    "requires": ",".join(spec.requires),
                }
            )
        total = sum(n or 0 for n in njobs.values())
        self._hashing = any(spec.cache == "content" for spec in specs)
        with self._lock:
            self._batch.procs += rows
            self._batch.run["njobs"] = total

    def proc_started(
        self, spec: ProcSpec, jobs: Sequence[Job], exported: Mapping[str, tuple[Job, str]]
    ) -> None:
        """A process starts: its jobs, their cache decisions and signatures known (cached jobs final).

        Args:
            spec: The process.
            jobs: All its jobs.
            exported: Its export targets (destination -> job and output name).
        """
        by_job: dict[Job, dict[str, str]] = {}
        for dest, (job, name) in exported.items():
            by_job.setdefault(job, {})[name] = dest
        with self._lock:
            self._offsets[spec.name] = self._next_task - 1
            self._next_task += len(jobs)
            self._exports[spec.name] = by_job
            batch = self._batch
            batch.proc_updates.append(
                (
                    "procs~start",
                    {
                        "run_id": self.run_id,
                        "name": spec.name,
                        "njobs": len(jobs),
                        "state": "running",
                        "started": time.time(),
                    },
                )
            )
            batch.jobs += jobs
            batch.consumers += [j for j in jobs if spec.inputs]
            batch.artifacts += [(j, by_job.get(j, {})) for j in jobs if j.state is JobState.CACHED]

    def submitted(self, jobs: Sequence[Job], *, queued: float) -> None:
        """Jobs were handed to their scheduler at ``queued`` and it took them (each ``job.jid`` set)."""
        now = time.time()
        with self._lock:
            for job in jobs:
                attempt = Attempt(job, job.attempts, queued=queued, submitted=now)
                self._current[job] = attempt
                self._batch.attempts.append(attempt)
                self._batch.dirty_jobs[job] = None

    def job_state(self, job: Job, state: JobState) -> None:
        """A job changed state (running, or a final state)."""
        if state is JobState.QUEUED or state is JobState.CACHED:  # submitted() / proc_started() had it
            return
        now = time.time()
        with self._lock:
            attempt = self._current.get(job)
            if attempt is None and state.is_active:  # adopted from a previous driver
                attempt = self._current[job] = Attempt(job, job.attempts, queued=None, submitted=None)
                self._batch.attempts.append(attempt)
            if attempt is not None:
                attempt.state = state.value
                attempt.jid = job.jid or attempt.jid
                if state is JobState.RUNNING and attempt.started is None:
                    attempt.started = now
                elif state.is_final:
                    attempt.rc, attempt.native_state, attempt.final = job.rc, job.native_state, True
                    if attempt.ended is None:
                        attempt.ended = now
                self._batch.dirty_attempts[attempt] = None
            self._batch.dirty_jobs[job] = None
            if state is JobState.DONE:
                self._batch.artifacts.append((job, self._exports.get(job.proc, {}).get(job, {})))

    def job_failed(self, job: Job, failure: JobFailed) -> None:
        """Why a job's attempt failed (call before its final :meth:`job_state`)."""
        with self._lock:
            attempt = self._current.get(job)
            if attempt is not None:
                attempt.failure = failure.message
                self._batch.dirty_attempts[attempt] = None

    def proc_ended(
        self, name: str, *, state: str, seconds: float, counts: Mapping[str, int], njobs: int
    ) -> None:
        """A process ended (``done``, ``failed``, ``stopped`` or ``not run``); write soon."""
        row = {"run_id": self.run_id, "name": name, "njobs": njobs, "counts": json.dumps(dict(counts)),
               "seconds": seconds, "state": state, "ended": time.time()}  # fmt: skip
        with self._lock:
            self._batch.proc_updates.append(("procs~end", row))
            self._exports.pop(name, None)
        self._wake.set()

    # -- blocking ---------------------------------------------------------------------------------
    def measure(self, jobs: Sequence[Job]) -> None:
        """Take what each ended job's wrapper measured (its ``job.usage``) and what its scheduler did
        (``job.cpu_seconds``, ``job.peak_rss``). Blocking: reads a small file per job with a local
        directory; those on a bucket are read by the recorder's thread, many at a time, before its
        next write."""
        found = {job: read_usage(job.layout.run_dir) for job in jobs if not job.layout.remote}
        context = contextvars.copy_context() if len(found) < len(jobs) else None
        with self._lock:
            for job in jobs:
                attempt = self._current.get(job)
                if attempt is None:
                    continue
                if job in found:
                    attempt.take(found[job])
                elif context is not None:
                    self._batch.usage.append((attempt, paths.join(job.dir, USAGE_FILE), context))
                if job.cpu_seconds is not None:
                    attempt.cpu = job.cpu_seconds
                if job.peak_rss is not None:
                    attempt.peak_rss = job.peak_rss
                self._batch.dirty_attempts[attempt] = None

    def close(self, *, state: str) -> None:
        """Stop the thread, write what is left and how the run ended. Blocking."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
        with self._lock:
            self._batch.run.update(ended=time.time(), state=state, heartbeat=time.time())
        if not self.flush() and self._failing:
            self._warn(f"the run store could not record the end of run {self.run_id}: {self._failing}")
        self.backend.close()

    def flush(self) -> bool:
        """Write what changed since the last write, in one transaction; False when it failed (the
        changes are kept for the next one)."""
        with self._lock:
            batch, self._batch = self._batch, Batch()
            if batch.empty() and time.time() - self._beat < HEARTBEAT:
                return True
        self._beat = time.time()
        batch.run.setdefault("heartbeat", self._beat)
        self._read_usage(batch)
        statements, sized = self._statements(batch)
        try:
            with self.backend.transaction() as tx:
                for sql, rows in statements:
                    tx.many(sql, rows)
        except Exception as exc:
            with self._lock:
                batch.merge(self._batch)
                self._batch = batch
            self._failed(exc)
            return False
        self.writes += 1
        self.rows_written += sum(len(rows) for _, rows in statements)
        for uri in sized:
            self._unsized.pop(uri, None)
        self._forget(batch)
        if self._failing:
            self._failing = None
            self._warn("the run store records again")
        return True

    # -- the thread -------------------------------------------------------------------------------
    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            if not self._stop.is_set():
                self.flush()

    def _failed(self, exc: BaseException) -> None:
        first = self._failing is None
        self._failing = f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        if first:
            self._warn(
                f"the run store {self.backend.shown} stopped recording ({self._failing}); "
                f"retrying every {self.interval:g} s"
            )

    def _read_usage(self, batch: Batch) -> None:
        """Read the ``job.usage`` objects of a batch's attempts on buckets (many at a time)."""
        if not batch.usage:
            return
        by_context: dict[int, tuple[contextvars.Context, list[str]]] = {}  # contexts do not hash
        for _, url, context in batch.usage:
            by_context.setdefault(id(context), (context, []))[1].append(url)
        found: dict[str, Usage | None] = {}
        for context, urls in by_context.values():
            found.update(context.copy().run(read_cloud_usage, urls))
        with self._lock:
            for attempt, url, _ in batch.usage:
                cpu, rss = attempt.cpu, attempt.peak_rss  # the scheduler's own measure wins
                attempt.take(found.get(url))
                attempt.cpu = cpu if cpu is not None else attempt.cpu
                attempt.peak_rss = rss if rss is not None else attempt.peak_rss
                batch.dirty_attempts[attempt] = None
                batch.dirty_jobs[attempt.job] = None
        batch.usage = []

    def _statements(self, batch: Batch) -> tuple[list[tuple[str, list[dict[str, Any]]]], list[str]]:
        """The statements of one write, parents before children, inserts before updates; and the
        outputs whose size or checksum they complete."""
        run_id = self.run_id
        out: list[tuple[str, list[dict[str, Any]]]] = [("procs+", batch.procs)]
        out += [(key, [row]) for key, row in batch.proc_updates]
        new_jobs = set(batch.jobs)
        out.append(("jobs+", [job_row(run_id, j, self._task(j), self._current.get(j)) for j in batch.jobs]))
        full: list[dict[str, Any]] = []
        brief: list[dict[str, Any]] = []
        signed: list[dict[str, Any]] = []
        for job in batch.dirty_jobs:
            if job in new_jobs:
                continue
            attempt = self._current.get(job)
            (full if attempt is not None else brief).append(job_update(run_id, job, attempt))
            if job.state is JobState.DONE and signature_changes(job):
                signed.append(signature_row(run_id, job))
        out += [("jobs~", full), ("jobs~state", brief), ("jobs~sig", signed)]
        new_attempts = set(batch.attempts)
        out.append(("attempts+", [attempt_row(run_id, a) for a in batch.attempts]))
        out.append(
            ("attempts~", [attempt_row(run_id, a) for a in batch.dirty_attempts if a not in new_attempts])
        )
        made = [r for job, exp in batch.artifacts for r in artifact_rows(run_id, job, exp)]
        for row in made:
            if row["kind"] != "var" and (row["nbytes"] is None or self._hashing):
                self._unsized[row["uri"]] = (row["proc"], row["idx"], row["name"])
        out.append(("artifacts+", made))
        out.append(("consumers+", [r for job in batch.consumers for r in consumer_rows(run_id, job)]))
        facts = fact_rows(run_id, batch.consumers, self._unsized)
        out.append(("artifacts~facts", list(facts.values())))
        if batch.run:
            cols = sorted(batch.run)
            out.append((update_sql("runs", ["id", *cols]), [{"id": run_id, **batch.run}]))
        return [(_SQL.get(sql, sql), rows) for sql, rows in out if rows], list(facts)

    def _task(self, job: Job) -> int:
        return self._offsets.get(job.proc, 0) + job.index + 1

    def _forget(self, batch: Batch) -> None:
        """Drop the attempts that ended and are written (the job rows keep their last values)."""
        with self._lock:
            for attempt in (*batch.attempts, *batch.dirty_attempts):
                if (
                    attempt.final
                    and self._current.get(attempt.job) is attempt
                    and (
                        attempt not in self._batch.dirty_attempts
                        and attempt.job not in self._batch.dirty_jobs
                    )
                ):
                    del self._current[attempt.job]
