"""What the store keeps of a job: its rows, built from the engine's :class:`~pipework.job.Job` objects.

The recorder calls these in its own thread when it flushes: a job row from the job as it is then, an
attempt row from the :class:`Attempt` the engine's events filled in, artifact rows from its outputs
(local files stat'ed, cloud outputs as they are named) and consumer rows from its path inputs.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import paths
from ..state import JobState

if TYPE_CHECKING:
    from ..job import Job
    from .usage import Usage

__all__ = [
    "CLOCK_SKEW",
    "JOB_STATE",
    "Attempt",
    "artifact_rows",
    "attempt_row",
    "consumer_rows",
    "fact_rows",
    "input_facts",
    "job_row",
    "job_update",
    "sig_hash",
    "signature_changes",
    "signature_row",
]


#: Seconds a wrapper's start may precede its attempt's submission (clocks of nodes and driver differ)
#: before its ``job.usage`` is taken for an earlier attempt's.
CLOCK_SKEW = 5.0


class Attempt:
    """One submission of a job, as the engine saw it and its wrapper measured it (mutable)."""

    __slots__ = (
        "cpu",
        "ended",
        "failure",
        "final",
        "host",
        "jid",
        "job",
        "native_state",
        "number",
        "peak_rss",
        "queued",
        "rc",
        "started",
        "state",
        "submitted",
        "wall",
    )

    def __init__(self, job: Job, number: int, *, queued: float | None, submitted: float | None) -> None:
        self.job = job
        self.number = number
        self.jid = job.jid
        self.state = JobState.QUEUED.value
        self.rc: int | None = None
        self.host: str | None = None
        self.queued = queued
        self.submitted = submitted
        self.started: float | None = None
        self.ended: float | None = None
        self.wall: float | None = None
        self.cpu: float | None = None
        self.peak_rss: int | None = None
        self.failure: str | None = None
        self.native_state: str | None = None
        self.final = False

    def take(self, usage: Usage | None) -> None:
        """Take what the job's wrapper measured (when it is this attempt's, not an earlier one's)."""
        if usage is not None and (self.queued is None or (usage.start or 0) >= self.queued - CLOCK_SKEW):
            self.host, self.started, self.ended = usage.host, usage.start, usage.end
            self.wall, self.cpu, self.peak_rss = usage.wall, usage.cpu, usage.peak_rss

    def measured(self) -> dict[str, Any]:
        """The columns an attempt shares with its job row."""
        return {
            "host": self.host,
            "queued": self.queued,
            "submitted": self.submitted,
            "started": self.started,
            "ended": self.ended,
            "wall": self.wall,
            "cpu": self.cpu,
            "peak_rss": self.peak_rss,
            "failure": self.failure,
            "native_state": self.native_state,
        }


#: The measured columns of a job that has no attempt (cached, or not run).
_UNMEASURED = dict.fromkeys(
    ("host", "queued", "submitted", "started", "ended", "wall", "cpu", "peak_rss", "failure", "native_state")
)


