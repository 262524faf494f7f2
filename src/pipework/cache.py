"""The cache check: which jobs are already done, and why the others must run.

A job is cached when the signature it would have now (:mod:`pipework.signature`: script, inputs, input
file facts, outputs) equals its stored one, its ``job.rc`` says 0 and all its outputs exist. Every job gets
its new signature here, and the engine stores it BEFORE the job is submitted: a job that finishes while
no driver watches it (the driver was killed between the job's exit and its bookkeeping, or before the
job even ended) is recognised as done by the next run and never runs twice. Its ``cache_reason`` is the
one-line reason it is not cached (empty when it is), which ``--dry-run`` and ``pipework why`` print.

On a bucket the requests do not grow with the jobs: one listing of the process's prefix answers which
signatures, outputs, ``job.jid`` and ``job.rc`` exist, one listing per input prefix gives the input
facts, and one object per process, the :class:`SignatureBook`, holds every finished job's signature.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any

from . import paths, signature
from .errors import StorageError
from .job import Job
from .spec import CacheMode
from .state import JobState
from .wrapper import parse_rc

__all__ = ["SignatureBook", "check"]

#: On a bucket, finished jobs' signatures are saved at most this often (and when the process ends or is
#: interrupted), in seconds: one request per interval instead of one per job.
SAVE_INTERVAL = 2.0

Listing = Mapping[str, tuple[int, float]]


def check(jobs: Sequence[Job], cache: CacheMode) -> set[int] | None:
    """Give each job its signature and ``cache_reason``; cached ones become CACHED. Reads only. Blocking.

    A job that is not cached, has no ``job.rc`` and was submitted (``job.jid``) or started (``job.pid``,
    written by the wrapper itself, so it exists even if its driver died before recording ``job.jid``)
    by a previous driver is marked ``maybe_running``: the scheduler may adopt it.

    Returns:
        For a process directory on a bucket, the indices of the job directories that hold any object
        (the others need no cleaning); None for a local one.
    """
    if not jobs:
        return None
    proc_dir = jobs[0].dir.rsplit("/", 1)[0]
    listing: Listing | None = None
    stored: dict[int, dict[str, Any]] = {}
    occupied: set[int] | None = None
    if paths.is_cloud(proc_dir):
        listing = paths.list_prefix(proc_dir)
        start = len(proc_dir.rstrip("/")) + 1
        occupied = {int(head) for url in listing if (head := url[start:].split("/", 1)[0]).isdigit()}
        if paths.join(proc_dir, signature.MANIFEST) in listing:
            stored = signature.read_manifest(proc_dir)
    cloud_inputs = sorted({p for j in jobs for p in signature.input_paths(j) if paths.is_cloud(p)})
    stats = paths.stat_many(cloud_inputs) if cloud_inputs and cache is not False else None
    for job in jobs:
        job.cache_reason = "cache disabled" if cache is False else _reason(job, cache, listing, stored, stats)
        if not job.cache_reason:
            job.state = JobState.CACHED
        elif job.cache_reason == UNFINISHED and (
            _exists(job.path("job.jid"), listing) or _exists(job.path("job.pid"), listing)
        ):
            # a previous driver's job, submitted (job.jid) or started (job.pid, written by the wrapper
            # itself): it may still run, and then it is adopted rather than run twice
            job.maybe_running = True
    return occupied


#: The reason of a job whose signature matches but that has no ``job.rc`` yet.
UNFINISHED = "did not finish last time (no job.rc)"


def _reason(
    job: Job,
    cache: CacheMode,
    listing: Listing | None,
    stored: Mapping[int, dict[str, Any]],
    stats: Mapping[str, tuple[int, float] | None] | None,
) -> str:
    """Why one job is not cached ("" when it is); sets its new signature."""
    facts = signature.file_facts(job, content=cache == "content", stats=stats)
    job.signature = new = signature.make(job, facts)
    if listing is None:
        old = signature.read(job)
    elif job.index in stored:
        old = stored[job.index]
        job.in_manifest = True
    else:
        old = signature.read(job) if job.path("job.signature.json") in listing else None
    reason = signature.compare(old, new)
    if reason:
        return reason
    assert old is not None
    if old.get(PENDING) or listing is None:  # a signature stored before the job ran: did it finish?
        rc = _read_rc(job, listing)
        if rc is None:
            return UNFINISHED
        if rc != 0:
            return f"failed last time (rc {rc})"
    gone = signature.missing_outputs(job, listing)
    if gone:
        return f"output {gone[0]!r} missing ({job.outputs[gone[0]]})"
    return ""


#: The mark of a bucket's signature entry stored before its job ran (not yet known to have succeeded).
PENDING = "pending"


def _read_rc(job: Job, listing: Listing | None) -> int | None:
    """A job's return code from its ``job.rc``, or None when there is none (yet)."""
    path = job.path("job.rc")
    if listing is not None:
        if path not in listing:
            return None
        try:
            return parse_rc(paths.read_text(path))
        except StorageError:
            return None
    try:  # local: plain system calls, no error object built for the (common) missing file
        with open(path, encoding="utf-8", errors="replace") as fh:
            return parse_rc(fh.read())
    except OSError:
        return None


