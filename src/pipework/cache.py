"""The cache check: which jobs are already done, and why the others must run.

A job is cached when the signature it would have now (:mod:`pipework.signature`: script, inputs, input
file facts, outputs) equals its stored one, its ``job.rc`` says 0 and all its outputs exist. Every job gets
its new signature here, and the engine stores it BEFORE the job is submitted: a job that finishes while
no driver watches it (the driver was killed between the job's exit and its bookkeeping, or before the
job even ended) is recognised as done by the next run and never runs twice. Its ``cache_reason`` is the
one-line reason it is not cached (empty when it is, see :mod:`pipework.reasons`), which ``--dry-run``
and ``pipework why`` print. A job whose row moved is matched to its previous run by its input values
(:mod:`pipework.rows`).

On a bucket the requests do not grow with the jobs: one listing of the process's prefix answers which
signatures, outputs, ``job.jid`` and ``job.rc`` exist, one listing per input prefix gives the input
facts, and one object per process, the :class:`SignatureBook`, holds every finished job's signature.
"""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import paths, rows, signature
from .errors import StorageError
from .job import Job
from .reasons import Moves, compare, script_change, translate
from .spec import CacheMode
from .state import JobState
from .wrapper import parse_rc

__all__ = ["Checked", "Previous", "SignatureBook", "check", "verdict"]

#: On a bucket, finished jobs' signatures are saved at most this often (and when the process ends or is
#: interrupted), in seconds: one request per interval instead of one per job.
SAVE_INTERVAL = 2.0

#: On a bucket, at most this many previous scripts are read per process to say at which line a script
#: changed (one request each); the other jobs' reasons say "script changed".
SCRIPT_READS = 20

Listing = Mapping[str, tuple[int, float]]

#: The reason of a job whose signature matches but that has no ``job.rc`` yet.
UNFINISHED = "did not finish last time (no job.rc)"

#: The mark of a bucket's signature entry stored before its job ran (not yet known to have succeeded).
PENDING = "pending"


@dataclass
class Checked:
    """What the cache check found besides each job's state and reason.

    Attributes:
        occupied: For a process directory on a bucket, the indices of the job directories that hold
            any object (the others need no cleaning); None for a local one.
        moved: Cached jobs whose previous run was another row's (``job.moved_from``): that directory
            becomes theirs before anything runs (:func:`pipework.rows.move`).
        resign: Cached jobs whose stored signature names upstream rows that moved: it is written again.
    """

    occupied: set[int] | None = None
    moved: list[Job] = field(default_factory=list)
    resign: list[Job] = field(default_factory=list)


@dataclass
class Previous:
    """What the check knows of a process's previous run: on a bucket, one listing of its prefix and its
    signature manifest; locally, the directories themselves.

    Attributes:
        proc_dir: The process's directory.
        listing: The objects under it (a bucket), else None.
        stored: The signatures of its manifest (a bucket).
        stats: Facts of cloud input files, from one listing per prefix.
        moves: Rows that moved upstream in this run (see :func:`pipework.reasons.translate`).
        dirs: Facts of ``dir`` inputs taken so far, by path.
        translated: Indices whose stored signature named moved upstream rows.
        script_reads: Previous scripts read so far to say where a script changed.
    """

    proc_dir: str
    listing: Listing | None = None
    stored: dict[int, dict[str, Any]] = field(default_factory=dict)
    stats: Mapping[str, tuple[int, float] | None] | None = None
    moves: Moves = field(default_factory=dict)
    dirs: dict[str, list[Any]] = field(default_factory=dict)
    translated: set[int] = field(default_factory=set)
    script_reads: int = 0

    def job_dir(self, index: int) -> str:
        """The directory of the previous run's job ``index``."""
        return f"{self.proc_dir.rstrip('/')}/{index}"

    def indices(self) -> set[int]:
        """The indices of the job directories the previous runs left. Blocking."""
        if self.listing is not None:
            start = len(self.proc_dir.rstrip("/")) + 1
            return {int(h) for url in self.listing if (h := url[start:].split("/", 1)[0]).isdigit()}
        try:
            with os.scandir(self.proc_dir) as entries:
                return {int(e.name) for e in entries if e.name.isdigit()}
        except OSError:
            return set()

    def signature(self, job: Job, index: int) -> dict[str, Any] | None:
        """The stored signature of the previous run's job ``index``, its paths into moved upstream rows
        rewritten to this run's. Blocking."""
        if self.listing is None:
            old = signature.read(job, self.job_dir(index))
        elif index in self.stored:
            old = self.stored[index]
        elif f"{self.job_dir(index)}/job.signature.json" in self.listing:
            old = signature.read(job, self.job_dir(index))
        else:
            old = None
        if old is None or not self.moves:
            return old
        new = translate(old, self.moves, copied=self.listing is not None)
        if new != old:
            self.translated.add(index)
        return new


