"""What the run store gives back: one frozen record per row (no SQLAlchemy needed to use them)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, TypeVar

__all__ = ["ArtifactRecord", "AttemptRecord", "JobRecord", "ProcRecord", "RunRecord", "from_row"]

R = TypeVar("R")


def from_row(cls: type[R], row: Any, **extra: Any) -> R:
    """A record from a row mapping, taking the columns that are fields of ``cls``."""
    names = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    values = {k: v for k, v in dict(row).items() if k in names}
    values.update(extra)
    return cls(**values)


@dataclass(frozen=True)
class RunRecord:
    """One run.

    Attributes:
        id: Its id in the store.
        pipeline: The pipeline's name.
        workdir: The pipeline's directory in the workdir.
        outdir: Where its outputs were exported.
        scheduler: Its schedulers, comma-separated.
        started: When it started (epoch seconds).
        ended: When it ended, or None while it runs (or when its driver died).
        state: ``running``, ``done``, ``failed`` or ``interrupted``.
        pid: The driver's process id.
        host: The driver's host.
        project: The directory the pipeline ran from (None for runs recorded before schema 2).
        source: The pipeline's ``FILE:Class``, when known.
        profile: The profile applied, if any.
        username: Who ran it.
        version: The pipework version that ran it.
        git_commit: The commit of the pipeline file's git checkout, when it is in one.
        heartbeat: When the driver last wrote to the store (epoch seconds).
        njobs: The jobs known when it started (processes whose jobs depend on upstream files count 0).
    """

    id: int
    pipeline: str
    workdir: str
    outdir: str
    scheduler: str
    started: float
    ended: float | None
    state: str
    pid: int | None
    host: str | None
    project: str | None = None
    source: str | None = None
    profile: str | None = None
    username: str | None = None
    version: str | None = None
    git_commit: str | None = None
    heartbeat: float | None = None
    njobs: int | None = None

    @property
    def seconds(self) -> float | None:
        """Wall time, once ended."""
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class ProcRecord:
    """One process of a run.

    Attributes:
        name: Its name.
        njobs: Its number of jobs (as planned until it starts).
        counts: Its jobs in each state (live while it runs).
        seconds: Its wall time (0 until it ends).
        state: ``pending``, ``running``, ``done``, ``failed`` or ``stopped`` (None before schema 2).
        started: When it started (epoch seconds).
        ended: When it ended.
        scheduler: Its scheduler.
        cache: Its cache mode (``True``, ``False`` or ``content``).
        req_cpus: Requested CPUs per job.
        req_mem_mib: Requested memory per job (MiB).
        req_time_s: Requested wall-time limit per job (seconds).
        req_gpus: Requested GPUs per job.
        requires: The processes it requires (empty before schema 3).
    """

    name: str
    njobs: int
    counts: dict[str, int]
    seconds: float
    state: str | None = None
    started: float | None = None
    ended: float | None = None
    scheduler: str | None = None
    cache: str | None = None
    req_cpus: int | None = None
    req_mem_mib: int | None = None
    req_time_s: int | None = None
    req_gpus: int | None = None
    requires: tuple[str, ...] = ()


@dataclass(frozen=True)
class JobRecord:
    """One job of a run, as its last attempt left it.

    The first eight fields are positional (as before schema 2); the others are keywords.

    Attributes:
        proc: Its process.
        index: Its index.
        state: Its state (live while the run runs).
        rc: Its return code.
        attempts: How many times it was submitted.
        jid: The scheduler's id of its last attempt.
        dir: Its job directory.
        reason: Why it was not cached (empty or None: it was).
        task_id: Its number in the run (1, 2, ... in the order the jobs were planned).
        name: Its scheduler name ``pw-<tag>-<proc>-<index>``.
        cache: The cache decision: ``cached`` or ``run``.
        sig_hash: The sha256 of its signature.
        script_hash: The sha256 of its script as signed.
        inputs: Its input values (JSON text).
        host, queued, submitted, started, ended, wall, cpu, peak_rss, failure, native_state: As
            :class:`AttemptRecord`, of its last attempt.
    """

    proc: str
    index: int
    state: str
    rc: int | None
    attempts: int
    jid: str | None
    dir: str
    reason: str | None
    task_id: int | None = None
    name: str | None = None
    cache: str | None = None
    sig_hash: str | None = None
    script_hash: str | None = None
    inputs: str | None = None
    host: str | None = None
    queued: float | None = None
    submitted: float | None = None
    started: float | None = None
    ended: float | None = None
    wall: float | None = None
    cpu: float | None = None
    peak_rss: int | None = None
    failure: str | None = None
    native_state: str | None = None


@dataclass(frozen=True)
class AttemptRecord:
    """One submission of a job.

    Attributes:
        proc: The job's process.
        index: The job's index.
        attempt: 1 for the first submission, 2 for the first retry...
        jid: The scheduler's id (``job.jid``).
        state: How it ended (or where it is).
        rc: Its return code.
        host: Where it ran (the wrapper's host name).
        queued: When the engine handed it to the scheduler (epoch seconds).
        submitted: When the scheduler accepted it.
        started: When it started running (the wrapper's clock when it measured, else the driver's).
        ended: When it ended.
        wall: Its measured wall time (seconds).
        cpu: Its measured CPU time, user + system (seconds).
        peak_rss: Its measured peak resident memory (bytes), where the scheduler gives it.
        failure: Why it failed, as the failure report says.
        native_state: The scheduler's own word on how it ended.
        req_cpus, req_mem_mib, req_time_s, req_gpus: What it asked for.
    """

    proc: str
    index: int
    attempt: int
    jid: str | None = None
    state: str = ""
    rc: int | None = None
    host: str | None = None
    queued: float | None = None
    submitted: float | None = None
    started: float | None = None
    ended: float | None = None
    wall: float | None = None
    cpu: float | None = None
    peak_rss: int | None = None
    failure: str | None = None
    native_state: str | None = None
    req_cpus: int | None = None
    req_mem_mib: int | None = None
    req_time_s: int | None = None
    req_gpus: int | None = None


@dataclass(frozen=True)
class ArtifactRecord:
    """One output of a job that succeeded or was cached.

    Attributes:
        run_id: The run.
        proc: The producing job's process.
        index: The producing job's index.
        name: The output's name.
        kind: ``file``, ``dir`` or ``var``.
        uri: Where it is (a path or a cloud URL; ``var:<proc>/<index>/<name>`` for a var).
        exported: Where it was exported to, if it was.
        nbytes: Its size (a directory: its files' total), when known.
        mtime: Its modification time (epoch seconds), when known.
        checksum: A checksum or etag, when one is known without reading the file.
        var_value: A var output's value.
        recorded: When it was recorded.
        consumers: The jobs of the same run that read it, as ``(proc, index)``.
    """

    run_id: int
    proc: str
    index: int
    name: str
    kind: str
    uri: str
    exported: str | None = None
    nbytes: int | None = None
    mtime: float | None = None
    checksum: str | None = None
    var_value: str | None = None
    recorded: float | None = None
    consumers: tuple[tuple[str, int], ...] = field(default_factory=tuple)
