"""``Pipeline``: the class users subclass to declare a pipeline, and its run.

``_run`` reads like the data path of DESIGN §2: resolve the config, build the DAG, then run each process
as soon as its requirements are done (independent branches concurrently), export, and summarise.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import difflib
import signal
import sys
import threading
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from . import dag as dag_mod
from . import paths
from .config import RunConfig, resolve
from .errors import ConfigError, JobFailed, PipelineFailed, StorageError
from .lock import RunLock
from .plugins import PluginManager
from .proc import Proc, class_attributes, unknown_names
from .progress import Progress, make_progress
from .run import RunContext, RunResult
from .spec import ProcSpec, make_spec
from .state import JobState

if TYPE_CHECKING:
    from .job import JobBuilder
    from .plan import Expansion, ProcPlan
    from .runner import ProcResult

__all__ = ["Pipeline"]

MAX_REPORTED_FAILURES = 5


class Pipeline:
    """A pipeline: its start processes and where and how its jobs run.

    Subclass it and set class attributes::

        class Lines(Pipeline):
            starts = Count
            workdir = "./.pipework"
            outdir = "./lines-output"
            forks = 8

        if __name__ == "__main__":
            Lines.main()

    Keyword arguments override everything else for this instance: ``Lines(forks=2).run()``.

    Args:
        quiet: Show nothing but warnings and the failure report.
        progress: A display to use instead of the default one.
        **overrides: Any configuration key (``workdir``, ``outdir``, ``scheduler``, ``forks``, ...),
            ``profile``, ``name``.

    Raises:
        ConfigError: For an unknown keyword.
    """

    starts: ClassVar[type[Proc] | Sequence[type[Proc]] | None] = None
    procs: ClassVar[Sequence[type[Proc]] | None] = None
    name: ClassVar[str | None] = None
    workdir: ClassVar[str | None] = None
    outdir: ClassVar[str | None] = None
    scheduler: ClassVar[str | None] = None
    scheduler_opts: ClassVar[dict[str, Any] | None] = None
    forks: ClassVar[int | None] = None
    cache: ClassVar[bool | str | None] = None
    error_strategy: ClassVar[str | None] = None
    num_retries: ClassVar[int | None] = None
    resources: ClassVar[dict[str, Any] | None] = None
    container: ClassVar[str | None] = None
    profile: ClassVar[str | None] = None
    plugins: ClassVar[list[Any] | None] = None
    store: ClassVar[str | None] = None

    def __init__(self, *, quiet: bool = False, progress: Progress | None = None, **overrides: Any) -> None:
        _check_attributes(type(self))
        allowed = set(RunConfig.field_names()) | {"profile", "name"}
        unknown = set(overrides) - allowed
        if unknown:
            raise ConfigError(
                f"{type(self).__name__}() got unknown setting(s) {sorted(unknown)}",
                hint=f"settings: {', '.join(sorted(allowed))}",
            )
        self._overrides = {k: v for k, v in overrides.items() if k not in ("profile", "name")}
        self._profile = overrides.get("profile") or type(self).profile
        self.pipeline_name: str = overrides.get("name") or type(self).name or type(self).__name__
        if not isinstance(self.pipeline_name, str) or "/" in self.pipeline_name:
            raise ConfigError(
                f"pipeline {type(self).__name__!r} has the name {self.pipeline_name!r}",
                key="name",
                hint="name is a str without '/' (its directory in the workdir), e.g. name = 'lines'",
            )
        self._quiet = quiet
        self._progress = progress
        self.config: RunConfig | None = None
        self.sources: dict[str, str] = {}

    # -- configuration and graph -------------------------------------------------------------------
    def resolve_config(self) -> RunConfig:
        """Combine defaults, profile files, class attributes, environment and overrides.

        Raises:
            ConfigError: For an invalid value, naming its key and source.
        """
        cls = type(self)
        attrs = {key: getattr(cls, key, None) for key in RunConfig.field_names()}
        self.config, self.sources = resolve(attrs=attrs, profile=self._profile, overrides=self._overrides)
        return self.config

    def build_dag(self) -> dag_mod.Dag:
        """Find, validate and order the processes.

        Raises:
            DagError: For a cycle, a missing requirement, a duplicate name or an unknown attribute.
        """
        cls = type(self)
        return dag_mod.build(cls.starts, cls.procs, pipeline=self.pipeline_name, module=cls.__module__)

    def specs(self, config: RunConfig, graph: dag_mod.Dag) -> dict[str, ProcSpec]:
        """The frozen specs of every process, in topological order."""
        ends = set(graph.ends)
        return {p.__name__: make_spec(p, config, is_end=p.__name__ in ends) for p in graph.order}

    @property
    def outdir_path(self) -> str:
        """The export directory of this pipeline (``./<name>-output`` unless set)."""
        assert self.config is not None
        return paths.resolve(self.config.outdir or f"./{self.pipeline_name}-output")

    # -- running -----------------------------------------------------------------------------------
    def run(self) -> RunResult:
        """Run the pipeline and return its result.

        Raises:
            PipelineFailed: When a job failed (the message is the failure report) or the run was
                interrupted.
            PipeworkError: For invalid declarations or configuration (before anything runs).
        """
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(self.run_async())
        # called from inside an event loop (a Jupyter notebook): run on a loop of its own in a thread
        with concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="pipework") as pool:
            return pool.submit(asyncio.run, self.run_async()).result()

    async def run_async(self) -> RunResult:
        """Run the pipeline inside a running event loop (see :meth:`run`)."""
        config = self.resolve_config()
        with paths.environment(config.env):  # the run's storage clients; the jobs get it from their scheduler
            return await self._run_async(config)

    async def _run_async(self, config: RunConfig) -> RunResult:
        graph = self.build_dag()
        specs = self.specs(config, graph)
        progress = self._progress or make_progress(quiet=self._quiet)
        plugins = PluginManager(
            disabled=[p[1:] for p in config.plugins if isinstance(p, str) and p.startswith("-")],
            extra=[p for p in config.plugins if not (isinstance(p, str) and p.startswith("-"))],
            warn=progress.warn,
        )
        run = RunContext(
            name=self.pipeline_name,
            config=config,
            outdir=self.outdir_path,
            progress=progress,
            plugins=plugins,
        )
        # every process's scheduler and options checked, then the whole DAG expanded into jobs
        # before anything runs: template errors, missing inputs and export collisions anywhere stop
        # the run here
        from .plan import builders_for, expand  # only when running: it keeps ``import pipework`` cheap

        builders = builders_for(specs, pipeline_dir=run.pipeline_dir, run_tag=run.tag)
        expansions = await asyncio.to_thread(expand, specs, builders, outdir=run.outdir)
        lock = RunLock(run.pipeline_dir)
        try:
            lock.acquire()
        except StorageError as exc:
            raise exc.within(
                doing=f"workdir {config.workdir!r} is not writable",
                hint="choose another workdir (--workdir or the workdir attribute)",
            ) from exc
        started = time.monotonic()
        try:  # a store that cannot be reached fails the run here, before any job starts
            njobs = {name: len(e.jobs) if e.channel is not None else None for name, e in expansions.items()}
            await run.open_store(
                list(specs.values()), njobs, source=_source(type(self)), profile=self._profile
            )
        except BaseException:
            lock.release()
            raise
        result = RunResult(pipeline=self.pipeline_name, workdir=run.pipeline_dir, outdir=run.outdir)
        progress.run_start(self.pipeline_name, list(specs), planned=njobs, run_id=run.run_id)
        await run.hook(
            "on_run_start",
            pipeline=self.pipeline_name,
            procs=list(specs),
            workdir=run.pipeline_dir,
            outdir=run.outdir,
        )
        ok = False
        ending = "failed"
        try:
            results = await self._run_procs(graph, specs, run, builders, expansions)
            for res in results.values():
                result.channels[res.name] = res.channel
                result.counts[res.name] = res.counts
                result.timings[res.name] = res.seconds
                result.failures.extend(res.failures)
            ok = True
            ending = "done"
        except PipelineFailed as exc:
            if exc.interrupted is not None:
                ending = "interrupted"
            raise
        finally:
            result.seconds = time.monotonic() - started
            await run.close(kill=not ok)
            await run.close_store(state=ending)
            progress.run_done(ok)
            await run.hook("on_run_done", pipeline=self.pipeline_name, ok=ok, seconds=result.seconds)
            lock.release()
        return result

    async def _run_procs(
        self,
        graph: dag_mod.Dag,
        specs: dict[str, ProcSpec],
        run: RunContext,
        builders: dict[str, JobBuilder],
        expansions: dict[str, Expansion],
    ) -> dict[str, ProcResult]:
        tasks: dict[str, asyncio.Task[ProcResult]] = {}

        from .runner import ProcRunner  # only when running: it keeps ``import pipework`` cheap

        runners: dict[str, ProcRunner] = {}

        async def run_one(name: str) -> ProcResult:
            runner = runners[name] = ProcRunner(specs[name], run, builders[name], planned=expansions[name])
            upstream = [await tasks[req] for req in graph.requires[name]]
            return await runner.execute([u.channel for u in upstream])

        for name in specs:
            tasks[name] = asyncio.create_task(run_one(name), name=f"pipework-proc-{name}")
        interrupted: str | None = None
        loop = asyncio.get_running_loop()
        main = asyncio.current_task()
        handled: list[int] = []

        def on_signal(signum: int) -> None:
            nonlocal interrupted
            interrupted = signal.Signals(signum).name
            run.halting = True
            if main is not None:
                main.cancel()

        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, on_signal, sig)
                    handled.append(sig)
        ticker = asyncio.create_task(_tick(run.progress), name="pipework-progress")
        try:
            pending = set(tasks.values())
            while pending:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_EXCEPTION)
                errors = [t.exception() for t in done if not t.cancelled() and t.exception()]
                if errors:
                    run.halting = True
                    raise errors[0]  # type: ignore[misc]
            return {name: task.result() for name, task in tasks.items()}
        except asyncio.CancelledError:
            if interrupted is None:
                raise
            raise PipelineFailed(
                f"pipeline {self.pipeline_name} was interrupted by {interrupted}; "
                "its running jobs were cancelled",
                result=None,
                interrupted=interrupted,
            ) from None
        except JobFailed as exc:
            failures = [f for r in runners.values() for f in r.failures] or [exc]
            kept = sum(j.state in (JobState.DONE, JobState.CACHED) for r in runners.values() for j in r.jobs)
            raise PipelineFailed(_report(self.pipeline_name, failures, kept), failures=failures) from None
        finally:
            ticker.cancel()
            for signum in handled:
                loop.remove_signal_handler(signum)
            # kill first, then stop the processes: each records its jobs as they ended (killed, not run)
            if run.halting:
                await run.close(kill=True)
            for task in tasks.values():
                task.cancel()
            await asyncio.gather(*tasks.values(), return_exceptions=True)
            for name, runner in runners.items():  # each stopped process records how its jobs ended
                if tasks[name].cancelled() or tasks[name].exception() is not None:
                    with contextlib.suppress(Exception):
                        await runner.stopped()

    # -- planning and the command line --------------------------------------------------------------
    def plan(self) -> list[ProcPlan]:
        """What a run would do, without running anything: each process's jobs and why they would run.

        Reads the workdir, writes nothing.

        Raises:
            PipeworkError: For invalid declarations or configuration.
        """
        from .plan import make_plan
        from .run import run_tag

        config = self.resolve_config()
        specs = self.specs(config, self.build_dag())
        return make_plan(
            specs,
            pipeline_dir=paths.join(paths.resolve(config.workdir), self.pipeline_name),
            outdir=self.outdir_path,
            run_tag=run_tag(config.workdir, self.pipeline_name),
        )

    @classmethod
    def main(cls, argv: Sequence[str] | None = None) -> None:
        """Run the pipeline from the command line (``--help`` lists the options); exits 0 or 1."""
        from .launch import run_pipeline_main  # only here: argparse stays out of ``import pipework``

        sys.exit(run_pipeline_main(cls, argv))


async def _tick(progress: Progress) -> None:
    """Let the display show time passing while no job changes (a plain log's line every 30 s)."""
    while True:
        await asyncio.sleep(5.0)
        progress.tick()


#: Every class attribute a ``Pipeline`` subclass may set (besides methods and ``_private`` names): its
#: declared class attributes and every configuration key (``env`` has no declaration of its own).
PIPELINE_ATTRIBUTES: frozenset[str] = class_attributes(Pipeline) | frozenset(RunConfig.field_names())


def _check_attributes(cls: type[Pipeline]) -> None:
    """Fail for a misspelt class attribute (``forsk = 2``) or a profile that is not a name.

    Raises:
        ConfigError: Naming the pipeline, the attribute and the nearest valid name.
    """
    # classes may live in a pipeline's namespace (its processes, nested); a misspelt ``start = A``
    # already fails as "no start process"
    names = unknown_names(cls, Pipeline, PIPELINE_ATTRIBUTES)
    unknown = [k for k in names if not isinstance(getattr(cls, k), type)]
    if unknown:
        close = difflib.get_close_matches(unknown[0], sorted(PIPELINE_ATTRIBUTES), n=1)
        known = f"attributes: {', '.join(sorted(PIPELINE_ATTRIBUTES))}"
        raise ConfigError(
            f"pipeline {cls.__name__!r} sets unknown attribute(s) {unknown}",
            key=unknown[0],
            hint=(f"did you mean {close[0]!r}?" if close else known)
            + " (use a leading underscore for your own helpers)",
        )
    if cls.profile is not None and not isinstance(cls.profile, str):
        raise ConfigError(
            f"pipeline {cls.__name__!r} has profile = {cls.profile!r}",
            key="profile",
            hint="profile is the name of a [profiles.NAME] table, e.g. profile = 'hpc'",
        )


def _source(cls: type) -> str | None:
    """``FILE:Class`` of a pipeline class defined in a file (None in a notebook or ``python -c``)."""
    import inspect
    import os

    try:
        return f"{os.path.abspath(inspect.getfile(cls))}:{cls.__qualname__}"
    except (TypeError, OSError):
        return None


def _report(pipeline: str, failures: list[JobFailed], kept: int) -> str:
    """The failure report: every failed job (up to a limit), then what to do next."""
    lines = [f"pipeline {pipeline} failed:"]
    for failure in failures[:MAX_REPORTED_FAILURES]:
        lines.append(failure.report())
    if len(failures) > MAX_REPORTED_FAILURES:
        lines.append(f"... and {len(failures) - MAX_REPORTED_FAILURES} more failed jobs")
    done = f"{kept} job{'s' if kept != 1 else ''} finished and will be cached"
    lines.append(f"next: fix the cause and run again: {done}, only the rest runs")
    return "\n".join(lines)
