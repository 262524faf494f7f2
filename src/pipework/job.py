"""Jobs: one row of a process's input channel, its directory and its rendered script.

Each job lives in ``<workdir>/<pipeline>/<proc>/<index>/``::

    job.script            the rendered script
    job.wrapper           the bash wrapper, the same for every scheduler (see pipework.wrapper)
    job.stdout job.stderr what the script printed
    job.rc                its return code, written by the wrapper's trap on every exit path
    job.jid               the scheduler's id, written at submit
    job.pid               the wrapper's process id on its host, written by the wrapper
    job.signature.json    what the outputs were made from (the cache)
    output/               where the outputs go

:func:`input_channel` builds a process's input rows from ``input_data`` and the upstream outputs, and
:class:`JobBuilder` turns each row into a :class:`Job`: its :mod:`~pipework.layout`, its input and
output values and its rendered script. Nothing here touches a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import paths
from .channel import Channel
from .errors import ConfigError, PipeworkError, SpecError
from .layout import Access, FileAccess, JobLayout, place
from .locations import check_input_url
from .spec import is_bash
from .state import JobState
from .template import CompiledTemplate, Namespace, TemplateEngine

if TYPE_CHECKING:
    from .resources import Resources
    from .spec import ProcSpec

__all__ = ["Job", "JobBuilder", "input_channel", "launch_argv", "template_engine"]

#: A job's layout before the engine places it: its files are where it runs (see ``Job.__post_init__``).
_UNPLACED = JobLayout(access=Access.SHARED, dir="", run_dir="")


@dataclass(eq=False, slots=True)
class Job:
    """A job of one process in one run. Compared and hashed by identity.

    Attributes:
        spec: The process it belongs to.
        index: Its row in the process's input channel (0-based).
        dir: Its directory (local path or cloud URL).
        name: Its deterministic scheduler name, ``pw-<run>-<proc>-<index>``.
        inputs: Input values by name (paths are absolute).
        outputs: Output values by name (file and dir outputs are absolute paths).
        script: The rendered script text.
        layout: Where its files are and where its script sees them (shared by default).
        state: Where it is now.
        jid: The scheduler's id, once submitted.
        rc: Its return code, once finished.
        attempts: How many times it was submitted in this run.
        cache_reason: Why it is not cached (empty when cached).
        signature: Its signature, computed before it is submitted (None with ``cache = False``).
        maybe_running: A previous driver submitted or started it and it has no ``job.rc``: the
            scheduler is asked whether it still runs before it is submitted again.
        in_manifest: On a bucket, its process's signature manifest holds an entry for it.
        wrapper: Its wrapper text, kept only when the driver stages it from memory.
        native_state: What the scheduler said of how it ended, in its own words (``TIMEOUT``, a
            Batch task's exit event), for the failure report; None when it said nothing notable.
        exit_status: The wrapper's exit status as its scheduler saw it, when it sees one (the local
            scheduler: the child's; negative: killed by that signal); None otherwise.
        moved_from: The index of the previous run's job that had its input values, when it was
            another row (rows were added or removed): that job's directory becomes this job's.
        cpu_seconds: The CPU time (user + system, seconds) of its last attempt as its scheduler
            measured it (the local scheduler: the child's rusage); None: the wrapper's ``job.usage``
            is recorded instead.
        peak_rss: The peak resident memory (bytes) of its last attempt as its scheduler measured it;
            None as for ``cpu_seconds``.
        failure_kind: Why its last attempt failed, as its scheduler tells: ``oom``, ``timeout``,
            ``node_fail``, ``preempted``, ``cancelled`` or ``exit`` (any other failure); None while it
            has not failed. What ``retry_on`` decides on, and ``job.reason`` of the next attempt.
        resources: What its current attempt asked for: its process's resources with those given as
            functions of the job evaluated for that attempt (and capped); None before it is submitted.
        scheduler_opts: The values its process's ``scheduler_opts`` functions gave for its current
            attempt (None: its process has none).
    """

    spec: ProcSpec
    index: int
    dir: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    script: str = ""
    layout: JobLayout = _UNPLACED
    state: JobState = JobState.PENDING
    jid: str | None = None
    rc: int | None = None
    attempts: int = 0
    cache_reason: str = ""
    signature: dict[str, Any] | None = None
    maybe_running: bool = False
    in_manifest: bool = False
    wrapper: str | None = None
    native_state: str | None = None
    exit_status: int | None = None
    moved_from: int | None = None
    cpu_seconds: float | None = None
    peak_rss: int | None = None
    failure_kind: str | None = None
    resources: Resources | None = None
    scheduler_opts: dict[str, Any] | None = None

    def __post_init__(self) -> None:
        if self.layout is _UNPLACED:
            self.layout = JobLayout(access=Access.SHARED, dir=self.dir, run_dir=self.dir)

    @property
    def proc(self) -> str:
        """The process name."""
        return self.spec.name

    def path(self, name: str) -> str:
        """The path of a file in the job directory, e.g. ``job.path("job.rc")``."""
        return f"{self.dir.rstrip('/')}/{name}"

    @property
    def output_dir(self) -> str:
        """Where the job's file and dir outputs are written."""
        return self.path("output")

    def __repr__(self) -> str:
        return f"<Job {self.proc}[{self.index}] {self.state.value}>"


def launch_argv(job: Job) -> list[str]:
    """The command a scheduler runs to execute a job, the same for every scheduler.

    See :meth:`pipework.layout.JobLayout.launch_argv`: ``bash <job dir>/job.wrapper`` for a job whose
    files are shared, ``python -m pipework.stage run <job dir>`` for one that is staged.
    """
    return job.layout.launch_argv()


def input_channel(spec: ProcSpec, upstream: Sequence[Channel]) -> Channel:
    """Build a process's input channel from ``input_data`` and its upstream output channels.

    Without ``input_data`` the upstream channels are joined side by side; a callable gets them as
    positional arguments, in ``requires`` order.

    Raises:
        SpecError: For invalid ``input_data`` or too few columns for the declared inputs.
    """
    data = spec.input_data
    if callable(data) and not isinstance(data, type):
        try:
            data = data(*upstream)
        except PipeworkError as exc:
            raise exc.within(proc=spec.name) from exc
        except Exception as exc:
            raise SpecError(
                f"input_data function raised {type(exc).__name__}: {exc}",
                proc=spec.name,
                hint=f"it is called with {len(upstream)} upstream channel(s), in requires order",
            ) from exc
    elif data is None and upstream:
        data = upstream[0].cbind(*upstream[1:]) if len(upstream) > 1 else upstream[0]
    elif data is None:
        if spec.inputs:
            raise SpecError(
                f"has input {spec.input_names} but no input_data and no requires",
                proc=spec.name,
                hint="set input_data, e.g. input_data = ['a.txt', 'b.txt']",
            )
        data = Channel([], [()])
    try:
        channel = Channel.create(data)
    except SpecError as exc:
        raise exc.within(proc=spec.name) from exc
    names = spec.input_names
    if not names or all(n in channel.columns for n in names):
        return channel.select(*names) if names else channel
    if len(channel.columns) < len(names):
        raise SpecError(
            f"input declares {len(names)} column(s) {names} but input data has "
            f"{len(channel.columns)}: {list(channel.columns)}",
            proc=spec.name,
            hint="give one value per input column in each row",
        )
    return Channel(names, [row[: len(names)] for row in channel.rows])


def template_engine(
    spec: ProcSpec, engines: dict[tuple[str, tuple[str, ...]], TemplateEngine]
) -> TemplateEngine:
    """The template engine for a process's ``template_opts``, shared through ``engines`` by processes
    with the same options.

    Raises:
        ConfigError: For unknown ``template_opts`` keys.
    """
    opts = spec.template_opts
    unknown = set(opts) - {"engine", "filters"}
    if unknown:
        raise ConfigError(
            f"unknown template_opts {sorted(unknown)}", proc=spec.name, hint="use engine, filters"
        )
    engine = str(opts.get("engine", "jinja2"))
    filters: Mapping[str, Any] = opts.get("filters") or {}
    key = (engine, tuple(sorted(f"{k}:{id(v)}" for k, v in filters.items())))
    if key not in engines:
        engines[key] = TemplateEngine(engine, filters)
    return engines[key]


class JobBuilder:
    """Turns the rows of a process's input channel into placed, rendered jobs (pure: no file is touched).

    The script and output templates are compiled once, when the builder is made.

    Args:
        spec: The process.
        engine: Its template engine.
        proc_dir: The process's directory in the workdir (local path or URL).
        run_tag: The run's tag (job names, stage dirs).
        stage_root: The local directory staged jobs run under (``<stage root>/<tag>/<proc>/<index>``).
        access: How the process's scheduler reaches files on buckets.

    Raises:
        TemplateError: For a template that does not compile.
    """

    def __init__(
        self,
        spec: ProcSpec,
        engine: TemplateEngine,
        *,
        proc_dir: str,
        run_tag: str,
        stage_root: str,
        access: FileAccess,
    ) -> None:
        self.spec = spec
        self.proc_dir = proc_dir
        self.run_tag = run_tag
        self.stage_root = stage_root
        self.access = access
        self._script = engine.compile(spec.script, proc=spec.name, what="script", shell=is_bash(spec.lang))
        self._outputs: dict[str, CompiledTemplate] = {
            o.name: engine.compile(o.template, proc=spec.name, what=f"output {o.name!r}")
            for o in spec.outputs
        }
        self._proc = Namespace(
            {
                "name": spec.name,
                "desc": spec.desc,
                "lang": spec.lang,
                "forks": spec.forks,
                "envs": spec.envs,
                "workdir": proc_dir,
            }
        )
        self._envs = Namespace(spec.envs)

    def make_jobs(self, channel: Channel) -> list[Job]:
        """One job per channel row, placed and rendered."""
        return [self.make_job(index, row) for index, row in enumerate(channel.rows)]

    def make_job(self, index: int, row: Sequence[Any]) -> Job:
        """The job of one row.

        Raises:
            SpecError: For an input value of the wrong shape.
            TemplateError: For a template that does not render.
        """
        spec = self.spec
        for s, v in zip(spec.inputs, row, strict=False):
            if s.is_path:
                check_input_url(v, name=s.name, proc=spec.name, job=index)
        inputs = {
            s.name: _normalise_input(s.type, v, spec.name, index)
            for s, v in zip(spec.inputs, row, strict=False)
        }
        job_dir = paths.join(self.proc_dir, str(index))
        cloud_inputs = [v for v in _path_values(spec, inputs) if paths.is_cloud(v)]
        layout = place(
            self.access,
            job_dir=job_dir,
            cloud_inputs=cloud_inputs,
            stage_dir=os.path.join(self.stage_root, self.run_tag, spec.name, str(index)),
            proc=spec.name,
            index=index,
        )
        job = Job(
            spec=spec,
            index=index,
            dir=job_dir,
            name=f"pw-{self.run_tag}-{spec.name}-{index}",
            inputs=inputs,
            outputs={},
            layout=layout,
        )
        ctx: dict[str, Any] = {
            "in": Namespace(_seen_inputs(inputs, layout.inputs)),
            "job": Namespace(
                {
                    "index": index,
                    "dir": layout.run_dir,
                    "outdir": layout.output_dir,
                    "stdout": layout.seen("job.stdout"),
                    "stderr": layout.seen("job.stderr"),
                    "script": layout.seen("job.script"),
                }
            ),
            "proc": self._proc,
            "envs": self._envs,
        }
        seen_out: dict[str, Any] = {}
        in_job_dir: list[tuple[str, str, str]] = []
        for out in spec.outputs:
            value = self._outputs[out.name].render(ctx, job=index).strip()
            seen_out[out.name] = job.outputs[out.name] = value
            if out.type != "var" and not (value.startswith("/") or paths.is_cloud(value)):
                seen, real = layout.output(value)
                seen_out[out.name], job.outputs[out.name] = seen, real
                in_job_dir.append((seen, real, out.type))
        job.layout = layout.with_outputs(in_job_dir)
        ctx["out"] = Namespace(seen_out)
        job.script = self._script.render(ctx, job=index)
        return job


def _path_values(spec: ProcSpec, inputs: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for s in spec.inputs:
        if s.is_path:
            value = inputs[s.name]
            out.extend(value if isinstance(value, list) else [value])
    return [str(v) for v in out]


def _seen_inputs(inputs: dict[str, Any], seen: Mapping[str, str]) -> dict[str, Any]:
    """Input values as the script sees them: cloud URLs replaced by their staged or mounted paths."""
    if not seen:
        return inputs
    return {
        k: [seen.get(x, x) for x in v] if isinstance(v, list) else seen.get(v, v) if isinstance(v, str) else v
        for k, v in inputs.items()
    }


def _normalise_input(typ: str, value: Any, proc: str, index: int) -> Any:
    if typ == "var":
        return value
    if typ in ("files", "dirs"):
        items = [value] if isinstance(value, (str, os.PathLike)) else list(value or [])
        return [_abs(v) for v in items]
    if isinstance(value, (list, tuple)):
        raise SpecError(
            f"a {typ!r} input takes one path per job, got a list of {len(value)}", proc=proc, job=index
        )
    return _abs(value)


def _abs(value: Any) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    return paths.resolve(text)
