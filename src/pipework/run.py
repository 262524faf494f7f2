"""The objects of one run: its context (schedulers, hooks, display, lock) and its result.

Everything a run needs is built fresh for that run, so two runs in one interpreter never share state.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import paths
from .channel import Channel
from .config import RunConfig, build_scheduler_settings
from .errors import JobFailed, PipeworkError
from .plugins import PluginManager
from .progress import Progress
from .schedulers import Scheduler, get_scheduler_class
from .spec import ProcSpec, scheduler_opts

if TYPE_CHECKING:
    from .store import Recorder, RunStore

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
        #: Writes the run to the run store as it happens (None: ``store = "none"``).
        self.recorder: Recorder | None = None
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

    async def open_store(
        self,
        specs: Sequence[ProcSpec],
        njobs: Mapping[str, int | None],
        *,
        source: str | None,
        profile: str | None,
    ) -> None:
        """Record the run's start in the run store, before any job starts, and start recording.

        Args:
            specs: The run's processes, in order.
            njobs: Each process's planned number of jobs (None: known once its upstream ran).
            source: The pipeline's ``FILE:Class``, when known.
            profile: The profile applied, if any.

        Raises:
            StoreUnreachable: When the store cannot be opened: the run fails before anything runs.
        """
        from .store import Recorder, RunStore, store_url  # here: ``import pipework`` stays cheap

        if store_url(self.config.store) is None:  # store = "none": nothing is recorded
            return
        store = RunStore(self.config.store)
        schedulers = ",".join(sorted({spec.scheduler for spec in specs}))
        file = source.rsplit(":", 1)[0] if source else None
        self.run_id = await asyncio.to_thread(
            _start_run, store, pipeline=self.name, workdir=self.pipeline_dir, outdir=self.outdir,
            scheduler=schedulers, source=source, file=file, profile=profile,
        )  # fmt: skip
        loop = asyncio.get_running_loop()

        def warn(message: str) -> None:  # from the recorder's thread
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing left to show it
                loop.call_soon_threadsafe(self.warn, message)

        self.recorder = Recorder(store.backend(), self.run_id, warn=warn)
        self.recorder.procs_planned(specs, njobs)
        self.recorder.start()

    async def close_store(self, *, state: str) -> None:
        """Write what is left to the run store and how the run ended (``done``, ``failed``,
        ``interrupted``)."""
        if self.recorder is not None:
            recorder, self.recorder = self.recorder, None
            await asyncio.to_thread(recorder.close, state=state)

    def warn(self, message: str) -> None:
        """Show a warning in the display."""
        self.progress.warn(message)

    async def close(self, *, kill: bool) -> None:
        """Stop every scheduler, cancelling its active jobs when ``kill``."""
        for sched in self._schedulers.values():
            with contextlib.suppress(PipeworkError, OSError):
                await sched.close(kill=kill)


def _start_run(store: RunStore, *, file: str | None, **columns: Any) -> int:
    """Record a run's start with where it runs from (blocking: reads the pipeline's git checkout)."""
    from ._version import __version__
    from .store.meta import git_commit, user_name

    return store.start_run(
        **columns,
        project=os.getcwd(),
        username=user_name(),
        version=__version__,
        git_commit=git_commit(file) if file else None,
    )
