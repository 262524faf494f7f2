"""The local scheduler: jobs run as subprocesses of the driver, ``forks`` at a time per process.

Every job runs its wrapper with ``bash`` in a session of its own, so a kill reaches the whole process
tree of the job. The scheduler learns of an exit at once (no polling delay) and wakes the base's loop.
A driver that was killed leaves its jobs running; the next driver adopts them by the pid the wrapper
wrote to ``job.pid`` (the local scheduler writes no ``job.jid``).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import functools
import json
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from .. import paths
from ..errors import StorageError
from ..job import Job, launch_argv
from ..layout import Access, FileAccess
from ..stage import Manifest, note, stage_in, stage_out
from ..state import JobState
from ..wrapper import parse_rc
from .base import Scheduler
from .process import Child, group_alive, pidfd_works, wait_exit

__all__ = ["LocalScheduler", "LocalSettings"]


@dataclass(frozen=True, kw_only=True)
class LocalSettings:
    """Options of the local scheduler (``scheduler_opts``).

    Attributes:
        max_jobs: Jobs running at once across all processes of the run (0: no cap beyond each
            process's ``forks``).
        kill_grace: Seconds between SIGTERM and SIGKILL when jobs are cancelled.
    """

    max_jobs: int = field(default=0, metadata={"help": "jobs running at once in the whole run (0: no cap)"})
    kill_grace: float = field(default=5.0, metadata={"help": "seconds from SIGTERM to SIGKILL on cancel"})


class LocalScheduler(Scheduler[LocalSettings]):
    """Run jobs on this machine."""

    name = "local"
    Settings = LocalSettings
    #: The local scheduler wakes the poll loop itself when a job changes (no fixed interval).
    notifies = True
    #: Jobs with files on a bucket are staged by the driver itself (see :meth:`_run_staged`).
    file_access = FileAccess(stages_in_driver=True)
    min_poll_interval = 0.5
    max_poll_interval = 2.0
    rc_grace = 0.0
    #: A restarted driver adopts running jobs by the pid their wrapper writes to ``job.pid``.
    jid_files = False

    def __init__(
        self,
        settings: LocalSettings | None = None,
        *,
        run_tag: str = "run",
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(settings, run_tag=run_tag, env=env)
        self._states: dict[Job, JobState] = {}
        self._procs: dict[Job, Child] = {}
        self._tasks: dict[Job, asyncio.Task[None]] = {}
        self._adopted: dict[Job, int] = {}
        self._rcs: dict[Job, int] = {}
        self._uploaded: dict[Job, list[str]] = {}
        self._per_proc: dict[str, asyncio.Semaphore] = {}
        self._staging: dict[str, asyncio.Semaphore] = {}
        self._null: int | None = None
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        cap = self.settings.max_jobs
        self._global = asyncio.Semaphore(cap) if cap and cap > 0 else None

    def _transfers(self) -> concurrent.futures.ThreadPoolExecutor:
        """Threads for staging jobs in and out (network-bound: more than the CPU count)."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(8, thread_name_prefix="pipework-stage")
        return self._pool

    def _devnull(self) -> int | None:
        """A descriptor of /dev/null for the jobs' standard streams, or None to use asyncio's spawning."""
        if self._null is None:
            self._null = os.open(os.devnull, os.O_RDWR) if pidfd_works() else -1
        return self._null if self._null >= 0 else None

    def _forks(self, job: Job) -> asyncio.Semaphore:
        """The running slots of a job's process (its ``forks``)."""
        return _per_process(self._per_proc, job)

    async def submit(self, jobs: Sequence[Job]) -> None:
        """Queue the jobs; each starts when its process and the run have a free slot."""
        for job in jobs:
            # the wrapper writes its pid to job.pid, which lets a restarted driver adopt the job
            job.jid = job.name  # pw-<run>-<proc>-<index>, made once by the engine
            self._rcs.pop(job, None)
            self._uploaded.pop(job, None)
            self._states[job] = JobState.QUEUED
            self._tasks[job] = asyncio.create_task(self._run(job), name=f"pipework-{job.name}")

    async def _run(self, job: Job) -> None:
        if job.layout.access is Access.STAGED:
            await self._run_staged(job, job.layout.manifest(), self._devnull())
            return
        async with self._forks(job), self._global or contextlib.nullcontext():
            if self._states.get(job) is JobState.KILLED:
                return
            devnull = self._devnull()
            argv = launch_argv(job)
            try:
                child = await Child.start(argv, devnull=devnull, env=self.job_env)
            except OSError as exc:
                job.native_state = f"could not start {argv[0]}: {exc}"
                self._states[job] = JobState.FAILED
                self.notify(job)
                return
            self._procs[job] = child
            self._states[job] = JobState.RUNNING
            self.notify(job)
            rc = await child.wait()
            self._procs.pop(job, None)
            if self._states.get(job) is not JobState.KILLED:
                self._states[job] = JobState.DONE if rc == 0 else JobState.FAILED
                if rc < 0:
                    job.native_state = f"killed by signal {-rc}"
            self.notify(job)

    async def _run_staged(self, job: Job, manifest: Manifest, devnull: int | None) -> None:
        """A job with files on a bucket: the driver stages it in and out in worker threads, and only
        the wrapper runs as a process (no Python start-up per job, unlike ``python -m pipework.stage``).

        Transfers do not hold a running slot: up to ``forks`` jobs of a process are staged in ahead
        while others run, and a job uploads its results after giving its slot to the next one. The
        wrapper and the manifest come from memory (the engine does not upload them for this scheduler),
        and the driver keeps the rc and the outputs it uploaded, so nothing needs reading back.

        A job that a killed driver left in its stage dir (still running, or ended but not staged out)
        is finished from there instead of running again.
        """
        rc = await self._recover(job, manifest) if job.layout.remote else None
        if rc is None:
            rc = await self._stage_in_and_run(job, manifest, devnull)
            if rc is None:
                return
        uploaded: list[str] = []
        final = await asyncio.get_running_loop().run_in_executor(
            self._transfers(),
            contextvars.copy_context().run,
            functools.partial(stage_out, job.dir, manifest, rc, uploaded=uploaded),
        )
        self._uploaded[job] = uploaded
        self._rcs[job] = final
        if self._states.get(job) is not JobState.KILLED:
            self._states[job] = JobState.DONE if final == 0 else JobState.FAILED
        self.notify(job)

    async def _recover(self, job: Job, manifest: Manifest) -> int | None:
        """The rc of this job's run by a previous driver on this host, from its stage dir: waited for
        while its wrapper still runs; None when there is none (or it was of another signature)."""
        found = await asyncio.to_thread(_previous_run, job, manifest.stage_dir)
        if found is None:
            return None
        rc, pid = found
        if pid is not None:
            self._states[job] = JobState.RUNNING
            self.notify(job)
            await wait_exit(pid)
            found = await asyncio.to_thread(_previous_run, job, manifest.stage_dir)
            rc = found[0] if found is not None else None
        return rc if rc is not None else 137  # the wrapper vanished without job.rc: killed

    async def _stage_in_and_run(self, job: Job, manifest: Manifest, devnull: int | None) -> int | None:
        """Stage a job in and run its wrapper; its rc (None: cancelled before it was staged in)."""
        files = {"job.script": job.script, "job.wrapper": job.wrapper or ""}
        if job.signature is not None:  # lets a later driver finish this run if this one dies
            files[SIGNATURE] = json.dumps(job.signature)
        loop = asyncio.get_running_loop()
        ahead = self._ahead(job)
        await ahead.acquire()
        waiting = True
        try:
            if self._states.get(job) is JobState.KILLED:
                return None
            context = contextvars.copy_context()  # the run's storage settings (pipework.paths)
            rc = await loop.run_in_executor(self._transfers(), context.run, _stage_in, job, manifest, files)
            async with self._forks(job), self._global or contextlib.nullcontext():
                ahead.release()
                waiting = False
                if rc == 0 and self._states.get(job) is JobState.KILLED:
                    rc = 143  # cancelled after staging in, before it started: job.rc must not say 0
                    with contextlib.suppress(OSError):
                        note(manifest.stage_dir, "cancelled before it started")
                elif rc == 0:
                    self._states[job] = JobState.RUNNING
                    self.notify(job)
                    child = await Child.start(
                        ["bash", os.path.join(manifest.stage_dir, "job.wrapper")],
                        devnull=devnull,
                        env=self.job_env,
                    )
                    self._procs[job] = child
                    code = await child.wait()
                    self._procs.pop(job, None)
                    rc = code if code >= 0 else 128 - code
        finally:
            if waiting:
                ahead.release()
        return rc

    def _ahead(self, job: Job) -> asyncio.Semaphore:
        """Jobs of a process staged in while waiting for a running slot (as many as its ``forks``)."""
        return _per_process(self._staging, job)

    def known_rc(self, job: Job) -> int | None:
        """The rc of a job this driver staged out itself (it wrote that ``job.rc``)."""
        return self._rcs.get(job)

    def uploaded_outputs(self, job: Job) -> list[str] | None:
        """The outputs this driver uploaded itself for a staged job (they exist: no request to check)."""
        return self._uploaded.pop(job, None)

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        """States from the driver's own process table (no system call, except for adopted jobs)."""
        out: dict[Job, JobState] = {}
        for job in jobs:
            if job in self._adopted:
                if _is_alive(self._adopted[job], job):
                    out[job] = JobState.RUNNING
                continue
            if job in self._states:
                out[job] = self._states[job]
            else:
                # a job of a previous driver, seen by reattach(): adopt it while its wrapper lives
                pid = _read_pid(job)
                if pid is not None and _is_alive(pid, job):
                    self._adopted[job] = pid
                    out[job] = JobState.RUNNING
        return out

    async def kill(self, jobs: Sequence[Job]) -> None:
        """SIGTERM each job's process group, then SIGKILL what is left after ``kill_grace`` seconds."""
        groups: list[int] = []
        for job in jobs:
            self._states[job] = JobState.KILLED
            proc = self._procs.get(job)
            pid = proc.pid if proc is not None else self._adopted.get(job)
            if pid is not None:
                groups.append(pid)
            task = self._tasks.get(job)
            if task is not None and proc is None and not task.done():
                task.cancel()
        for pid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGTERM)
        deadline = asyncio.get_running_loop().time() + self.settings.kill_grace
        while groups and asyncio.get_running_loop().time() < deadline:
            groups = [pid for pid in groups if group_alive(pid)]
            if groups:
                await asyncio.sleep(0.05)
        for pid in groups:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, signal.SIGKILL)
        self.notify(*jobs)

    async def close(self, *, kill: bool = True) -> None:
        """Stop polling, kill what is still running, and reap the subprocesses."""
        await super().close(kill=kill)
        for task in self._tasks.values():
            if not task.done():
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        if self._null is not None and self._null >= 0:
            os.close(self._null)
        self._null = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _per_process(semaphores: dict[str, asyncio.Semaphore], job: Job) -> asyncio.Semaphore:
    """The semaphore of a job's process in ``semaphores``, made with ``forks`` slots on first use."""
    sem = semaphores.get(job.proc)
    if sem is None:
        sem = semaphores[job.proc] = asyncio.Semaphore(job.spec.forks or os.cpu_count() or 1)
    return sem


