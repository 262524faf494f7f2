"""Running one process: the per-process loop of the data path (DESIGN §2) and its retries.

:meth:`ProcRunner.execute` reads like the data path: input channel -> jobs (placed and rendered) ->
export targets -> job dirs prepared and the cache checked -> submit -> wait -> verify outputs and write
signatures -> retry or fail -> export. Each step is a call into the module named after it (``job``,
``export``, ``jobdir``, ``cache``, the scheduler); blocking file work runs in worker threads, batched.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import attempts, export, jobdir, paths
from .cache import SignatureBook
from .channel import Channel
from .errors import JobFailed, StorageError
from .job import Job, JobBuilder, input_channel
from .schedulers.base import JobEvent, Scheduler
from .spec import ProcSpec
from .state import JobState

if TYPE_CHECKING:
    from .plan import Expansion
    from .run import RunContext

__all__ = ["ProcResult", "ProcRunner"]


@dataclass
class ProcResult:
    """What one process produced in a run.

    Attributes:
        name: The process name.
        channel: Its output channel (one row per successful or cached job).
        jobs: Its jobs.
        seconds: Wall time from its start to its end.
        failures: Failed jobs that were ignored (``error_strategy = "ignore"``).
    """

    name: str
    channel: Channel
    jobs: list[Job]
    seconds: float = 0.0
    failures: list[JobFailed] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Number of jobs in each final state."""
        return dict(Counter(job.state.value for job in self.jobs))


