"""The local scheduler: jobs run as subprocesses of the driver, ``forks`` at a time per process.

Every job runs its wrapper with ``bash`` in a session of its own, so a kill reaches the whole process
tree of the job. The scheduler learns of an exit at once (no polling delay) and wakes the base's loop.
A driver that was killed leaves its jobs running; the next driver adopts them by the pid the wrapper
wrote to ``job.pid`` (the local scheduler writes no ``job.jid``).
"""

from __future__ import annotations

import asyncio
import collections
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
from .base import Scheduler
from .process import (
    SIGNATURE,
    Child,
    SpawnEnv,
    group_alive,
    pidfd_works,
    previous_run,
    read_pid,
    runs_wrapper,
    spawn_env,
    wait_exit,
)

__all__ = ["LocalScheduler", "LocalSettings"]

#: Threads that stage jobs in and out (network-bound: more than the CPU count).
TRANSFER_THREADS = 8


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
        #: The tasks of the jobs started and not ended: at most a few per process (see _Lane).
        self._tasks: dict[Job, asyncio.Task[None]] = {}
        self._lanes: dict[str, _Lane] = {}
        self._closing = False
        self._adopted: dict[Job, int] = {}
        self._rcs: dict[Job, int] = {}
        self._uploaded: dict[Job, list[str]] = {}
        self._null: int | None = None
        self._env: SpawnEnv = {}
        self._pool: concurrent.futures.ThreadPoolExecutor | None = None
        cap = self.settings.max_jobs
        self._global = asyncio.Semaphore(cap) if cap and cap > 0 else None

    def _transfers(self) -> concurrent.futures.ThreadPoolExecutor:
        """Threads for staging jobs in and out (network-bound: more than the CPU count)."""
        if self._pool is None:
            self._pool = concurrent.futures.ThreadPoolExecutor(
                TRANSFER_THREADS, thread_name_prefix="pipework-stage"
            )
        return self._pool

    def _devnull(self) -> int | None:
        """A descriptor of /dev/null for the jobs' standard streams, or None to use asyncio's spawning."""
        if self._null is None:
            self._null = os.open(os.devnull, os.O_RDWR) if pidfd_works() else -1
        return self._null if self._null >= 0 else None

    async def submit(self, jobs: Sequence[Job]) -> None:
        """Queue the jobs; each starts when its process and the run have a free slot."""
        self._env = spawn_env(self.job_env)  # the environment as it is now, encoded once for the jobs
        lanes: dict[str, _Lane] = {}
        for job in jobs:
            # the wrapper writes its pid to job.pid, which lets a restarted driver adopt the job
            job.jid = job.name  # pw-<run>-<proc>-<index>, made once by the engine
            self._rcs.pop(job, None)
            self._uploaded.pop(job, None)
            self._states[job] = JobState.QUEUED
            job.exit_status = job.cpu_seconds = job.peak_rss = None  # of the attempt to come
            lane = lanes.get(job.proc) or lanes.setdefault(job.proc, self._lane(job))
            lane.add(job)
        for lane in lanes.values():
            self._start(lane)

    def _lane(self, job: Job) -> _Lane:
        """The queue of a job's process, made on first use."""
        lane = self._lanes.get(job.proc)
        if lane is None:
            lane = self._lanes[job.proc] = _Lane(forks=job.spec.forks or os.cpu_count() or 1)
        return lane

    def _start(self, lane: _Lane) -> None:
        """Start a task for each waiting job of a process while the process has room for one.

        A job has a task only from when it may start (its slot is free, or it may stage in ahead) to
        when it ends, so a process of 100,000 jobs holds a few tasks, not 100,000. A job cancelled while
        it waited is skipped; so is a second entry of a job submitted again after a cancel.
        """
        while not self._closing and lane.waiting and lane.live < lane.limit:
            job = lane.waiting.popleft()
            if self._states.get(job) is not JobState.QUEUED or job in self._tasks:
                continue
            lane.live += 1
            task = asyncio.create_task(self._run(job), name=f"pipework-{job.name}")
            self._tasks[job] = task
            task.add_done_callback(functools.partial(self._ended, job, lane))

    def _ended(self, job: Job, lane: _Lane, task: asyncio.Task[None]) -> None:
        """A job's task ended: forget it, and start the next job of its process."""
        lane.live -= 1
        if self._tasks.get(job) is task:
            del self._tasks[job]
        if not task.cancelled() and (exc := task.exception()) is not None:
            # not expected (_run handles what a job can raise): fail the job rather than lose it
            job.native_state = f"the driver failed to run it: {type(exc).__name__}: {exc}"
            if self._states.get(job) is not JobState.KILLED:
                self._states[job] = JobState.FAILED
            self.notify(job)
        self._start(lane)

    async def _run(self, job: Job) -> None:
        if job.layout.access is Access.STAGED:
            await self._run_staged(job, job.layout.manifest(), self._devnull())
            return
        async with self._lane(job).slots, self._global or contextlib.nullcontext():
            if self._states.get(job) is JobState.KILLED:
                return
            devnull = self._devnull()
            argv = launch_argv(job)
            try:
                child = await Child.start(argv, devnull=devnull, env=self._env)
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
            _measured(job, child, rc)
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
        found = await asyncio.to_thread(previous_run, manifest.stage_dir, job.signature)
        if found is None:
            return None
        rc, pid = found
        if pid is not None:
            self._states[job] = JobState.RUNNING
            self.notify(job)
            await wait_exit(pid)
            found = await asyncio.to_thread(previous_run, manifest.stage_dir, job.signature)
            rc = found[0] if found is not None else None
        return rc if rc is not None else 137  # the wrapper vanished without job.rc: killed

    async def _stage_in_and_run(self, job: Job, manifest: Manifest, devnull: int | None) -> int | None:
        """Stage a job in and run its wrapper; its rc (None: cancelled before it was staged in)."""
        files = {"job.script": job.script, "job.wrapper": job.wrapper or ""}
        if job.signature is not None:  # lets a later driver finish this run if this one dies
            files[SIGNATURE] = json.dumps(job.signature)
        loop = asyncio.get_running_loop()
        lane = self._lane(job)
        ahead = lane.ahead
        await ahead.acquire()
        waiting = True
        try:
            if self._states.get(job) is JobState.KILLED:
                return None
            context = contextvars.copy_context()  # the run's storage settings (pipework.paths)
            rc = await loop.run_in_executor(self._transfers(), context.run, _stage_in, job, manifest, files)
            async with lane.slots, self._global or contextlib.nullcontext():
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
                        env=self._env,
                    )
                    self._procs[job] = child
                    code = await child.wait()
                    self._procs.pop(job, None)
                    _measured(job, child, code)
                    rc = code if code >= 0 else 128 - code
        finally:
            if waiting:
                ahead.release()
        return rc

    def known_rc(self, job: Job) -> int | None:
        """The rc of a job this driver staged out itself (it wrote that ``job.rc``); given once, when
        the job is reported final."""
        return self._rcs.pop(job, None)

    def uploaded_outputs(self, job: Job) -> list[str] | None:
        """The outputs this driver uploaded itself for a staged job (they exist: no request to check)."""
        return self._uploaded.pop(job, None)

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        """States from the driver's own process table (no system call, except for adopted jobs).

        A final state is reported once and then forgotten (the base stops asking about a job once it
        is final), so the driver holds nothing per finished job.
        """
        out: dict[Job, JobState] = {}
        for job in jobs:
            if job in self._adopted:
                if runs_wrapper(self._adopted[job], job.path("job.wrapper")):
                    out[job] = JobState.RUNNING
                else:
                    del self._adopted[job]  # left out: the base reads its job.rc
                continue
            state = self._states.get(job)
            if state is not None:
                out[job] = state
                if state.is_final:
                    del self._states[job]
            else:
                # a job of a previous driver, seen by reattach(): adopt it while its wrapper lives
                pid = read_pid(job.path("job.pid"))
                if pid is not None and runs_wrapper(pid, job.path("job.wrapper")):
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
        self._closing = True  # no waiting job starts from now on
        await super().close(kill=kill)
        for task in self._tasks.values():
            if not task.done():
                task.cancel()
        with contextlib.suppress(Exception):
            await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()
        self._lanes.clear()
        if self._null is not None and self._null >= 0:
            os.close(self._null)
        self._null = None
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class _Lane:
    """One process's share of the scheduler: its jobs waiting for a task, how many have one now, its
    running slots (its ``forks``) and the slots of jobs staged in ahead (as many).

    A process's jobs get tasks up to its ``forks`` (each then finds its running slot free); once a
    staged job is queued, up to ``2 * forks + TRANSFER_THREADS``: ``forks`` jobs staged in ahead,
    ``forks`` running and the transfers of those staging out.
    """

    __slots__ = ("ahead", "forks", "limit", "live", "slots", "waiting")

    def __init__(self, *, forks: int) -> None:
        self.forks = self.limit = forks
        self.live = 0
        self.waiting: collections.deque[Job] = collections.deque()
        self.slots = asyncio.Semaphore(forks)
        self.ahead = asyncio.Semaphore(forks)

    def add(self, job: Job) -> None:
        """Queue a job (FIFO: the jobs of a process start in the order they were submitted)."""
        if job.layout.access is Access.STAGED:
            self.limit = 2 * self.forks + TRANSFER_THREADS
        self.waiting.append(job)


def _measured(job: Job, child: Child, status: int) -> None:
    """What the driver saw of a job's wrapper as it ended: its exit status and its rusage."""
    job.exit_status = status
    job.cpu_seconds = child.cpu_seconds
    job.peak_rss = child.peak_rss


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
