"""``pipework compare``: what differs between two runs, process by process and job by job.

Jobs of the two runs are matched by process and input values (the way the cache matches a job to its
previous run, whatever its row), then by index. A matched job differs when its signature hash
differs; the later run's cache reason says why it ran. Timings are each process's wall time and the
total of its jobs' measured wall and CPU time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .records import JobRecord, ProcRecord, RunRecord

if TYPE_CHECKING:
    from .db import RunStore

__all__ = ["Comparison", "JobDiff", "ProcDiff", "compare", "compare_json", "compare_lines"]


@dataclass(frozen=True)
class JobDiff:
    """A job that differs between the runs.

    Attributes:
        proc: Its process.
        a: Its index in the first run (None: only in the second).
        b: Its index in the second run (None: only in the first).
        what: ``signature``, ``state``, ``only in A`` or ``only in B``.
        detail: What differs, in words.
        reason: Why the second run ran it (its cache reason), if it did.
    """

    proc: str
    a: int | None
    b: int | None
    what: str
    detail: str
    reason: str | None


@dataclass
class ProcDiff:
    """One process in the two runs.

    Attributes:
        name: Its name.
        jobs: Its number of jobs in each run (None: not in that run).
        same: Jobs matched with the same signature.
        changed: Jobs matched with another signature (or state).
        only: Jobs in only one run, each run's count.
        seconds: Its wall time in each run.
        wall: The total of its jobs' measured wall time in each run.
        cpu: The total of its jobs' measured CPU time in each run.
        cached: Its jobs found cached in each run.
    """

    name: str
    jobs: tuple[int | None, int | None]
    same: int = 0
    changed: int = 0
    only: tuple[int, int] = (0, 0)
    seconds: tuple[float | None, float | None] = (None, None)
    wall: tuple[float, float] = (0.0, 0.0)
    cpu: tuple[float, float] = (0.0, 0.0)
    cached: tuple[int, int] = (0, 0)


@dataclass
class Comparison:
    """Two runs compared.

    Attributes:
        a: The first run.
        b: The second run.
        procs: Each process of either run, in order.
        jobs: The jobs that differ.
    """

    a: RunRecord
    b: RunRecord
    procs: list[ProcDiff] = field(default_factory=list)
    jobs: list[JobDiff] = field(default_factory=list)


def _match(a: Sequence[JobRecord], b: Sequence[JobRecord]) -> list[tuple[JobRecord | None, JobRecord | None]]:
    """Pairs of jobs of one process: by input values first, then by index; the rest alone."""
    unmatched = {j.index: j for j in a}
    by_inputs: dict[str, list[JobRecord]] = {}
    for job in a:
        if job.inputs:
            by_inputs.setdefault(job.inputs, []).append(job)
    pairs: list[tuple[JobRecord | None, JobRecord | None]] = []
    rest = []
    for job in b:
        queue = by_inputs.get(job.inputs or "", [])
        while queue and queue[0].index not in unmatched:
            queue.pop(0)
        if queue:
            old = queue.pop(0)
            del unmatched[old.index]
            pairs.append((old, job))
        else:
            rest.append(job)
    pairs += [(unmatched.pop(job.index, None), job) for job in rest]
    pairs += [(job, None) for job in unmatched.values()]
    return pairs


def _diff(proc: str, old: JobRecord | None, new: JobRecord | None) -> JobDiff | None:
    if old is None:
        assert new is not None
        return JobDiff(proc, None, new.index, "only in B", f"new job, {new.state}", new.reason)
    if new is None:
        return JobDiff(proc, old.index, None, "only in A", f"not in the second run (was {old.state})", None)
    if old.sig_hash and new.sig_hash and old.sig_hash != new.sig_hash:
        script = "script changed" if old.script_hash != new.script_hash else "same script"
        detail = f"signature {old.sig_hash[:8]} -> {new.sig_hash[:8]} ({script})"
        return JobDiff(proc, old.index, new.index, "signature", detail, new.reason)
    bad = ("failed", "killed", "lost", "not run")
    if (old.state in bad) != (new.state in bad):
        return JobDiff(proc, old.index, new.index, "state", f"{old.state} -> {new.state}", new.reason)
    return None


def _totals(jobs: Sequence[JobRecord]) -> tuple[float, float, int]:
    wall = sum(j.wall or 0.0 for j in jobs)
    cpu = sum(j.cpu or 0.0 for j in jobs)
    return wall, cpu, sum(1 for j in jobs if j.state == "cached")


def compare(db: RunStore, run_a: int, run_b: int) -> Comparison:
    """Compare run ``run_a`` with the later run ``run_b``.

    Raises:
        ConfigError: If either run is not in the store.
    """
    out = Comparison(db.run(run_a), db.run(run_b))
    procs_a = {p.name: p for p in db.procs(run_a)}
    procs_b = {p.name: p for p in db.procs(run_b)}
    jobs_a, jobs_b = _by_proc(db.jobs(run_a)), _by_proc(db.jobs(run_b))
    names = list(dict.fromkeys([*procs_a, *procs_b]))
    for name in names:
        pa, pb = procs_a.get(name), procs_b.get(name)
        ja, jb = jobs_a.get(name, []), jobs_b.get(name, [])
        ta, tb = _totals(ja), _totals(jb)
        diff = ProcDiff(
            name,
            jobs=(_njobs(pa, ja), _njobs(pb, jb)),
            seconds=(_seconds(pa), _seconds(pb)),
            wall=(ta[0], tb[0]),
            cpu=(ta[1], tb[1]),
            cached=(ta[2], tb[2]),
        )
        only_a = only_b = 0
        for old, new in _match(ja, jb):
            found = _diff(name, old, new)
            if found is None:
                diff.same += 1
                continue
            out.jobs.append(found)
            if found.what == "only in A":
                only_a += 1
            elif found.what == "only in B":
                only_b += 1
            else:
                diff.changed += 1
        diff.only = (only_a, only_b)
        out.procs.append(diff)
    return out


def _by_proc(jobs: Sequence[JobRecord]) -> dict[str, list[JobRecord]]:
    out: dict[str, list[JobRecord]] = {}
    for job in jobs:
        out.setdefault(job.proc, []).append(job)
    return out


def _njobs(proc: ProcRecord | None, jobs: Sequence[JobRecord]) -> int | None:
    return None if proc is None and not jobs else len(jobs) or (proc.njobs if proc else 0)


def _seconds(proc: ProcRecord | None) -> float | None:
    return None if proc is None or (not proc.seconds and not proc.ended) else proc.seconds


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}s"


def _delta(a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "-"
    pct = f" ({(b - a) / a:+.0%})" if a > 0 else ""
    return f"{b - a:+.1f}s{pct}"


def compare_lines(c: Comparison, *, limit: int = 50) -> list[str]:
    """What ``pipework compare`` prints: the runs, a table of processes, the jobs that differ."""
    a, b = c.a, c.b
    lines = [
        f"A: run {a.id} of {a.pipeline}, {a.state}, {_secs(a.seconds)}",
        f"B: run {b.id} of {b.pipeline}, {b.state}, {_secs(b.seconds)}  ({_delta(a.seconds, b.seconds)})",
        "",
        f"{'process':<20} {'jobs A':>6} {'jobs B':>6} {'same':>5} {'differ':>6} {'only A':>6} {'only B':>6} "
        f"{'cached B':>8} {'time A':>8} {'time B':>8}  {'delta':<14} {'job wall A':>10} {'job wall B':>10}",
    ]
    for p in c.procs:
        ja, jb = ("-" if n is None else str(n) for n in p.jobs)
        lines.append(
            f"{p.name:<20} {ja:>6} {jb:>6} {p.same:>5} {p.changed:>6} {p.only[0]:>6} {p.only[1]:>6} "
            f"{p.cached[1]:>8} {_secs(p.seconds[0]):>8} {_secs(p.seconds[1]):>8}  "
            f"{_delta(*p.seconds):<14} {_secs(p.wall[0]):>10} {_secs(p.wall[1]):>10}"
        )
    if not c.jobs:
        lines += ["", "no job differs: the same signatures and outcomes"]
        return lines
    lines += ["", f"jobs that differ ({len(c.jobs)}):"]
    for d in c.jobs[:limit]:
        where = (
            f"job {d.a}"
            if d.a == d.b or d.b is None
            else (f"job {d.b}" if d.a is None else f"job {d.a} (B: {d.b})")
        )
        why = f"; B ran it: {d.reason}" if d.reason else ""
        lines.append(f"  {d.proc} {where}: {d.detail}{why}")
    if len(c.jobs) > limit:
        lines.append(f"  ... and {len(c.jobs) - limit} more (--json lists all)")
    return lines


def compare_json(c: Comparison) -> dict[str, Any]:
    """A comparison as JSON-ready data."""
    return {
        "a": {"id": c.a.id, "pipeline": c.a.pipeline, "state": c.a.state, "seconds": c.a.seconds},
        "b": {"id": c.b.id, "pipeline": c.b.pipeline, "state": c.b.state, "seconds": c.b.seconds},
        "procs": [
            {
                "name": p.name,
                "jobs": list(p.jobs),
                "same": p.same,
                "differ": p.changed,
                "only": list(p.only),
                "cached": list(p.cached),
                "seconds": list(p.seconds),
                "job_wall": list(p.wall),
                "job_cpu": list(p.cpu),
            }
            for p in c.procs
        ],
        "jobs": [
            {"proc": d.proc, "a": d.a, "b": d.b, "what": d.what, "detail": d.detail, "reason": d.reason}
            for d in c.jobs
        ],
    }