class ProcRunner:
    """Runs the jobs of one process in one run.

    Args:
        spec: The process.
        run: The run it belongs to (schedulers, progress, hooks, halt signal).
        builder: The builder of its jobs.
        planned: Its jobs as expanded before the run (:func:`pipework.plan.expand`): used when its
            actual input channel is the one predicted (it differs when an upstream failure was
            ignored, or its ``input_data`` reads upstream files).
    """

    def __init__(
        self, spec: ProcSpec, run: RunContext, builder: JobBuilder, *, planned: Expansion | None = None
    ) -> None:
        self.spec = spec
        self.run = run
        self.planned = planned
        self.builder = builder
        self.dir = self.builder.proc_dir
        self._shown: dict[Job, JobState] = {}
        self._warned: set[str] = set()
        self._started: float | None = None
        #: Its jobs, once made.
        self.jobs: list[Job] = []
        #: The failures that stopped it (halt): every job that failed in the batch that stopped it.
        self.failures: list[JobFailed] = []
        self._book = SignatureBook(self.dir, proc=spec.name) if paths.is_cloud(self.dir) else None

    async def execute(self, upstream: Sequence[Channel]) -> ProcResult:
        """Run the process to the end and return its result.

        Raises:
            JobFailed: When a job fails and the strategy is ``halt`` (or retries ran out).
            PipeworkError: For invalid input data, templates or storage errors.
        """
        self._started = started = time.monotonic()
        spec = self.spec
        channel = input_channel(spec, upstream)
        planned = self.planned
        # the planned jobs, when the input is the one predicted: their inputs were checked then
        checked = planned is not None and planned.channel is not None and planned.channel == channel
        jobs = planned.jobs if checked and planned is not None else self.builder.make_jobs(channel)
        self.jobs = jobs
        targets = export.targets(spec, jobs, self.run.outdir)
        self.run.progress.proc_start(spec.name, len(jobs))
        await self.run.hook("on_proc_start", proc=spec.name, njobs=len(jobs))
        found = await asyncio.to_thread(
            jobdir.prepare, jobs, spec.cache, check=not checked, moves=self.run.moves
        )
        if self.run.recorder is not None:  # its jobs, their cache decisions and signatures
            self.run.recorder.proc_started(spec, jobs, targets)
        cached = [j for j in jobs if j.state is JobState.CACHED]
        for job in cached:
            self._show(job, JobState.CACHED)
        if self._book is not None:
            await self._book.start(jobs, changed=bool(found.moved or found.resign))
        try:
            failures = await self._run_jobs([j for j in jobs if j.state is not JobState.CACHED])
        except BaseException:
            if self._book is not None:  # keep what finished cached, without hiding why the process stopped
                await self._book.flush(quiet=True)
            raise  # the pipeline kills what runs, then calls stopped(): the store gets the final states
        self._record("done", started)
        if self._book is not None:
            await self._book.flush()
        ok = {j for j in jobs if j.state in (JobState.DONE, JobState.CACHED)}
        if targets:
            try:
                await asyncio.to_thread(export.export, export.pairs(targets, ok))
            except StorageError as exc:
                raise exc.within(proc=spec.name, doing="exporting its outputs failed") from exc
        outputs = [o.name for o in spec.outputs]
        result = ProcResult(
            name=spec.name,
            channel=Channel(outputs, [[j.outputs[o] for o in outputs] for j in jobs if j in ok]),
            jobs=jobs,
            seconds=time.monotonic() - started,
            failures=failures,
        )
        self.run.progress.proc_done(spec.name)
        await self.run.hook("on_proc_done", proc=spec.name, counts=result.counts)
        return result

    async def _run_jobs(self, todo: list[Job]) -> list[JobFailed]:
        """Submit the jobs (adopting those a previous driver left running), wait, retry; return the
        failures that were ignored.

        Raises:
            JobFailed: For a failure the strategy does not ignore or retry.
        """
        if not todo:
            return []
        scheduler = await self.run.scheduler_for(self.spec)
        queue: asyncio.Queue[JobEvent] = asyncio.Queue()
        await self._adopt_or_submit(scheduler, todo, queue)
        remaining = len(todo)
        ignored: list[JobFailed] = []
        while remaining:
            finals = await self._next_finals(queue)
            if not finals:
                continue
            notes: list[str] = []
            outcomes = await asyncio.to_thread(self._finish, finals, scheduler, notes)
            for note in notes:
                self._warn_once(note)
            if self._book is not None:
                await self._book.add([j for j, f in outcomes if f is None])
            retry: list[tuple[Job, JobFailed]] = []
            for job, failure in outcomes:
                if failure is not None and self.run.recorder is not None:
                    self.run.recorder.job_failed(job, failure)
                self._show(job, job.state)
                await self.run.hook(
                    "on_job_done", proc=self.spec.name, index=job.index, state=job.state.value, rc=job.rc
                )
                if failure is not None and self._retries(job, failure):
                    retry.append((job, failure))
                    continue
                remaining -= 1
                if failure is None:
                    continue
                if self.spec.error_strategy != "ignore":
                    self.failures.append(failure)  # every failure of this batch is reported
                    continue
                ignored.append(failure)
                self.run.warn(f"{failure} (ignored)")
            if self.failures:
                raise self.failures[0]
            if retry:
                await self._resubmit(scheduler, retry, queue)
        return ignored

    async def _resubmit(
        self, scheduler: Scheduler[Any], retry: list[tuple[Job, JobFailed]], queue: asyncio.Queue[JobEvent]
    ) -> None:
        """Submit failed jobs again (what they ask for is evaluated for the new attempt), keeping the
        logs of the attempt that failed; warn of each, naming why it failed and what grew."""
        jobs = [job for job, _ in retry]
        before = {job: job.resources or self.spec.resources for job in jobs}
        kinds = {job: job.failure_kind or "exit" for job in jobs}
        await asyncio.to_thread(jobdir.clean, jobs, keep_logs=True)
        await self._submit(scheduler, jobs, queue)
        for job, failure in retry:
            n = job.attempts - 1  # the attempt that failed
            self.run.warn(
                f"{_without_hint(failure)} -- {kinds[job]}: attempt {n} of {self.spec.num_retries + 1}, "
                f"retrying{attempts.growth(job, before[job])}; "
                f"its output of that attempt: job.stdout.{n}, job.stderr.{n}"
            )

    async def stopped(self) -> None:
        """The run stopped before this process ended, and its schedulers killed what ran: its jobs that
        never reached a scheduler, or were still queued, are NOT_RUN, the others keep their final state;
        shown and recorded in the run store. A process that never started has all its planned jobs
        NOT_RUN."""
        if self._started is None:
            self.jobs = self.planned.jobs if self.planned is not None else []
        for job in self.jobs:
            if job.state is JobState.PENDING or job.state is JobState.QUEUED:
                job.state = JobState.NOT_RUN
            elif job.state is JobState.RUNNING:
                job.state = JobState.KILLED
            if self._started is not None:
                self._show(job, job.state)
        if self._started is None:
            self.run.progress.proc_not_run(self.spec.name, len(self.jobs))
        else:
            self.run.progress.proc_stopped(self.spec.name)
        self._record("stopped" if self._started is not None else "not run", self._started or time.monotonic())

    def _warn_once(self, note: str) -> None:
        """Warn of a job that wrote into its input: once per process and input."""
        key = note.split("] ", 1)[-1].split(":", 1)[0]
        if key not in self._warned:
            self._warned.add(key)
            self.run.warn(note)

    def _retries(self, job: Job, failure: JobFailed) -> bool:
        """Whether a failed job is submitted again: the strategy is ``retry``, attempts are left, and
        why it failed is one of ``retry_on`` (when set; a job whose kind is not is said so)."""
        spec = self.spec
        if spec.error_strategy != "retry" or job.attempts > spec.num_retries or self.run.halting:
            return False
        kind = job.failure_kind or "exit"
        if spec.retry_on is None or kind in spec.retry_on:
            return True
        self.run.warn(
            f"{_without_hint(failure)} -- {kind}: not retried, retry_on is {', '.join(sorted(spec.retry_on))}"
        )
        return False

    async def _adopt_or_submit(
        self, scheduler: Scheduler[Any], todo: list[Job], queue: asyncio.Queue[JobEvent]
    ) -> None:
        """Adopt the jobs a previous driver may still be running; submit the others."""
        waiting = [j for j in todo if j.maybe_running]
        adopted = set(await scheduler.reattach(waiting, queue)) if waiting else set()
        gone = [j for j in waiting if j not in adopted]
        if gone:
            await asyncio.to_thread(jobdir.clean, gone)
        for job in adopted:
            self._show(job, job.state)
        await self._submit(scheduler, [j for j in todo if j not in adopted], queue)

    async def _next_finals(self, queue: asyncio.Queue[JobEvent]) -> list[Job]:
        """Wait for the scheduler's next events; show the changes, return the jobs that ended.

        Raises:
            BaseException: An error the scheduler's poll loop reported.
        """
        batch = [await queue.get()]
        while not queue.empty():
            batch.append(queue.get_nowait())
        finals: list[Job] = []
        for item in batch:
            if isinstance(item, BaseException):
                raise item
            job, state = item
            if state.is_final:
                finals.append(job)
            else:
                self._show(job, state)
        return finals

    async def _submit(
        self, scheduler: Scheduler[Any], jobs: list[Job], queue: asyncio.Queue[JobEvent]
    ) -> None:
        if not jobs:
            return
        queued = time.time()
        await scheduler.dispatch(jobs, queue)
        if self.run.recorder is not None:
            self.run.recorder.submitted(jobs, queued=queued)
        for job in jobs:
            self._show(job, JobState.QUEUED)
            await self.run.hook("on_job_submitted", proc=self.spec.name, index=job.index, jid=job.jid)

    def _show(self, job: Job, state: JobState) -> None:
        old = self._shown.get(job, JobState.PENDING)
        if old is not state:
            self._shown[job] = state
            self.run.progress.job_state(self.spec.name, old, state)
            if self.run.recorder is not None:
                self.run.recorder.job_state(job, state)

    def _finish(
        self, finals: list[Job], scheduler: Scheduler[Any], notes: list[str]
    ) -> list[tuple[Job, JobFailed | None]]:
        """Verify the jobs that ended and take what their wrappers measured (blocking: a worker thread)."""
        outcomes = jobdir.finish(finals, scheduler.uploaded_outputs, notes=notes)
        if self.run.recorder is not None:
            self.run.recorder.measure(finals)
        return outcomes

    def _record(self, state: str, started: float) -> None:
        """Record how the process ended in the run store (written within a second)."""
        if self.run.recorder is not None:
            counts = Counter(job.state.value for job in self.jobs)
            seconds = time.monotonic() - started
            self.run.recorder.proc_ended(self.spec.name, state=state, seconds=seconds, counts=counts,
                                         njobs=len(self.jobs))  # fmt: skip


def _without_hint(failure: JobFailed) -> str:
    """``[Proc job N] what happened``: a failure without its hint (a retry warning says what follows)."""
    return str(failure).removesuffix(f" -- {failure.hint}") if failure.hint else str(failure)