def _exists(path: str, listing: Listing | None) -> bool:
    return path in listing if listing is not None else paths.exists(path)


class SignatureBook:
    """The signatures of a process's finished jobs on a bucket, kept in one object (``.pw-signatures.json``).

    It starts with the jobs found cached; finished jobs are added as they end and the object is saved
    at most every :data:`SAVE_INTERVAL` seconds, and when the process ends or stops. A job about to run
    again is dropped from it first, so a half-done rerun never looks cached.

    Args:
        proc_dir: The process's directory (a cloud URL).
        proc: The process name (for errors).
    """

    def __init__(self, proc_dir: str, *, proc: str) -> None:
        self.proc_dir = proc_dir
        self.proc = proc
        self._signatures: dict[int, dict[str, Any]] = {}
        self._dirty = False
        self._saved_at = 0.0

    async def start(self, jobs: Sequence[Job]) -> None:
        """Take in the cached jobs, and the signatures of the jobs about to run marked pending; save.

        The object is written before any job is submitted, so a job that finishes while no driver runs
        is found done by the next run (its ``job.rc`` then says 0).

        Raises:
            StorageError: If the object cannot be written.
        """
        todo = False
        for job in jobs:
            if job.signature is None:
                continue
            if job.state is JobState.CACHED:
                self._signatures[job.index] = job.signature
            else:
                self._signatures[job.index] = {**job.signature, PENDING: True}
                todo = True
        if todo:
            await self.save()

    async def add(self, jobs: Sequence[Job]) -> None:
        """Record jobs that finished; save when the last save is old enough.

        Raises:
            StorageError: If the object cannot be written.
        """
        done = {j.index: j.signature for j in jobs if j.signature is not None}
        if not done:
            return
        self._signatures.update(done)
        self._dirty = True
        if time.monotonic() - self._saved_at >= SAVE_INTERVAL:
            await self.save()

    async def flush(self, *, quiet: bool = False) -> None:
        """Save what is not saved yet (with ``quiet``, a failure is not raised: the run is ending on
        another error, which must not be hidden).

        Raises:
            StorageError: If the object cannot be written and not ``quiet``.
        """
        if not self._dirty:
            return
        try:
            await self.save()
        except StorageError:
            if not quiet:
                raise

    async def save(self) -> None:
        """Write the object now.

        Raises:
            StorageError: If it cannot be written (the finished jobs would not be cached).
        """
        self._dirty = False
        self._saved_at = time.monotonic()
        try:
            await asyncio.to_thread(signature.write_manifest, self.proc_dir, dict(self._signatures))
        except StorageError as exc:
            raise exc.within(proc=self.proc, doing="saving the signatures of its jobs failed") from exc