def check(
    jobs: Sequence[Job],
    cache: CacheMode,
    *,
    moves: MutableMapping[str, dict[int, int]] | None = None,
    moved: bool = True,
) -> Checked:
    """Give each job its signature and ``cache_reason``; cached ones become CACHED. Reads only. Blocking.

    A job whose row moved (rows were added or removed before it) is matched to the previous run's job
    that had its input values (``job.moved_from``). A job that is not cached, has no ``job.rc`` and was
    submitted (``job.jid``) or started (``job.pid``, written by the wrapper itself, so it exists even if
    its driver died before recording ``job.jid``) by a previous driver is marked ``maybe_running``: the
    scheduler may adopt it.

    Args:
        jobs: The jobs of one process.
        cache: Its cache mode.
        moves: The rows that moved in the processes checked before it, by process; its own are added.
        moved: Those rows' directories were renamed already (False: a plan, which renames nothing,
            so their files are looked for where they are now).
    """
    if not jobs:
        return Checked()
    prev = _previous(jobs, cache, {k: v for k, v in (moves or {}).items() if v})
    found = Checked(occupied=prev.indices() if prev.listing is not None else None)
    if cache is False:
        for job in jobs:
            job.cache_reason = "cache disabled"
        return found
    olds: dict[int, dict[str, Any] | None] = {}
    located = None if moved or not prev.moves else _located(jobs[0], prev.moves)
    for job in jobs:
        facts = signature.file_facts(
            job, content=cache == "content", stats=prev.stats, dirs=prev.dirs, located=located
        )
        job.signature = signature.make(job, facts)
        job.in_manifest = prev.listing is not None and job.index in prev.stored
        olds[job.index] = old = prev.signature(job, job.index)
        job.cache_reason = verdict(job, old, prev)
    rows.match(
        jobs,
        olds,
        indices=prev.indices,
        stored=lambda index: prev.signature(jobs[0], index),
        verdict=lambda job, old, index: verdict(job, old, prev, index),
    )
    if moves is not None:
        moves[jobs[0].proc] = {j.moved_from: j.index for j in jobs if j.moved_from is not None}
    for job in jobs:
        if not job.cache_reason:
            job.state = JobState.CACHED
            if job.moved_from is not None:
                found.moved.append(job)
            elif job.index in prev.translated:
                found.resign.append(job)
        elif job.cache_reason == UNFINISHED and (
            _exists(job.path("job.jid"), prev.listing) or _exists(job.path("job.pid"), prev.listing)
        ):
            # a previous driver's job, submitted (job.jid) or started (job.pid, written by the wrapper
            # itself): it may still run, and then it is adopted rather than run twice
            job.maybe_running = True
    return found


