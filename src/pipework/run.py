"""The objects of one run: its context (schedulers, hooks, display, lock) and its result.

Everything a run needs is built fresh for that run, so two runs in one interpreter never share state.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from dataclasses import dataclass, field
from typing import Any

from . import paths
from .channel import Channel
from .config import RunConfig, build_scheduler_settings
from .errors import JobFailed, PipeworkError, StorageError
from .plugins import PluginManager
from .progress import Progress
from .schedulers import Scheduler, get_scheduler_class
from .spec import ProcSpec, scheduler_opts
from .store import RunStore

__all__ = ["RunContext", "RunResult", "run_tag"]


def run_tag(workdir: str, pipeline: str) -> str:
    """A short tag that is the same for every run of one pipeline in one workdir (8 hex digits)."""
    return hashlib.sha1(f"{paths.resolve(workdir)}|{pipeline}".encode()).hexdigest()[:8]


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
        pipeline: The pipeline name.
        workdir: The pipeline's directory in the workdir.
        outdir: Where outputs were exported.
        channels: Each process's output channel.
        counts: For each process, the number of jobs in each final state.
        timings: For each process, its wall time in seconds.
        seconds: The run's wall time in seconds.
        failures: Failures that were ignored (``error_strategy = "ignore"``) or that ended the run.
    """

    pipeline: str
    workdir: str
    outdir: str
    channels: dict[str, Channel] = field(default_factory=dict)
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0
    failures: list[JobFailed] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when no job failed (ignored failures count as failures here)."""
        return not self.failures

    def output(self, proc: str) -> Channel:
        """The output channel of a process.

        Raises:
            KeyError: If the process did not run in this run.
        """
        return self.channels[proc]


class RunContext:
    """What the processes of one run share: schedulers, templates, hooks, display, halt signal.

    Args:
        name: The pipeline name.
        config: The resolved run configuration.
        outdir: The export directory.
        progress: The display.
        plugins: The run's plugin manager.
    """

    def __init__(
        self,
        *,
        name: str,
        config: RunConfig,
        outdir: str,
        progress: Progress,
        plugins: PluginManager,
    ) -> None:
        self.name = name
        self.config = config
        self.pipeline_dir = paths.join(paths.resolve(config.workdir), name)
        self.outdir = paths.resolve(outdir)
        self.tag = run_tag(config.workdir, name)
        self.progress = progress
        self.plugins = plugins
        self.halting = False
        self.store: RunStore | None = None
        self.run_id: int | None = None
        self._schedulers: dict[str, Scheduler[Any]] = {}
        #: For each process, the rows that moved in this run (previous index -> this run's).
        self.moves: dict[str, dict[int, int]] = {}

    async def scheduler_for(self, spec: ProcSpec) -> Scheduler[Any]:
        """The scheduler of a process: one instance per scheduler name for the whole run, with the
        run-wide settings of that scheduler (see :func:`pipework.spec.scheduler_opts`).

        Raises:
            ConfigError: For an unknown scheduler or invalid ``scheduler_opts``.
        """
        sched = self._schedulers.get(spec.scheduler)
        if sched is None:
            cls = get_scheduler_class(spec.scheduler)
            settings = build_scheduler_settings(cls, scheduler_opts(self.config, spec.scheduler))
            sched = cls(settings, run_tag=self.tag, env=self.config.env)
            self._schedulers[spec.scheduler] = sched
        return sched

    async def hook(self, name: str, **kwargs: Any) -> None:
        """Call a plugin hook (a no-op when no plugin is registered)."""
        if self.plugins.has_hooks(name):
            await self.plugins.call(name, **kwargs)

    async def open_store(self, scheduler: str) -> None:
        """Record the run in the run store (a store that cannot be written is reported, not fatal)."""
        store = RunStore(self.config.store)
        try:
            self.run_id = await asyncio.to_thread(
                store.start_run,
                pipeline=self.name,
                workdir=self.pipeline_dir,
                outdir=self.outdir,
                scheduler=scheduler,
            )
        except StorageError as exc:
            self.warn(f"the run is not recorded: {exc}")
            return
        self.store = store

    async def record(self, call: Any, *args: Any, **kwargs: Any) -> None:
        """Write to the run store in a worker thread; on failure warn once and stop recording."""
        if self.store is None or self.run_id is None:
            return
        try:
            await asyncio.to_thread(call, self.run_id, *args, **kwargs)
        except StorageError as exc:
            self.warn(f"the run store stopped recording: {exc}")
            self.store = None

    def warn(self, message: str) -> None:
        """Show a warning in the display."""
        self.progress.warn(message)

    async def close(self, *, kill: bool) -> None:
        """Stop every scheduler, cancelling its active jobs when ``kill``."""
        for sched in self._schedulers.values():
            with contextlib.suppress(PipeworkError, OSError):
                await sched.close(kill=kill)
