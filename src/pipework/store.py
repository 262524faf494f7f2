"""The run store: a record of runs, processes and jobs, for ``pipework history``, ``show`` and ``status``.

SQLite (the standard library's ``sqlite3``) in the user's state directory by default, or a file given by
the ``store`` setting. The engine writes in batches: one row when a run starts, one transaction per
finished process (its jobs together), one update when the run ends.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import ConfigError, StorageError

__all__ = ["JobRecord", "ProcRecord", "RunRecord", "RunStore", "default_store_path"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    pipeline TEXT NOT NULL,
    workdir TEXT NOT NULL,
    outdir TEXT NOT NULL,
    scheduler TEXT NOT NULL,
    started REAL NOT NULL,
    ended REAL,
    state TEXT NOT NULL,
    pid INTEGER,
    host TEXT
);
CREATE TABLE IF NOT EXISTS procs (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    name TEXT NOT NULL,
    njobs INTEGER NOT NULL,
    counts TEXT NOT NULL,
    seconds REAL NOT NULL,
    PRIMARY KEY (run_id, name)
);
CREATE TABLE IF NOT EXISTS jobs (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    proc TEXT NOT NULL,
    idx INTEGER NOT NULL,
    state TEXT NOT NULL,
    rc INTEGER,
    attempts INTEGER NOT NULL,
    jid TEXT,
    dir TEXT NOT NULL,
    reason TEXT,
    PRIMARY KEY (run_id, proc, idx)
);
CREATE INDEX IF NOT EXISTS runs_by_pipeline ON runs (pipeline, started);
"""


def default_store_path() -> Path:
    """``$XDG_STATE_HOME/pipework/runs.sqlite`` (``~/.local/state/pipework/runs.sqlite``)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "pipework" / "runs.sqlite"


@dataclass(frozen=True)
class RunRecord:
    """One run as recorded."""

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

    @property
    def seconds(self) -> float | None:
        """Wall time, once ended."""
        return None if self.ended is None else self.ended - self.started


@dataclass(frozen=True)
class ProcRecord:
    """One process of a recorded run."""

    name: str
    njobs: int
    counts: dict[str, int]
    seconds: float


@dataclass(frozen=True)
class JobRecord:
    """One job of a recorded run."""

    proc: str
    index: int
    state: str
    rc: int | None
    attempts: int
    jid: str | None
    dir: str
    reason: str | None


class RunStore:
    """A SQLite run store.

    Args:
        location: A file path, ``sqlite:///path``, or None for :func:`default_store_path`.

    Raises:
        ConfigError: For a location this store cannot open (another database URL).
    """

    def __init__(self, location: str | None = None) -> None:
        if location and "://" in location:
            if not location.startswith("sqlite:///"):
                raise ConfigError(
                    f"store {location!r} is not supported",
                    hint="give a SQLite file path (or sqlite:///path)",
                )
            location = location[len("sqlite:///") - 1 :]
        self.path = Path(location).expanduser() if location else default_store_path()

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with closing(sqlite3.connect(self.path, timeout=30)) as db:
                db.executescript(_SCHEMA)
                with db:
                    yield db
        except sqlite3.Error as exc:
            raise StorageError(f"run store {str(self.path)!r}: {exc}") from exc
        except OSError as exc:
            raise StorageError(f"run store {str(self.path)!r}: {exc.strerror}") from exc

    # -- writing (the engine) -------------------------------------------------------------------
    def start_run(self, *, pipeline: str, workdir: str, outdir: str, scheduler: str) -> int:
        """Record a run that starts now; return its id."""
        import socket

        with self._db() as db:
            cur = db.execute(
                "INSERT INTO runs (pipeline, workdir, outdir, scheduler, started, state, pid, host)"
                " VALUES (?, ?, ?, ?, ?, 'running', ?, ?)",
                (pipeline, workdir, outdir, scheduler, time.time(), os.getpid(), socket.gethostname()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

    def record_proc(self, run_id: int, *, name: str, seconds: float, jobs: Sequence[JobRecord]) -> None:
        """Record a finished process and all its jobs in one transaction."""
        counts: dict[str, int] = {}
        for job in jobs:
            counts[job.state] = counts.get(job.state, 0) + 1
        with self._db() as db:
            db.execute(
                "INSERT OR REPLACE INTO procs (run_id, name, njobs, counts, seconds) VALUES (?, ?, ?, ?, ?)",
                (run_id, name, len(jobs), json.dumps(counts), seconds),
            )
            db.executemany(
                "INSERT OR REPLACE INTO jobs (run_id, proc, idx, state, rc, attempts, jid, dir, reason)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, j.proc, j.index, j.state, j.rc, j.attempts, j.jid, j.dir, j.reason) for j in jobs],
            )

    def end_run(self, run_id: int, *, state: str) -> None:
        """Record how a run ended (``done``, ``failed`` or ``interrupted``)."""
        with self._db() as db:
            db.execute("UPDATE runs SET ended = ?, state = ? WHERE id = ?", (time.time(), state, run_id))

    # -- reading (the CLI) ----------------------------------------------------------------------
    def runs(self, *, pipeline: str | None = None, limit: int = 20) -> list[RunRecord]:
        """The most recent runs first."""
        query = "SELECT id, pipeline, workdir, outdir, scheduler, started, ended, state, pid, host FROM runs"
        args: tuple[Any, ...] = ()
        if pipeline:
            query += " WHERE pipeline = ?"
            args = (pipeline,)
        query += " ORDER BY id DESC LIMIT ?"
        with self._db() as db:
            return [RunRecord(*row) for row in db.execute(query, (*args, limit))]

    def run(self, run_id: int) -> RunRecord:
        """One run.

        Raises:
            ConfigError: If there is no such run.
        """
        with self._db() as db:
            row = db.execute(
                "SELECT id, pipeline, workdir, outdir, scheduler, started, ended, state, pid, host"
                " FROM runs WHERE id = ?",
                (run_id,),
            ).fetchone()
        if row is None:
            raise ConfigError(f"no run {run_id} in the run store {self.path}", hint="see pipework history")
        return RunRecord(*row)

    def procs(self, run_id: int) -> list[ProcRecord]:
        """The processes of a run, in the order they finished."""
        with self._db() as db:
            rows = db.execute(
                "SELECT name, njobs, counts, seconds FROM procs WHERE run_id = ? ORDER BY rowid", (run_id,)
            ).fetchall()
        return [ProcRecord(name, njobs, json.loads(counts), seconds) for name, njobs, counts, seconds in rows]

    def jobs(self, run_id: int, proc: str | None = None) -> list[JobRecord]:
        """The jobs of a run (or of one of its processes)."""
        query = "SELECT proc, idx, state, rc, attempts, jid, dir, reason FROM jobs WHERE run_id = ?"
        args: tuple[Any, ...] = (run_id,)
        if proc:
            query += " AND proc = ?"
            args += (proc,)
        with self._db() as db:
            return [JobRecord(*row) for row in db.execute(query + " ORDER BY proc, idx", args)]
