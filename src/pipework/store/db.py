"""``RunStore``: one run store, its writes (a run's start and end) and the queries the CLI makes.

The live rows of a running run are written by its :class:`~pipework.store.recorder.Recorder`; this
class starts and ends runs and reads everything back. Reading uses SQLAlchemy Core (the tables of
:mod:`pipework.store.schema`), so it works the same on SQLite, PostgreSQL and MySQL/MariaDB.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from ..errors import ConfigError
from .backend import Backend, SaBackend, connect, insert_sql, make_engine
from .location import shown, sqlite_path, store_url, unreachable
from .meta import host_name
from .records import ArtifactRecord, AttemptRecord, JobRecord, ProcRecord, RunRecord, from_row
from .tables import TABLES

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["RunStore"]

T = TypeVar("T")


class RunStore:
    """A run store: a SQLite file, or a database server shared by a team.

    Args:
        location: The ``store`` setting: a file path, a SQLAlchemy URL, or None for
            :func:`~pipework.store.default_store_path`.

    Attributes:
        url: Its SQLAlchemy URL.
        shown: The URL with its password hidden (for messages).
        path: The SQLite file, or None for a server.

    Raises:
        ConfigError: For ``store = "none"`` (nothing to read or write).
    """

    def __init__(self, location: str | None = None) -> None:
        url = store_url(location)
        if url is None:
            raise ConfigError(f"the run store is off (store = {location!r})", key="store",
                              hint="give a file or a database URL to read runs from")  # fmt: skip
        self.url = url
        self.shown = shown(url)
        self.path = sqlite_path(url)
        self._backend: Backend | None = None
        self._engine: sa.Engine | None = None

    def backend(self) -> Backend:
        """The store's database, opened (schema created or migrated) on first use.

        Raises:
            StoreUnreachable: Naming the URL (password hidden) and the fix.
        """
        if self._backend is None:
            self._backend = connect(self.url)
        return self._backend

    def close(self) -> None:
        """Close its connections."""
        if self._backend is not None:
            self._backend.close()
            self._backend = None
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- writing: a run's start and end ------------------------------------------------------------
    def start_run(self, *, pipeline: str, workdir: str, outdir: str, scheduler: str, **meta: Any) -> int:
        """Record a run that starts now; return its id.

        Args:
            pipeline: The pipeline's name.
            workdir: Its directory in the workdir.
            outdir: Its export directory.
            scheduler: Its schedulers, comma-separated.
            **meta: Other columns of ``runs``: ``project``, ``source``, ``profile``, ``username``,
                ``version``, ``git_commit``, ``njobs``.

        Raises:
            StoreUnreachable: When the store cannot be opened or written.
        """
        unknown = set(meta) - set(TABLES["runs"].names)
        if unknown:
            raise TypeError(f"start_run() got unknown columns {sorted(unknown)}")
        now = time.time()
        values = {"pipeline": pipeline, "workdir": workdir, "outdir": outdir, "scheduler": scheduler,
                  "started": now, "state": "running", "pid": os.getpid(), "host": host_name(),
                  "heartbeat": now, **meta}  # fmt: skip
        run_id: int = self._write(lambda tx: tx.insert_id("runs", values))
        return run_id

    def end_run(self, run_id: int, *, state: str) -> None:
        """Record how a run ended (``done``, ``failed`` or ``interrupted``)."""
        sql = "UPDATE runs SET ended = :ended, state = :state WHERE id = :id"
        self._write(lambda tx: tx.one(sql, {"ended": time.time(), "state": state, "id": run_id}))

    def record_proc(self, run_id: int, *, name: str, seconds: float, jobs: Sequence[JobRecord]) -> None:
        """Record a finished process and all its jobs at once (a process the engine did not record
        live, e.g. from another tool)."""
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job.state] = counts.get(job.state, 0) + 1
        cols = ["run_id", "proc", "idx", "state", "rc", "attempts", "jid", "dir", "reason"]
        values = [(run_id, j.proc, j.index, j.state, j.rc, j.attempts, j.jid, j.dir, j.reason) for j in jobs]
        rows = [dict(zip(cols, v, strict=True)) for v in values]
        proc = {"run_id": run_id, "name": name, "njobs": len(jobs), "counts": json.dumps(counts),
                "seconds": seconds, "state": "done", "seq": None}  # fmt: skip

        def write(tx: Any) -> None:
            tx.one(
                "DELETE FROM jobs WHERE run_id = :run_id AND proc = :name", {"run_id": run_id, "name": name}
            )
            tx.one(
                "DELETE FROM procs WHERE run_id = :run_id AND name = :name", {"run_id": run_id, "name": name}
            )
            seq = "(SELECT COALESCE(MAX(p.seq), 0) + 1 FROM (SELECT seq FROM procs WHERE run_id = :run_id) p)"
            sql = insert_sql("procs", list(proc)).replace(":seq", seq)
            tx.one(sql, proc)
            tx.many(insert_sql("jobs", cols), rows)

        self._write(write)

    def _write(self, call: Callable[[Any], T]) -> T:
        backend = self.backend()
        try:
            with backend.transaction() as tx:
                return call(tx)
        except Exception as exc:
            if type(exc).__module__.startswith(("sqlite3", "sqlalchemy", "psycopg", "pymysql")):
                raise unreachable(self.url, exc) from exc
            raise

    # -- reading ---------------------------------------------------------------------------------
    def engine(self) -> sa.Engine:
        """A SQLAlchemy engine on the store (for queries; the schema is created or migrated first)."""
        backend = self.backend()
        if isinstance(backend, SaBackend):
            return backend.engine
        if self._engine is None:
            self._engine = make_engine(self.url)
        return self._engine

    def query(self, statement: sa.Executable) -> list[sa.RowMapping]:
        """Run a query; its rows as mappings.

        Raises:
            StoreUnreachable: When the store cannot be read.
        """
        import sqlalchemy as sa

        try:
            with self.engine().connect() as conn:
                return list(conn.execute(statement).mappings())
        except sa.exc.SQLAlchemyError as exc:
            raise unreachable(self.url, exc) from exc

    def runs(
        self, *, pipeline: str | None = None, project: str | None = None, limit: int = 20
    ) -> list[RunRecord]:
        """The most recent runs first (of one pipeline; of one project, with the runs of no known
        project)."""
        from .schema import runs

        q = runs.select().order_by(runs.c.id.desc()).limit(limit)
        if pipeline:
            q = q.where(runs.c.pipeline == pipeline)
        if project:  # runs recorded before schema 2 have no project: they belong to every one
            q = q.where((runs.c.project == project) | runs.c.project.is_(None))
        return [from_row(RunRecord, r) for r in self.query(q)]

    def latest(self, *, pipeline: str | None = None, project: str | None = None) -> RunRecord | None:
        """The most recent run (of one pipeline, of one project), or None."""
        found = self.runs(pipeline=pipeline, project=project, limit=1)
        return found[0] if found else None

    def run(self, run_id: int) -> RunRecord:
        """One run.

        Raises:
            ConfigError: If there is no such run.
        """
        from .schema import runs

        found = self.query(runs.select().where(runs.c.id == run_id))
        if not found:
            raise ConfigError(f"no run {run_id} in the run store {self.shown}", hint="see pipework history")
        return from_row(RunRecord, found[0])

    def procs(self, run_id: int) -> list[ProcRecord]:
        """The processes of a run in their order, with their job counts (live while it runs)."""
        import sqlalchemy as sa

        from .schema import jobs, procs

        rows = self.query(procs.select().where(procs.c.run_id == run_id).order_by(procs.c.seq))
        live: dict[str, dict[str, int]] = {}
        q = (
            sa.select(jobs.c.proc, jobs.c.state, sa.func.count().label("n"))
            .where(jobs.c.run_id == run_id)
            .group_by(jobs.c.proc, jobs.c.state)
        )
        for r in self.query(q):
            live.setdefault(r["proc"], {})[r["state"]] = int(r["n"])
        out = []
        for row in rows:
            counts = json.loads(row["counts"] or "{}")
            if row["name"] in live and (row["state"] in ("pending", "running") or not counts):
                counts = live[row["name"]]
            requires = tuple(n for n in (row["requires"] or "").split(",") if n)
            out.append(from_row(ProcRecord, row, counts=counts, requires=requires))
        return out

    def jobs(self, run_id: int, proc: str | None = None, index: int | None = None) -> list[JobRecord]:
        """The jobs of a run (of one process, one job), by process and index."""
        from .schema import jobs

        q = jobs.select().where(jobs.c.run_id == run_id)
        if proc:
            q = q.where(jobs.c.proc == proc)
        if index is not None:
            q = q.where(jobs.c.idx == index)
        rows = self.query(q.order_by(jobs.c.proc, jobs.c.idx))
        return [from_row(JobRecord, r, index=r["idx"]) for r in rows]

    def find_job(
        self, proc: str, index: int, *, run_id: int | None = None, project: str | None = None
    ) -> JobRecord:
        """Job ``index`` of ``proc`` in run ``run_id``, else in the latest run (of ``project``) that has it.

        Raises:
            ConfigError: When no run has it.
        """
        candidates = [self.run(run_id)] if run_id else self.runs(project=project, limit=50)
        for run in candidates:
            found = self.jobs(run.id, proc, index)
            if found:
                return found[0]
        raise ConfigError(f"no job {index} of {proc!r} in the run store", hint="see pipework history / show")

    def attempts(self, run_id: int, proc: str | None = None, index: int | None = None) -> list[AttemptRecord]:
        """The attempts of a run's jobs (of one process, one job), in order."""
        from .schema import attempts

        q = attempts.select().where(attempts.c.run_id == run_id)
        if proc:
            q = q.where(attempts.c.proc == proc)
        if index is not None:
            q = q.where(attempts.c.idx == index)
        rows = self.query(q.order_by(attempts.c.proc, attempts.c.idx, attempts.c.attempt))
        return [from_row(AttemptRecord, r, index=r["idx"]) for r in rows]

    def artifacts(self, run_id: int, proc: str | None = None) -> list[ArtifactRecord]:
        """The outputs a run's jobs made (or had cached), each with the jobs of the run that read it."""
        from .schema import artifacts, consumers

        q = artifacts.select().where(artifacts.c.run_id == run_id)
        if proc:
            q = q.where(artifacts.c.proc == proc)
        rows = self.query(q.order_by(artifacts.c.proc, artifacts.c.idx, artifacts.c.name))
        readers: dict[str, list[tuple[str, int]]] = {}
        for r in self.query(consumers.select().where(consumers.c.run_id == run_id)):
            readers.setdefault(r["uri"], []).append((r["proc"], r["idx"]))
        return [
            from_row(ArtifactRecord, r, index=r["idx"], consumers=tuple(sorted(readers.get(r["uri"], []))))
            for r in rows
        ]
