"""The run store's tables as plain data: the one description the schema, the migrations and the writer
share (importing it costs nothing: no SQLAlchemy).

A run has processes, a process has jobs, a job has attempts (one per submission). Every output of a
job that succeeded or was cached is an artifact, produced by that job; every path a job read is a
consumer row, so lineage joins ``consumers.uri`` to ``artifacts.uri`` (or ``artifacts.exported``).
Jobs are named by ``(run_id, proc, idx)``, the same in every table. Times are Unix epoch seconds,
durations seconds, memory bytes.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["TABLES", "VERSION", "Column", "Table"]

#: The schema version this pipework writes. 1: runs, procs and jobs (pipework before the live
#: store, no ``schema_version`` table). 2: run metadata, live job rows, attempts, artifacts, consumers.
#: 3: the processes each process requires (``procs.requires``: the run's DAG).
VERSION = 3


@dataclass(frozen=True)
class Column:
    """One column.

    Attributes:
        name: Its name (no SQL keyword in any supported database, so it needs no quoting).
        type: ``int``, ``bigint``, ``float`` (double precision), ``key`` (a short string: names,
            states; 255 characters), ``text`` or ``bool``.
        nullable: Whether it may be NULL.
        key: Part of the primary key.
        auto: An auto-increment integer key.
    """

    name: str
    type: str
    nullable: bool = True
    key: bool = False
    auto: bool = False


@dataclass(frozen=True)
class Table:
    """One table: its columns and its indexes (name -> columns)."""

    name: str
    columns: tuple[Column, ...]
    indexes: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def keys(self) -> list[str]:
        """The primary key's columns."""
        return [c.name for c in self.columns if c.key]

    @property
    def names(self) -> list[str]:
        """Every column's name, in order."""
        return [c.name for c in self.columns]


def _c(name: str, type_: str = "text", **kw: bool) -> Column:
    return Column(name, type_, **kw)


_JOB = (_c("run_id", "int", nullable=False, key=True), _c("proc", "key", nullable=False, key=True),
        _c("idx", "int", nullable=False, key=True))  # fmt: skip
#: What an attempt measured; a job row repeats its last attempt's.
_MEASURED = (
    _c("jid"),
    _c("state", "key", nullable=False),
    _c("rc", "int"),
    _c("host", "key"),
    _c("queued", "float"),
    _c("submitted", "float"),
    _c("started", "float"),
    _c("ended", "float"),
    _c("wall", "float"),
    _c("cpu", "float"),
    _c("peak_rss", "bigint"),
    _c("failure"),
    _c("native_state"),
)
_REQUESTED = (_c("req_cpus", "int"), _c("req_mem_mib", "int"), _c("req_time_s", "int"), _c("req_gpus", "int"))

RUNS = Table(
    "runs",
    (
        _c("id", "int", nullable=False, key=True, auto=True),
        _c("pipeline", "key", nullable=False),
        _c("workdir", nullable=False),
        _c("outdir", nullable=False),
        _c("scheduler", nullable=False),  # every scheduler of the run, comma-separated
        _c("started", "float", nullable=False),
        _c("ended", "float"),
        _c("state", "key", nullable=False),
        _c("pid", "int"),
        _c("host", "key"),
        # 2
        _c("project"),
        _c("source"),
        _c("profile", "key"),
        _c("username", "key"),
        _c("version", "key"),
        _c("git_commit", "key"),
        _c("heartbeat", "float"),
        _c("njobs", "int"),
    ),
    (("runs_by_pipeline", ("pipeline", "started")), ("runs_by_project", ("project", "id"))),
)
PROCS = Table(
    "procs",
    (
        _c("run_id", "int", nullable=False, key=True),
        _c("name", "key", nullable=False, key=True),
        _c("njobs", "int", nullable=False),
        _c("counts", nullable=False),
        _c("seconds", "float", nullable=False),
        # 2
        _c("seq", "int"),
        _c("state", "key"),
        _c("started", "float"),
        _c("ended", "float"),
        _c("scheduler", "key"),
        _c("cache", "key"),
        *_REQUESTED,
        # 3
        _c("requires"),  # the processes it requires, comma-separated
    ),
)
JOBS = Table(
    "jobs",
    (
        *_JOB,
        _c("state", "key", nullable=False),
        _c("rc", "int"),
        _c("attempts", "int", nullable=False),
        _c("jid"),
        _c("dir", nullable=False),
        _c("reason"),
        # 2
        _c("task_id", "int"),
        _c("name"),
        _c("cache", "key"),
        _c("sig_hash", "key"),
        _c("script_hash", "key"),
        _c("inputs"),
        *[c for c in _MEASURED if c.name not in ("jid", "state", "rc")],
    ),
    (("jobs_by_state", ("run_id", "state")),),
)
ATTEMPTS = Table("attempts", (*_JOB, _c("attempt", "int", nullable=False, key=True), *_MEASURED, *_REQUESTED))
ARTIFACTS = Table(
    "artifacts",
    (
        *_JOB,
        _c("name", "key", nullable=False, key=True),
        _c("kind", "key", nullable=False),
        _c("uri", nullable=False),
        _c("exported"),
        _c("nbytes", "bigint"),
        _c("mtime", "float"),
        _c("checksum", "key"),
        _c("var_value"),
        _c("recorded", "float"),
    ),
    (("artifacts_by_uri", ("uri",)), ("artifacts_by_export", ("exported",))),
)
CONSUMERS = Table(
    "consumers",
    (
        *_JOB,
        _c("name", "key", nullable=False, key=True),
        _c("seq", "int", nullable=False, key=True),
        _c("uri", nullable=False),
    ),
    (("consumers_by_uri", ("uri",)),),
)
SCHEMA_VERSION = Table(
    "schema_version",
    (
        _c("version", "int", nullable=False, key=True),
        _c("applied", "float", nullable=False),
        _c("pipework", "key"),
    ),
)

#: Every table, parents first.
TABLES: dict[str, Table] = {
    t.name: t for t in (RUNS, PROCS, JOBS, ATTEMPTS, ARTIFACTS, CONSUMERS, SCHEMA_VERSION)
}
