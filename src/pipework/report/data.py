"""What a report shows of a run, read from the run store in a few queries, and the compact JSON its
page embeds.

Jobs are columns (one array per field, strings such as states, hosts and reasons as indices into a
table of their distinct values; times in seconds since the run started), so 100,000 jobs are a few
megabytes that the page's script reads with one ``JSON.parse``.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..store.records import ProcRecord, RunRecord

if TYPE_CHECKING:
    from ..store import RunStore

__all__ = ["BAD", "FAILED_SHOWN", "Failed", "ReportData", "collect", "to_json"]

#: Failed jobs shown with their stderr (the job table lists them all).
FAILED_SHOWN = 50
#: Lines of stderr shown for each.
STDERR_LINES = 20
#: The states of failed jobs.
BAD = ("failed", "killed", "lost")

#: The job columns read, and their short names in the embedded JSON.
_COLUMNS = {
    "proc": "p",
    "idx": "i",
    "state": "s",
    "rc": "rc",
    "attempts": "a",
    "queued": "q",
    "started": "t0",
    "ended": "t1",
    "wall": "w",
    "cpu": "c",
    "peak_rss": "m",
    "host": "h",
    "jid": "j",
    "reason": "r",
    "failure": "f",
    "dir": "d",
}
#: Columns held as indices into a table of their distinct values.
_STRINGS = ("proc", "state", "host", "reason", "failure")


@dataclass
class Failed:
    """A failed job as the report shows it."""

    proc: str
    index: int
    state: str
    rc: int | None
    failure: str | None
    dir: str
    stderr: str


@dataclass
class ReportData:
    """Everything a report shows.

    Attributes:
        run: The run.
        procs: Its processes, in order.
        edges: ``(upstream, downstream)`` process names.
        jobs: The job columns (short names, see :data:`_COLUMNS`), the strings as indices.
        strings: Each string column's distinct values.
        failed: The first :data:`FAILED_SHOWN` failed jobs, with their stderr's last lines.
        nfailed: How many jobs failed.
        njobs: How many jobs were recorded.
    """

    run: RunRecord
    procs: list[ProcRecord]
    edges: list[tuple[str, str]]
    jobs: dict[str, list[Any]] = field(default_factory=dict)
    strings: dict[str, list[str]] = field(default_factory=dict)
    failed: list[Failed] = field(default_factory=list)
    nfailed: int = 0
    njobs: int = 0


def _edges(db: RunStore, run_id: int, procs: Sequence[ProcRecord]) -> list[tuple[str, str]]:
    """The DAG: each process's ``requires``; for a run recorded before they were, what its jobs read
    of which process's outputs."""
    names = {p.name for p in procs}
    edges = [(r, p.name) for p in procs for r in p.requires if r in names]
    if edges or not any(p.njobs for p in procs):
        return edges
    import sqlalchemy as sa

    from ..store.schema import artifacts, consumers

    q = (
        sa.select(artifacts.c.proc.label("up"), consumers.c.proc.label("down"))
        .join(
            consumers, sa.and_(consumers.c.uri == artifacts.c.uri, consumers.c.run_id == artifacts.c.run_id)
        )
        .where(artifacts.c.run_id == run_id)
        .distinct()
    )
    return sorted((r["up"], r["down"]) for r in db.query(q) if r["up"] != r["down"])


def _columns(db: RunStore, run: RunRecord) -> tuple[dict[str, list[Any]], dict[str, list[str]]]:
    """The run's jobs as columns: times relative to the run's start (0.01 s), memory in KiB."""
    import sqlalchemy as sa

    from ..store.schema import jobs

    names = list(_COLUMNS)
    q = (
        sa.select(*(jobs.c[n] for n in names))
        .where(jobs.c.run_id == run.id)
        .order_by(jobs.c.proc, jobs.c.idx)
    )
    with db.engine().connect() as conn:
        rows = conn.execute(q).all()
    cols: dict[str, list[Any]] = {n: [] for n in names}
    tables: dict[str, dict[str, int]] = {n: {} for n in _STRINGS}
    t0 = run.started
    wall_at, start_at, end_at = names.index("wall"), names.index("started"), names.index("ended")
    for found in rows:
        row = tuple(found)
        if row[wall_at] is None and row[start_at] is not None and row[end_at] is not None:
            row = (*row[:wall_at], row[end_at] - row[start_at], *row[wall_at + 1 :])  # the driver's view
        for name, value in zip(names, row, strict=True):
            if name in tables:
                table = tables[name]
                value = None if value is None else table.setdefault(value, len(table))
            elif value is not None and name in ("queued", "started", "ended"):
                value = round(value - t0, 2)
            elif value is not None and name in ("wall", "cpu"):
                value = round(value, 2)
            elif value is not None and name == "peak_rss":
                value = value // 1024
            cols[name].append(value)
    short = {_COLUMNS[n]: v for n, v in cols.items()}
    return short, {n: list(t) for n, t in tables.items()}


