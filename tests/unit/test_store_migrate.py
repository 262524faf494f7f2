"""A newer pipework opens an older run store: the runs it holds are still listed, and new runs are
recorded beside them; an older pipework refuses a newer store."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipework import Proc
from pipework.cli import cli
from pipework.store import VERSION, RunStore, StoreUnreachable

from .helpers import make_pipeline, run

#: The schema of the run store before it recorded runs live (pipework's store.py until schema 2).
SCHEMA_1 = """
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


def _old_store(path: Path) -> None:
    """A store as the old pipework left it: two runs, one with a failed job."""
    with sqlite3.connect(path) as db:
        db.executescript(SCHEMA_1)
        db.execute(
            "INSERT INTO runs (pipeline, workdir, outdir, scheduler, started, ended, state, pid, host)"
            " VALUES ('Old', '/wd/Old', '/out', 'local', 100.0, 160.0, 'done', 1, 'h')"
        )
        db.execute(
            "INSERT INTO runs (pipeline, workdir, outdir, scheduler, started, ended, state, pid, host)"
            " VALUES ('Old', '/wd/Old', '/out', 'slurm', 200.0, 230.0, 'failed', 2, 'h')"
        )
        db.execute("INSERT INTO procs VALUES (1, 'Count', 2, '{\"done\": 2}', 50.0)")
        db.execute("INSERT INTO procs VALUES (2, 'Count', 2, '{\"done\": 1, \"failed\": 1}', 20.0)")
        db.execute("INSERT INTO procs VALUES (2, 'Total', 0, '{}', 0.0)")
        db.executemany(
            "INSERT INTO jobs VALUES (?, 'Count', ?, ?, ?, 1, NULL, ?, ?)",
            [(1, 0, "done", 0, "/wd/Old/Count/0", "never ran"), (1, 1, "done", 0, "/wd/Old/Count/1", None),
             (2, 0, "done", 0, "/wd/Old/Count/0", None), (2, 1, "failed", 3, "/wd/Old/Count/1", "script changed")],
        )  # fmt: skip


def test_a_store_of_the_old_schema_is_migrated_and_its_runs_still_listed(isolated: Path):
    _old_store(isolated / "runs.db")
    store = RunStore(str(isolated / "runs.db"))
    assert [(r.id, r.pipeline, r.state, r.scheduler) for r in store.runs()] == [
        (2, "Old", "failed", "slurm"),
        (1, "Old", "done", "local"),
    ]
    assert [(p.name, p.njobs, p.counts, p.seconds) for p in store.procs(2)] == [
        ("Count", 2, {"done": 1, "failed": 1}, 20.0),
        ("Total", 0, {}, 0.0),
    ]
    assert [(j.index, j.state, j.rc, j.reason) for j in store.jobs(2)] == [
        (0, "done", 0, None),
        (1, "failed", 3, "script changed"),
    ]
    with sqlite3.connect(isolated / "runs.db") as db:
        assert db.execute("SELECT max(version) FROM schema_version").fetchone() == (VERSION,)

    class Ok(Proc):
        script = "true"

    run(make_pipeline(Ok, store=str(isolated / "runs.db")))
    runner = CliRunner()
    out = runner.invoke(cli, ["history", "--store", str(isolated / "runs.db")]).output.splitlines()
    assert [line.split()[:3] for line in out[1:]] == [
        ["3", "P", "done"],
        ["2", "Old", "failed"],
        ["1", "Old", "done"],
    ]
    assert out[1].endswith(str(isolated)) and out[2].endswith(" -")  # the old runs have no known project
    shown = runner.invoke(cli, ["show", "2", "--store", str(isolated / "runs.db")]).output
    assert "Count: 2 jobs (1 done, 1 failed) in 20.0s" in shown and "failed: Count job 1 rc=3" in shown


def test_a_store_of_a_newer_pipework_is_refused(isolated: Path):
    RunStore(str(isolated / "runs.db")).start_run(pipeline="P", workdir="/w", outdir="/o", scheduler="local")
    with sqlite3.connect(isolated / "runs.db") as db:
        db.execute("INSERT INTO schema_version (version, applied) VALUES (99, 0)")
    with pytest.raises(StoreUnreachable, match="has schema version 99, newer than this pipework's") as info:
        RunStore(str(isolated / "runs.db")).runs()
    assert "upgrade pipework" in str(info.value)
