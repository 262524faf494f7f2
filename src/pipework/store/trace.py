"""``pipework trace``: one row per job attempt in the fields and formats of Nextflow's trace file, so
tools that read a Nextflow trace read pipework's.

The fields are Nextflow's (:data:`FIELDS`); values are formatted as Nextflow formats them: dates
``yyyy-MM-dd HH:mm:ss.SSS`` (local time), durations as Nextflow's ``Duration`` prints them (``850ms``,
``3.2s``, ``1m 5s``, ``2h 1m``), memory as its ``MemoryUnit`` does (``12.5 MB``), CPU as ``95.3%``, and
``-`` for a value not known. With ``raw`` they are numbers, as Nextflow's ``trace.raw``: epoch
milliseconds, milliseconds and bytes. A cached job is one row with status ``CACHED``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from .records import AttemptRecord, JobRecord

__all__ = ["FIELDS", "NA", "duration", "memory", "trace_json", "trace_rows", "trace_tsv"]

#: The fields of a row, Nextflow's names.
FIELDS = (
    "task_id", "hash", "native_id", "process", "tag", "name", "status", "exit", "submit", "start",
    "complete", "duration", "realtime", "%cpu", "peak_rss", "workdir", "attempt", "hostname",
)  # fmt: skip
#: How Nextflow writes a value that is not known.
NA = "-"

#: pipework's job states as Nextflow's task statuses.
STATUS = {"done": "COMPLETED", "failed": "FAILED", "killed": "ABORTED", "lost": "FAILED",
          "cached": "CACHED", "running": "RUNNING", "queued": "SUBMITTED", "pending": "NEW",
          "not run": "ABORTED"}  # fmt: skip
_UNITS = ("B", "KB", "MB", "GB", "TB", "PB", "EB", "ZB")


def duration(seconds: float | None) -> str:
    """A duration as Nextflow prints one: ``850ms``, ``3.2s``, ``1m 5s``, ``1h 2m 3s``, ``2d 1h``."""
    if seconds is None:
        return NA
    ms = max(0, math.floor(seconds * 1000 + 0.5))  # Java's Math.round: halves up
    if ms < 1000:
        return f"{ms}ms"
    if ms < 60_000:
        tenths = math.floor(ms / 100 + 0.5)
        return f"{tenths // 10}s" if tenths % 10 == 0 else f"{tenths / 10:g}s"
    secs = math.floor(ms / 1000 + 0.5)
    mins, secs = divmod(secs, 60)
    hours, mins = divmod(mins, 60)
    days, hours = divmod(hours, 24)
    parts = [(days, "d"), (hours, "h"), (mins, "m"), (secs, "s")]
    return " ".join(f"{n}{unit}" for n, unit in parts if n)


def memory(nbytes: int | None) -> str:
    """A size as Nextflow prints one: ``0``, ``512 B``, ``12.5 MB`` (1024-based, one decimal)."""
    if nbytes is None:
        return NA
    if nbytes <= 0:
        return "0"
    group = min(int(math.log10(nbytes) / math.log10(1024)), len(_UNITS) - 1)
    text = f"{nbytes / 1024**group:.1f}".removesuffix(".0")
    return f"{text} {_UNITS[group]}"


def _date(stamp: float | None) -> str:
    if stamp is None:
        return NA
    ms = round(stamp * 1000)
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(ms // 1000)) + f".{ms % 1000:03d}"


def _hash(sig: str | None) -> str:
    """Nextflow's short task hash: ``ab/cdef12`` (of the job's signature hash)."""
    return f"{sig[:2]}/{sig[2:8]}" if sig and len(sig) >= 8 else NA


def _values(job: JobRecord, att: AttemptRecord | None) -> dict[str, Any]:
    """A row's raw values: seconds, bytes, epoch seconds (None: not known)."""
    src: Any = att if att is not None else job
    submit = src.submitted if src.submitted is not None else src.queued
    realtime = src.wall
    if realtime is None and src.started is not None and src.ended is not None:
        realtime = max(0.0, src.ended - src.started)
    dur = None
    if submit is not None and src.ended is not None:
        dur = max(0.0, src.ended - submit)
    cpu = 100.0 * src.cpu / realtime if src.cpu is not None and realtime else None
    state = att.state if att is not None else job.state
    return {
        "task_id": job.task_id,
        "hash": _hash(job.sig_hash),
        "native_id": src.jid,
        "process": job.proc,
        "tag": str(job.index),
        "name": f"{job.proc} ({job.index})",
        "status": STATUS.get(state, state.upper()),
        "exit": src.rc,
        "submit": submit,
        "start": src.started,
        "complete": src.ended,
        "duration": dur,
        "realtime": realtime,
        "%cpu": cpu,
        "peak_rss": src.peak_rss,
        "workdir": job.dir,
        "attempt": att.attempt if att is not None else max(job.attempts, 1),
        "hostname": src.host,
    }


def _formatted(raw: dict[str, Any]) -> dict[str, str]:
    out = {}
    for key, value in raw.items():
        if key in ("submit", "start", "complete"):
            out[key] = _date(value)
        elif key in ("duration", "realtime"):
            out[key] = duration(value)
        elif key == "peak_rss":
            out[key] = memory(value)
        elif key == "%cpu":
            out[key] = NA if value is None else f"{value:.1f}%"
        else:
            out[key] = NA if value is None or value == "" else str(value)
    return out


def _raw(raw: dict[str, Any]) -> dict[str, Any]:
    """Nextflow's raw units: epoch milliseconds, milliseconds, bytes."""
    out = dict(raw)
    for key in ("submit", "start", "complete", "duration", "realtime"):
        if out[key] is not None:
            out[key] = round(out[key] * 1000)
    if out["%cpu"] is not None:
        out["%cpu"] = round(out["%cpu"], 1)
    return out


def trace_rows(
    jobs: Sequence[JobRecord], attempts: Iterable[AttemptRecord], *, raw: bool = False
) -> Iterator[dict[str, Any]]:
    """One row per attempt, by task id (a cached job: one row, a job that never started: none).

    Args:
        jobs: A run's jobs.
        attempts: Their attempts.
        raw: Numbers in Nextflow's raw units instead of its formatted text.
    """
    by_job: dict[tuple[str, int], list[AttemptRecord]] = {}
    for record in attempts:
        by_job.setdefault((record.proc, record.index), []).append(record)
    for job in sorted(jobs, key=lambda j: (j.task_id or 0, j.proc, j.index)):
        atts: list[AttemptRecord | None] = list(by_job.get((job.proc, job.index), []))
        if not atts:
            if job.state != "cached":
                continue
            atts = [None]
        for one in atts:
            values = _values(job, one)
            yield _raw(values) if raw else _formatted(values)


def trace_tsv(rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The lines of a trace file: the header, then one tab-separated row per attempt."""
    yield "\t".join(FIELDS)
    for row in rows:
        yield "\t".join(NA if row[f] is None else str(row[f]).replace("\t", " ") for f in FIELDS)


def trace_json(rows: Iterable[dict[str, Any]]) -> str:
    """The rows as a JSON array of objects keyed by the field names."""
    return json.dumps([{f: row[f] for f in FIELDS} for row in rows], indent=1)