def _located(job: Job, moves: Moves) -> Callable[[str], str]:
    """Where the files of moved upstream rows are before their directories are renamed."""
    pipeline_dir = job.dir.rstrip("/").rsplit("/", 2)[0] + "/"
    back = {
        f"{pipeline_dir}{proc}/{new}/": f"{pipeline_dir}{proc}/{old}/"
        for proc, m in moves.items()
        for old, new in m.items()
    }

    def located(path: str) -> str:
        if path.startswith(pipeline_dir):
            proc, _, rest = path[len(pipeline_dir) :].partition("/")
            head = f"{pipeline_dir}{proc}/{rest.split('/', 1)[0]}/"
            if head in back:
                return back[head] + path[len(head) :]
        return path

    return located


def _previous(jobs: Sequence[Job], cache: CacheMode, moves: Moves) -> Previous:
    """Read what the process's previous run left: on a bucket, one listing and the manifest."""
    prev = Previous(jobs[0].dir.rsplit("/", 1)[0], moves=moves)
    if paths.is_cloud(prev.proc_dir):
        prev.listing = paths.list_prefix(prev.proc_dir)
        if paths.join(prev.proc_dir, signature.MANIFEST) in prev.listing:
            prev.stored = signature.read_manifest(prev.proc_dir)
    cloud_inputs = sorted({p for j in jobs for p in signature.input_paths(j) if paths.is_cloud(p)})
    if cloud_inputs and cache is not False:
        prev.stats = paths.stat_many(cloud_inputs)
    return prev


def verdict(job: Job, old: dict[str, Any] | None, prev: Previous, index: int | None = None) -> str:
    """Why ``job`` is not cached by the previous run's job ``index`` (default: its own), whose stored
    signature is ``old``; "" when it is. Blocking (reads ``job.rc`` and checks outputs)."""
    assert job.signature is not None
    at = job.index if index is None else index
    reason = compare(old, job.signature)
    if reason == "script changed":
        return _script_reason(job, prev, at)
    if reason:
        for root, tag in signature.roots_of(job):  # the paths as the user knows them
            reason = reason.replace(tag, root)
        return reason
    assert old is not None
    listing = prev.listing
    if old.get(PENDING) or listing is None:  # a signature stored before the job ran: did it finish?
        rc = _read_rc(f"{prev.job_dir(at)}/job.rc", listing)
        if rc is None:
            return UNFINISHED
        if rc != 0:
            return f"failed last time (rc {rc})"
    gone = signature.missing_outputs(job, listing, job_dir=None if at == job.index else prev.job_dir(at))
    if gone:
        return f"output {gone[0]!r} missing ({job.outputs[gone[0]]})"
    return ""


def _script_reason(job: Job, prev: Previous, index: int) -> str:
    """``script changed at line N: ...`` from the previous run's ``job.script`` (when it can be read)."""
    if prev.listing is not None:
        if prev.script_reads >= SCRIPT_READS:
            return "script changed"
        prev.script_reads += 1
    try:
        old = paths.read_text(f"{prev.job_dir(index)}/job.script")
    except StorageError:
        return "script changed"
    roots = signature.roots_of(job)
    # job directories written as <proc>/#: rows may have moved, and the input values are compared
    rows_moved = re.compile(r"/([A-Za-z_][\w.-]*)/\d+/")
    return script_change(
        rows_moved.sub(r"/\1/#/", signature.relative_script(old, roots)),
        rows_moved.sub(r"/\1/#/", signature.relative_script(job.script, roots)),
        shown=job.script,
    )


def _read_rc(path: str, listing: Listing | None) -> int | None:
    """A job's return code from its ``job.rc``, or None when there is none (yet)."""
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

    async def start(self, jobs: Sequence[Job], *, changed: bool = False) -> None:
        """Take in the cached jobs, and the signatures of the jobs about to run marked pending; save.

        The object is written before any job is submitted, so a job that finishes while no driver runs
        is found done by the next run (its ``job.rc`` then says 0). With ``changed`` (cached jobs moved
        rows, or their signatures were carried over from moved rows) it is written even if no job runs.

        Raises:
            StorageError: If the object cannot be written.
        """
        todo = changed
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