def sig_hash(signature: Mapping[str, Any] | None) -> str | None:
    """The sha256 of a signature (its JSON with sorted keys), or None."""
    if signature is None:
        return None
    text = json.dumps(signature, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def job_row(run_id: int, job: Job, task_id: int, attempt: Attempt | None) -> dict[str, Any]:
    """A job's row, as it is now (with its attempt's measurements, when it has a current one)."""
    signature = job.signature
    state = job.state.value
    row: dict[str, Any] = {
        "run_id": run_id,
        "proc": job.proc,
        "idx": job.index,
        "state": state,
        "rc": job.rc,
        "attempts": job.attempts,
        "jid": job.jid,
        "dir": job.dir,
        "reason": job.cache_reason or None,
        "task_id": task_id,
        "name": job.name,
        "cache": "cached" if state == "cached" else "run",
        "sig_hash": sig_hash(signature),
        "script_hash": signature.get("script") if signature is not None else None,
        "inputs": json.dumps(job.inputs, default=str),
    }
    row.update(attempt.measured() if attempt is not None else _UNMEASURED)
    return row


#: The columns of a job row that change after it is inserted (besides the measured ones).
JOB_STATE = ("run_id", "proc", "idx", "state", "rc", "attempts", "jid", "reason", "cache")


def job_update(run_id: int, job: Job, attempt: Attempt | None) -> dict[str, Any]:
    """What changed of a job's row since it was inserted: its state, and its attempt's measurements
    when it has a current one."""
    state = job.state.value
    row: dict[str, Any] = {
        "run_id": run_id, "proc": job.proc, "idx": job.index, "state": state, "rc": job.rc,
        "attempts": job.attempts, "jid": job.jid, "reason": job.cache_reason or None,
        "cache": "cached" if state == "cached" else "run",
    }  # fmt: skip
    if attempt is not None:
        row.update(attempt.measured())
    return row


def signature_changes(job: Job) -> bool:
    """Whether a job's signature may change after it ran (made then with ``cache = False``; a ``dir``
    input signed again as the job left it)."""
    return job.spec.cache is False or any(s.type in ("dir", "dirs") for s in job.spec.inputs)


def signature_row(run_id: int, job: Job) -> dict[str, Any]:
    """A job's signature columns."""
    signature = job.signature
    return {
        "run_id": run_id, "proc": job.proc, "idx": job.index, "sig_hash": sig_hash(signature),
        "script_hash": signature.get("script") if signature is not None else None,
    }  # fmt: skip


def attempt_row(run_id: int, attempt: Attempt) -> dict[str, Any]:
    """An attempt's row (the resources it asked for included: its process's, with those given as
    functions of the job evaluated for the attempt)."""
    res = attempt.job.resources or attempt.job.spec.resources
    return {
        "run_id": run_id,
        "proc": attempt.job.proc,
        "idx": attempt.job.index,
        "attempt": attempt.number,
        "jid": attempt.jid,
        "state": attempt.state,
        "rc": attempt.rc,
        **attempt.measured(),
        "req_cpus": res.cpus,
        "req_mem_mib": res.mem_mib,
        "req_time_s": res.time_s,
        "req_gpus": res.gpus,
    }


def _stat(path: str, kind: str) -> tuple[int | None, float | None]:
    """Size and mtime of a local output (a directory: its mtime only); nothing for a cloud one."""
    if paths.is_cloud(path):
        return None, None
    try:
        st = os.stat(path)
    except OSError:
        return None, None
    return (None if kind == "dir" else st.st_size), st.st_mtime


def artifact_rows(run_id: int, job: Job, exported: Mapping[str, str]) -> list[dict[str, Any]]:
    """The rows of a job's outputs. Blocking (stats local files).

    Args:
        run_id: The run.
        job: A job that succeeded or was cached.
        exported: Where its outputs were exported, by output name.
    """
    now = time.time()
    rows = []
    for spec in job.spec.outputs:
        value = job.outputs.get(spec.name)
        if spec.type == "var":
            uri, nbytes, mtime, var = f"var:{job.proc}/{job.index}/{spec.name}", None, None, str(value)
        else:
            uri, var = str(value), None
            nbytes, mtime = _stat(uri, spec.type)
        rows.append(
            {
                "run_id": run_id,
                "proc": job.proc,
                "idx": job.index,
                "name": spec.name,
                "kind": spec.type,
                "uri": uri,
                "exported": exported.get(spec.name),
                "nbytes": nbytes,
                "mtime": mtime,
                "checksum": None,
                "var_value": var,
                "recorded": now,
            }
        )
    return rows


def consumer_rows(run_id: int, job: Job) -> list[dict[str, Any]]:
    """The rows of the paths a job reads (its ``file``, ``files``, ``dir`` and ``dirs`` inputs)."""
    rows = []
    for spec in job.spec.inputs:
        if not spec.is_path:
            continue
        value = job.inputs.get(spec.name)
        values = value if isinstance(value, list) else [value]
        for seq, uri in enumerate(values):
            rows.append(
                {
                    "run_id": run_id,
                    "proc": job.proc,
                    "idx": job.index,
                    "name": spec.name,
                    "seq": seq,
                    "uri": str(uri),
                }
            )
    return rows


#: What a signature knows of one input path: size, mtime and checksum (each None when unknown).
Fact = tuple[int | None, float | None, str | None]


def _fact(fact: Any) -> Fact | None:
    """A signature's fact of one path (``[path, size, mtime]``, ``[path, hash]`` or a directory's
    ``[path, {file: [size, mtime] or hash}]``) as size, mtime, checksum."""
    if not isinstance(fact, list) or len(fact) < 2:
        return None
    if len(fact) == 3 and isinstance(fact[1], int):
        return fact[1], fact[2] if isinstance(fact[2], (int, float)) else None, None
    if len(fact) == 2 and isinstance(fact[1], str):
        return None, None, f"sha256:{fact[1]}"
    if len(fact) == 2 and isinstance(fact[1], dict):
        files = list(fact[1].values())
        if files and all(isinstance(f, list) and len(f) == 2 for f in files):
            return sum(int(f[0] or 0) for f in files), max(float(f[1] or 0) for f in files), None
    return None


def input_facts(job: Job) -> dict[str, Fact]:
    """What a job's signature knows of its path inputs (from the cache check's listing of a bucket, or
    a hash with ``cache = "content"``), by path: no request, no read."""
    files = (job.signature or {}).get("files") or {}
    out: dict[str, Fact] = {}
    for spec in job.spec.inputs:
        if not spec.is_path or spec.name not in files:
            continue
        value = job.inputs.get(spec.name)
        values = [v for v in (value if isinstance(value, (list, tuple)) else [value]) if v is not None]
        for path, fact in zip(values, files[spec.name], strict=False):
            found = _fact(fact)
            if found is not None and found != (None, None, None):
                out[str(path)] = found
    return out


def fact_rows(
    run_id: int, readers: Sequence[Job], unsized: Mapping[str, tuple[str, int, str]]
) -> dict[str, dict[str, Any]]:
    """Rows completing outputs recorded without a size or checksum (``unsized``: URI -> their job and
    name), from what their readers' signatures hold (a listing of the bucket, a hash of the file): no
    request of their own. One row per output, by URI."""
    rows: dict[str, dict[str, Any]] = {}
    if not unsized:
        return rows
    for job in readers:
        for uri, (nbytes, mtime, checksum) in input_facts(job).items():
            key = unsized.get(uri)
            if key is not None and uri not in rows:
                proc, idx, name = key
                rows[uri] = {"run_id": run_id, "proc": proc, "idx": idx, "name": name, "nbytes": nbytes,
                             "mtime": mtime, "checksum": checksum}  # fmt: skip
    return rows