def _stderr_tail(path: str) -> str:
    from .. import paths

    try:
        text = paths.read_text(paths.join(path, "job.stderr"))
    except Exception as exc:  # a report shows what it can
        return f"(job.stderr cannot be read: {exc})"
    lines = text.rstrip("\n").splitlines()
    return "\n".join(lines[-STDERR_LINES:])


def collect(db: RunStore, run_id: int, *, stderr: bool = True) -> ReportData:
    """Read what a report shows of run ``run_id``.

    Args:
        db: The run store.
        run_id: The run.
        stderr: Read the failed jobs' stderr from their job directories.

    Raises:
        ConfigError: If there is no such run.
    """
    run = db.run(run_id)
    procs = db.procs(run_id)
    data = ReportData(run=run, procs=procs, edges=_edges(db, run_id, procs))
    data.jobs, data.strings = _columns(db, run)
    names = data.strings["proc"]
    _fix_dirs(data, run, names)
    data.njobs = len(data.jobs["i"])
    states = data.strings["state"]
    bad = {states.index(s) for s in BAD if s in states}
    rows = [n for n, s in enumerate(data.jobs["s"]) if s in bad]
    data.nfailed = len(rows)
    for n in rows[:FAILED_SHOWN]:
        d = data.jobs["d"][n] or f"{run.workdir.rstrip('/')}/{names[data.jobs['p'][n]]}/{data.jobs['i'][n]}"
        f = data.jobs["f"][n]
        data.failed.append(
            Failed(
                proc=names[data.jobs["p"][n]],
                index=data.jobs["i"][n],
                state=states[data.jobs["s"][n]],
                rc=data.jobs["rc"][n],
                failure=None if f is None else data.strings["failure"][f],
                dir=d,
                stderr=_stderr_tail(d) if stderr else "",
            )
        )
    return data


def _fix_dirs(data: ReportData, run: RunRecord, names: Sequence[str]) -> None:
    base = run.workdir.rstrip("/")
    dirs = data.jobs["d"]
    for n, (p, i) in enumerate(zip(data.jobs["p"], data.jobs["i"], strict=True)):
        if dirs[n] == f"{base}/{names[p]}/{i}":
            dirs[n] = None


def _compact(jobs: dict[str, list[Any]]) -> dict[str, Any]:
    """The job columns as the page reads them: string columns as 1-based indices (0: none), the job
    dirs that are not the usual one as ``{row: dir}``, columns with no value at all left out."""
    out: dict[str, Any] = {}
    strings = {_COLUMNS[n] for n in _STRINGS}
    for key, values in jobs.items():
        if key == "d":
            out[key] = {str(n): d for n, d in enumerate(values) if d is not None}
        elif key in strings:
            out[key] = [0 if v is None else v + 1 for v in values]
        elif any(v is not None for v in values):
            out[key] = values
    return out


def to_json(data: ReportData) -> str:
    """The JSON the page embeds (``</`` escaped, so it cannot end its ``<script>`` element)."""
    run = data.run
    body = {
        "run": {k: getattr(run, k) for k in ("id", "pipeline", "state", "started", "ended", "workdir")},
        "procs": [{"name": p.name, "njobs": p.njobs, "state": p.state} for p in data.procs],
        "n": data.njobs,
        "jobs": _compact(data.jobs),
        "strings": data.strings,
    }
    return json.dumps(body, separators=(",", ":")).replace("</", "<\\/")
