"""The scheduler plugin base: a plugin fills in three methods, the base owns everything else.

A scheduler implements :meth:`Scheduler.submit`, :meth:`Scheduler.statuses` (ONE query for all the
run's active jobs) and :meth:`Scheduler.kill`. The base owns the poll loop and its adaptive interval,
retries of transient errors, ``job.jid`` files, confirming completion from ``job.rc``, detecting lost
jobs, reattaching to jobs of a previous driver, and killing what is left when a run stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar

from .. import attempts, paths
from ..errors import SchedulerError
from ..job import Job
from ..layout import FileAccess
from ..state import JobState
from ..wrapper import parse_rc

__all__ = ["FileAccess", "JobEvent", "NoSettings", "Scheduler"]

T = TypeVar("T")
#: The type of a scheduler's settings (its ``Settings`` dataclass).
SettingsT = TypeVar("SettingsT")

#: What the base puts on a process's queue: a job and its new state, or an error that ends the run.
JobEvent = tuple[Job, JobState] | BaseException


@dataclass(frozen=True, kw_only=True)
class NoSettings:
    """Settings of a scheduler that has none."""


class Scheduler(ABC, Generic[SettingsT]):
    """Base class of every scheduler, built-in or plugin; generic over its settings type.

    Subclasses set :attr:`name` (and :attr:`Settings`, a dataclass of their options whose every field
    has a default and ``metadata={"help": ...}``; one without is rejected when the scheduler is loaded)
    and implement :meth:`submit`, :meth:`statuses` and :meth:`kill`. One instance serves one run::

        class MyScheduler(Scheduler[MySettings]):
            name = "mine"
            Settings = MySettings

    Args:
        settings: An instance of :attr:`Settings` (defaults to ``Settings()``).
        run_tag: A short tag that is the same for every run of one pipeline in one workdir; schedulers
            put it in job names (``pw-<run_tag>-<proc>-<index>``) so one query finds all the run's jobs.
        env: Environment variables the jobs get on top of the driver's (a profile's ``env``).
    """

    #: The name users give in ``scheduler = "..."``.
    name: ClassVar[str]
    #: The dataclass of this scheduler's ``scheduler_opts``.
    Settings: ClassVar[type[Any]] = NoSettings
    #: First and shortest wait between two status queries, in seconds.
    min_poll_interval: float = 1.0
    #: Longest wait between two status queries while nothing finishes, in seconds.
    max_poll_interval: float = 30.0
    #: How long to wait for ``job.rc`` once the scheduler no longer runs a job, in seconds.
    rc_grace: ClassVar[float] = 30.0
    #: How often a transient error is retried before the run fails.
    transient_retries: ClassVar[int] = 5
    #: Whether the base records each job's id in ``job.jid`` at submit, which a restarted driver reads
    #: to reattach. A scheduler that finds its jobs another way (local: the wrapper's ``job.pid``)
    #: turns it off and saves a file per job.
    jid_files: ClassVar[bool] = True
    #: How the scheduler's jobs reach files on a bucket: staged on the node by ``python -m
    #: pipework.stage`` (the default), staged by the driver itself, or mounted (see pipework.layout).
    file_access: ClassVar[FileAccess] = FileAccess()
    #: Whether the scheduler wakes the poll loop itself (:meth:`notify`) when a job changes, rather than
    #: being polled at an interval.
    notifies: ClassVar[bool] = False
    #: Whether the scheduler runs a process's ``container`` (its jobs run inside the image). A process
    #: with a container on a scheduler that cannot is refused before anything runs, never run on the host.
    runs_containers: ClassVar[bool] = False

    def __init__(
        self, settings: SettingsT | None = None, *, run_tag: str = "run", env: Mapping[str, str] | None = None
    ) -> None:
        self.settings: SettingsT = settings if settings is not None else self.Settings()
        self.run_tag = run_tag
        #: The environment of the jobs: the driver's, with ``env`` on top.
        self.job_env: Mapping[str, str] = {**os.environ, **env} if env else os.environ
        self.status_calls = 0
        self._active: dict[Job, asyncio.Queue[JobEvent]] = {}
        self._gone_since: dict[Job, float] = {}
        self._wakeup: asyncio.Event | None = None
        self._changed: set[Job] = set()
        self._cancelled: set[Job] = set()
        self._settings_by_proc: dict[tuple[str, tuple[tuple[str, str], ...]], SettingsT] = {}
        self._poller: asyncio.Task[None] | None = None
        self._interval = self.min_poll_interval

    # -- what a plugin implements ------------------------------------------------------------------
    @abstractmethod
    async def submit(self, jobs: Sequence[Job]) -> None:
        """Submit jobs (all of one process; may be one array) and set each ``job.jid``.

        Raises:
            SchedulerError: ``transient=True`` when the same call may succeed later.
        """

    @abstractmethod
    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        """Return the state of the given active jobs with ONE query to the scheduler.

        Jobs the scheduler no longer knows are left out: the base then confirms them from ``job.rc``.

        Raises:
            SchedulerError: ``transient=True`` when the same call may succeed later.
        """

    @abstractmethod
    async def kill(self, jobs: Sequence[Job]) -> None:
        """Cancel the given jobs (queued or running)."""

    # -- optional --------------------------------------------------------------------------------
    @classmethod
    def check_settings(cls, settings: Any) -> None:
        """Reject settings that cannot work, before anything runs (default: accept).

        Raises:
            ConfigError: Naming the option and the fix.
        """

    async def classify(self, jobs: Sequence[Job]) -> None:
        """Set ``job.failure_kind`` of jobs that failed when the scheduler can tell why (``oom``,
        ``timeout``, ``node_fail``, ``preempted``): with ONE query for all of them, if any.

        Called with the failed jobs whose kind :meth:`statuses` did not set (a scheduler may set
        ``job.failure_kind`` there, from what its status answer says). The default does nothing; the
        base then reads the kind from the wrapper's exit status (:func:`pipework.attempts.exit_kind`).
        """

    def known_rc(self, job: Job) -> int | None:
        """A job's return code when the scheduler knows it for sure (it wrote ``job.rc`` itself);
        None (the default) makes the base read ``job.rc``."""
        return None

    def uploaded_outputs(self, job: Job) -> Collection[str] | None:
        """The output URLs the scheduler uploaded itself for a finished job (they are known to exist,
        so the engine does not ask the bucket); None (the default) makes the engine check them."""
        return None

    def settings_for(self, job: Job) -> SettingsT:
        """The settings of a job: its process's effective ``scheduler_opts`` (see
        :func:`pipework.spec.scheduler_opts`) with what its options given as functions of the job said
        for its current attempt; built once per process and distinct set of options.

        A scheduler's :meth:`submit` uses it so processes can ask for another partition or queue while
        the run keeps one status query for all of them.

        Raises:
            ConfigError: For an option of the wrong type or an unknown one.
        """
        key = (job.proc, attempts.opts_key(job.scheduler_opts))
        cached = self._settings_by_proc.get(key)
        if cached is None:
            from ..config import build_scheduler_settings

            opts = {**job.spec.scheduler_opts, **(job.scheduler_opts or {})}
            cached = build_scheduler_settings(type(self), opts, proc=job.proc) if opts else self.settings
            self._settings_by_proc[key] = cached
        return cached

    def job_name(self, job: Job) -> str:
        """The deterministic name of a job: ``pw-<run_tag>-<proc>-<index>``."""
        return f"pw-{self.run_tag}-{job.proc}-{job.index}"

    async def close(self, *, kill: bool = True) -> None:
        """End the run: stop polling and, with ``kill``, cancel every job still active (a job that was
        running is then KILLED, one still queued NOT_RUN)."""
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._poller
            self._poller = None
        active = list(self._active)
        if kill and active:
            with contextlib.suppress(Exception):  # who is running now: those are killed, the rest never ran
                for job, state in (await self.statuses(active)).items():
                    if state.is_active:
                        job.state = state
            with contextlib.suppress(Exception):
                await self.cancel(active)
            for job in active:
                job.state = JobState.KILLED if job.state is JobState.RUNNING else JobState.NOT_RUN
        self._active.clear()

    async def cancel(self, jobs: Sequence[Job]) -> None:
        """Cancel jobs through :meth:`kill`; a cancelled job that leaves without ``job.rc`` is KILLED."""
        self._cancelled.update(jobs)
        await self.retrying(lambda: self.kill(jobs))
        self.notify(*jobs)

    # -- what the engine calls ---------------------------------------------------------------------
    async def dispatch(self, jobs: Sequence[Job], queue: asyncio.Queue[JobEvent]) -> None:
        """Submit jobs, record their ``job.jid`` and track them; their states arrive on ``queue``.

        What each job asks for is settled first (:func:`pipework.attempts.prepare`: its process's
        resources and options that are functions of the job, for this attempt); jobs that ask for the
        same are submitted together (one array), so :meth:`submit` always gets jobs that ask alike.

        Raises:
            ConfigError: For a resources or scheduler_opts function that raises or returns a bad value
                (nothing is submitted then).
            SchedulerError: If submission fails (after retrying transient errors).
        """
        if not jobs:
            return
        groups = attempts.prepare(jobs, self.settings_for)
        for job in jobs:
            job.attempts += 1
            job.rc = None
            job.state = JobState.QUEUED
        for group in groups:
            await self.retrying(functools.partial(self.submit, group))
            if self.jid_files:
                await asyncio.to_thread(_write_jids, [job for job in group if job.jid])
            self._track(group, queue)

    async def reattach(self, jobs: Sequence[Job], queue: asyncio.Queue[JobEvent]) -> list[Job]:
        """Adopt jobs that a previous driver submitted and that are still queued or running.

        Each job's ``job.jid`` file is read; one status query tells which are still active; those are
        tracked as if submitted now. Returns the adopted jobs; the others must be submitted.
        """
        if not jobs:
            return []
        jids = await asyncio.to_thread(_read_jids, jobs)
        known = list(jobs)  # a job without job.jid may still be known to its scheduler (local: job.pid)
        for job in known:
            job.jid = jids.get(job)
        try:
            states = await self.retrying(lambda: self.statuses(known))
        except SchedulerError:
            return []
        self.status_calls += 1
        adopted = [j for j in known if (s := states.get(j)) is not None and s.is_active]
        for job in adopted:
            job.state = states[job]
            job.attempts += 1
            job.failure_kind = None
        self._track(adopted, queue)
        return adopted

    def notify(self, *jobs: Job) -> None:
        """Wake the poll loop now: a scheduler that learns of a change by itself calls this.

        Args:
            *jobs: The jobs that changed; the loop then asks :meth:`statuses` about these only.
                Without jobs, it asks about all active jobs.
        """
        if jobs:
            self._changed.update(jobs)
        else:
            self._changed.update(self._active)
        if self._wakeup is not None:
            self._wakeup.set()

    async def retrying(self, call: Callable[[], Awaitable[T]]) -> T:
        """Run ``call``, retrying transient :class:`SchedulerError` with exponential backoff."""
        delay = 0.5
        for attempt in range(self.transient_retries + 1):
            try:
                return await call()
            except SchedulerError as exc:
                if not exc.transient or attempt == self.transient_retries:
                    raise
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
        raise AssertionError("unreachable")  # pragma: no cover

    # -- the poll loop -----------------------------------------------------------------------------
    def _track(self, jobs: Sequence[Job], queue: asyncio.Queue[JobEvent]) -> None:
        for job in jobs:
            self._active[job] = queue
        if self._wakeup is None:
            self._wakeup = asyncio.Event()
        self._interval = self.min_poll_interval
        if self._poller is None or self._poller.done():
            self._poller = asyncio.create_task(self._poll_loop(), name=f"pipework-{self.name}-poll")

    async def _poll_loop(self) -> None:
        assert self._wakeup is not None
        try:
            while self._active:
                woken = True
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self._interval)
                except asyncio.TimeoutError:
                    woken = False
                self._wakeup.clear()
                if not self._active:
                    break
                if woken and self._changed:
                    jobs = [job for job in self._changed if job in self._active]
                else:
                    jobs = list(self._active)
                self._changed.clear()
                if not jobs:
                    continue
                finished = await self._poll_once(jobs)
                if finished:
                    self._interval = self.min_poll_interval
                else:
                    self._interval = min(self._interval * 1.5, self.max_poll_interval)
        except asyncio.CancelledError:
            raise
        except BaseException as exc:
            for queue in set(self._active.values()):
                queue.put_nowait(exc)
            self._active.clear()

    async def _poll_once(self, jobs: list[Job]) -> int:
        states = await self.retrying(lambda: self.statuses(jobs))
        self.status_calls += 1
        ended: list[tuple[Job, JobState | None]] = []
        for job in jobs:
            state = states.get(job)
            if state is None or state.is_final:
                ended.append((job, state))
            elif state is not job.state:
                job.state = state
                self._active[job].put_nowait((job, state))
        if not ended:
            return 0
        rcs = {job: rc for job, _ in ended if (rc := self.known_rc(job)) is not None}
        unknown = [job for job, _ in ended if job not in rcs]
        if unknown:
            rcs.update(await asyncio.to_thread(_read_rcs, unknown))
        now = time.monotonic()
        finals: list[tuple[Job, JobState]] = []
        stuck: list[Job] = []  # still listed in a final state, without job.rc: it never ran (SGE Eqw)
        for job, state in ended:
            rc = rcs.get(job)
            if state is JobState.KILLED or (rc is None and job in self._cancelled):
                final = JobState.KILLED
            elif rc is not None:
                job.rc = rc
                final = JobState.DONE if rc == 0 else JobState.FAILED
            elif now - self._gone_since.setdefault(job, now) >= self.rc_grace:
                final = JobState.LOST
                if state is not None:
                    stuck.append(job)
            else:
                continue
            finals.append((job, final))
        if stuck:  # one kill for all, before they are reported, so they do not wait in the queue forever
            with contextlib.suppress(SchedulerError):
                await self.kill(stuck)
        await self._classify([job for job, final in finals if final is not JobState.DONE])
        for job, final in finals:
            self._gone_since.pop(job, None)
            job.state = final
            if final is JobState.DONE:
                job.failure_kind = None  # a status answer may have said otherwise: job.rc is 0
            self._active.pop(job).put_nowait((job, final))
        return len(finals)

    async def _classify(self, failed: Sequence[Job]) -> None:
        """Set why each failed job failed: cancelled by the run, else what the scheduler tells
        (:meth:`statuses`, then :meth:`classify`), else what the wrapper's exit status tells."""
        unknown = []
        for job in failed:
            if job in self._cancelled:
                job.failure_kind = "cancelled"
            elif job.failure_kind is None:
                unknown.append(job)
        if unknown:
            with contextlib.suppress(SchedulerError):
                await self.classify(unknown)
        for job in unknown:
            if job.failure_kind is None:
                job.failure_kind = attempts.exit_kind(job.rc, job.exit_status)


def _write_jids(jobs: Sequence[Job]) -> None:
    for job in jobs:
        paths.atomic_write_text(job.path("job.jid"), f"{job.jid}\n")


def _read_jids(jobs: Sequence[Job]) -> dict[Job, str]:
    out: dict[Job, str] = {}
    for job in jobs:
        try:
            text = paths.read_text(job.path("job.jid")).strip()
        except Exception:
            continue
        if text:
            out[job] = text
    return out


def _read_rcs(jobs: Sequence[Job]) -> dict[Job, int]:
    out: dict[Job, int] = {}
    for job in jobs:
        try:
            rc = parse_rc(paths.read_text(job.path("job.rc")))
        except Exception:
            continue
        if rc is not None:
            out[job] = rc
    return out