def _stage_in(job: Job, manifest: Manifest, files: dict[str, str]) -> int:
    """Stage a job in from memory; on a bucket, publish its rendered script to its job dir first."""
    if paths.is_cloud(job.dir):
        try:
            paths.write_text(job.path("job.script"), job.script)
        except StorageError as exc:
            note(manifest.stage_dir, f"writing job.script failed: {exc}")
            return 1
    rc = stage_in(job.dir, manifest, files=files)
    if rc == 0 and SIGNATURE in files:
        with open(os.path.join(manifest.stage_dir, SIGNATURE), "w") as fh:
            fh.write(files[SIGNATURE])
    return rc


#: The signature a staged job was run for, kept in its local stage dir.
SIGNATURE = "job.signature.json"


def _previous_run(job: Job, stage_dir: str) -> tuple[int | None, int | None] | None:
    """What a previous driver left of this job in its stage dir: ``(rc, None)`` when it ended, ``(None,
    pid)`` while its wrapper runs; None when nothing is there for this job's signature."""
    try:
        with open(os.path.join(stage_dir, SIGNATURE)) as fh:
            if job.signature is None or json.loads(fh.read()) != job.signature:
                return None
        with open(os.path.join(stage_dir, "job.rc")) as fh:
            rc = parse_rc(fh.read())
    except FileNotFoundError:
        rc = None
    except (OSError, ValueError):
        return None
    if rc is not None:
        return rc, None
    try:
        with open(os.path.join(stage_dir, "job.pid")) as fh:
            pid = int(fh.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            alive = os.path.join(stage_dir, "job.wrapper").encode() in fh.read()
    except (OSError, ValueError):
        return None
    return (None, pid) if alive else None


def _read_pid(job: Job) -> int | None:
    try:
        with open(job.path("job.pid")) as fh:
            text = fh.read()
    except OSError:
        return None
    return int(text) if text.endswith("\n") and text.strip().isdigit() else None


def _is_alive(pid: int, job: Job) -> bool:
    """True when ``pid`` is alive and is this job's wrapper (not a recycled pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return False
    return job.path("job.wrapper").encode() in cmdline


