"""Frozen per-run specifications of processes, built once from the user's class attributes.

A :class:`ProcSpec` is what the engine works on: the ``Proc`` subclass is only read, never written, so two
pipelines (or two runs) sharing a process never leak into each other.
"""

from __future__ import annotations

import functools
import inspect
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .attributes import (
    FAILURE_KINDS,
    check_requests,
    check_retry_on,
    check_template_opts,
    check_types,
    static_input_data,
    suggest,
)
from .errors import ConfigError, SpecError
from .proc import PROC_ATTRIBUTES
from .resources import JobFunction, Resources, is_job_function

if TYPE_CHECKING:
    from .proc import Proc

__all__ = [
    "ERROR_STRATEGIES",
    "FAILURE_KINDS",
    "INPUT_TYPES",
    "OUTPUT_TYPES",
    "PROC_ATTRIBUTES",
    "InputSpec",
    "OutputSpec",
    "ProcSpec",
    "parse_inputs",
    "parse_outputs",
]

INPUT_TYPES = ("var", "file", "files", "dir", "dirs")
OUTPUT_TYPES = ("var", "file", "dir")
ERROR_STRATEGIES = ("halt", "retry", "ignore")

CacheMode = Literal[True, False, "content"]


@dataclass(frozen=True)
class InputSpec:
    """One declared input column: its name and type (``var``, ``file``, ``files``, ``dir``, ``dirs``)."""

    name: str
    type: str = "var"

    @property
    def is_path(self) -> bool:
        """True when the values are paths (files or directories)."""
        return self.type != "var"


@dataclass(frozen=True)
class OutputSpec:
    """One declared output: its name, type (``var``, ``file``, ``dir``) and value template."""

    name: str
    type: str
    template: str


def _check_name(name: str, what: str, proc: str) -> None:
    if not name.isidentifier():
        raise SpecError(
            f"{what} name {name!r} is not a valid identifier",
            proc=proc,
            hint="use letters, digits and underscores, e.g. 'infile'",
        )


def parse_inputs(value: str | Sequence[str] | None, *, proc: str) -> tuple[InputSpec, ...]:
    """Parse ``input`` (``"a:file, b"`` or ``["a:file", "b"]``) into input specs.

    Raises:
        SpecError: For an unknown type, a bad name or a name used twice.
    """
    if value is None:
        return ()
    items: list[str]
    if isinstance(value, str):
        items = [part.strip() for part in value.split(",") if part.strip()]
    elif isinstance(value, (list, tuple)):
        items = [str(part).strip() for part in value]
    else:
        raise SpecError(
            f"input is {value!r} ({type(value).__name__})",
            proc=proc,
            hint="give a str like 'infile:file, n' or a list like ['infile:file', 'n']",
        )
    specs: list[InputSpec] = []
    for item in items:
        name, _, typ = (p.strip() for p in item.partition(":"))
        typ = typ or "var"
        _check_name(name, "input", proc)
        if typ not in INPUT_TYPES:
            raise SpecError(
                f"input {name!r} has unknown type {typ!r}",
                proc=proc,
                hint=suggest(typ, INPUT_TYPES),
            )
        if any(s.name == name for s in specs):
            raise SpecError(f"input name {name!r} is used twice", proc=proc)
        specs.append(InputSpec(name, typ))
    return tuple(specs)


def parse_outputs(value: str | Sequence[str] | None, *, proc: str) -> tuple[OutputSpec, ...]:
    """Parse ``output`` (``"name:type:template"``, or ``"name:template"`` for a ``var``) into specs.

    A single string is one output (templates may contain commas); give a list for several.

    Raises:
        SpecError: For an unknown type, a missing template, a bad name or a name used twice.
    """
    if value is None:
        return ()
    if not isinstance(value, (str, list, tuple)):
        raise SpecError(
            f"output is {value!r} ({type(value).__name__})",
            proc=proc,
            hint="give a str like 'count:file:{{in.infile | stem}}.count', or a list of them",
        )
    items = [value] if isinstance(value, str) else list(value)
    specs: list[OutputSpec] = []
    for item in items:
        if not isinstance(item, str):
            raise SpecError(f"output must be 'name:type:template' strings, got {item!r}", proc=proc)
        parts = item.split(":", 2)
        name = parts[0].strip()
        _check_name(name, "output", proc)
        if len(parts) == 2:
            typ, template = "var", parts[1]
        elif len(parts) == 3 and parts[1].strip() in OUTPUT_TYPES:
            typ, template = parts[1].strip(), parts[2]
        elif len(parts) == 3 and parts[1].strip().isidentifier():
            raise SpecError(
                f"output {name!r} has unknown type {parts[1].strip()!r}",
                proc=proc,
                hint=suggest(parts[1].strip(), OUTPUT_TYPES),
            )
        elif len(parts) == 3:
            typ, template = "var", f"{parts[1]}:{parts[2]}"
        else:
            raise SpecError(
                f"output {item!r} has no template",
                proc=proc,
                hint="write it as 'name:type:template', e.g. 'count:file:{{in.infile | stem}}.count'",
            )
        if not template.strip():
            raise SpecError(f"output {name!r} has an empty template", proc=proc)
        if any(s.name == name for s in specs):
            raise SpecError(f"output name {name!r} is used twice", proc=proc)
        specs.append(OutputSpec(name, typ, template.strip()))
    return tuple(specs)


def load_script(cls: type[Proc], script: str | None) -> str:
    """Return the script template of a process, reading ``file:relative/path`` next to its module.

    Raises:
        SpecError: If the referenced file does not exist.
    """
    if script is None:
        return ""
    if not script.startswith("file:"):
        return script
    rel = script[len("file:") :].strip()
    try:
        base = Path(inspect.getfile(cls)).parent
    except (TypeError, OSError):
        base = Path.cwd()
    path = Path(rel) if Path(rel).is_absolute() else base / rel
    try:
        return path.read_text()
    except OSError as exc:
        raise SpecError(
            f"script file {str(path)!r} cannot be read ({exc.strerror})",
            proc=cls.__name__,
            hint="'file:' paths are relative to the module that defines the process",
        ) from exc


@dataclass(frozen=True, kw_only=True)
class ProcSpec:
    """Everything the engine needs to know about one process in one run (read-only).

    Attributes:
        name: The process name (its class name, or the name given to ``Proc.derive``).
        desc: The first line of its docstring.
        cls: The user's class (read only).
        requires: Names of the processes it requires, in declaration order.
        inputs: Its input columns.
        outputs: Its outputs.
        input_data: The raw ``input_data`` attribute (list, dict, Channel, DataFrame, callable or None).
        script: The script template text.
        lang: The interpreter command (shell words).
        strict: Run a bash script with errexit, nounset and pipefail.
        envs: Values available as ``{{envs.x}}``.
        forks: Jobs of this process running at once (None: the scheduler's default).
        cache: True (size+mtime), False, or "content" (hash input files).
        export: Whether outputs are exported to the outdir.
        error_strategy: "halt", "retry" or "ignore".
        num_retries: Retries per job for the "retry" strategy.
        scheduler: Scheduler name.
        scheduler_opts: Options for that scheduler: its literal values (see ``opts_functions``).
        resources: Portable resources per job: the literal values (see ``resource_functions``).
        container: A container image, if any.
        template_opts: Template engine options (``engine``: ``jinja2`` or ``liquid``, ``filters``).
        retry_on: The failure kinds the "retry" strategy retries (None: every kind).
        resource_limits: The most a job may ask for (what its resources functions ask is capped).
        resource_functions: The ``resources`` given as functions of the job, by key, evaluated for
            each attempt (see :func:`pipework.resources.resolve`).
        opts_functions: The ``scheduler_opts`` given as functions of the job, by option.
    """

    name: str
    desc: str
    cls: type[Proc]
    requires: tuple[str, ...]
    inputs: tuple[InputSpec, ...]
    outputs: tuple[OutputSpec, ...]
    input_data: Any
    script: str
    lang: str
    strict: bool
    envs: Mapping[str, Any]
    forks: int | None
    cache: CacheMode
    export: bool
    error_strategy: str
    num_retries: int
    scheduler: str
    scheduler_opts: Mapping[str, Any]
    resources: Resources
    container: str | None
    template_opts: Mapping[str, Any] = field(default_factory=dict)
    retry_on: frozenset[str] | None = None
    resource_limits: Resources = field(default_factory=Resources)
    resource_functions: Mapping[str, JobFunction] = field(default_factory=dict)
    opts_functions: Mapping[str, JobFunction] = field(default_factory=dict)

    @property
    def per_attempt(self) -> bool:
        """True when some resources or scheduler options are functions of the job."""
        return bool(self.resource_functions or self.opts_functions)

    @property
    def input_names(self) -> list[str]:
        """The input column names, in order."""
        return [s.name for s in self.inputs]


_BASH = (["bash"], ["/bin/bash"], ["/usr/bin/bash"], ["/usr/bin/env", "bash"])


@functools.lru_cache(maxsize=64)
def is_bash(lang: str) -> bool:
    """True when ``lang`` runs scripts with bash (the wrapper then sources them)."""
    return shlex.split(lang) in _BASH


def check_strategy(value: object, *, where: str) -> str:
    """Validate an ``error_strategy`` value.

    Raises:
        ConfigError: If it is not one of halt, retry, ignore.
    """
    if value not in ERROR_STRATEGIES:
        raise ConfigError(
            f"{where} is {value!r}", hint=f"error_strategy is one of {', '.join(ERROR_STRATEGIES)}"
        )
    return str(value)


def check_cache(value: object, *, where: str) -> CacheMode:
    """Validate a ``cache`` value.

    Raises:
        ConfigError: If it is not True, False or "content".
    """
    if value is True or value is False or value == "content":
        return value
    raise ConfigError(f"{where} is {value!r}", hint='cache is true, false or "content"')


def check_forks(value: object, *, where: str) -> int | None:
    """Validate a ``forks`` value (a positive int, or None for the scheduler's default).

    Raises:
        ConfigError: If it is not a positive int.
    """
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{where} must be a positive int, got {value!r}")
    return value


def is_callable_data(value: object) -> bool:
    """True when ``input_data`` is a function of the upstream channels."""
    return callable(value) and not isinstance(value, type)


def scheduler_opts(config: Any, scheduler: str, own: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The effective ``scheduler_opts`` of a process on ``scheduler`` — the one rule for all of them.

    The pipeline's (profile's) ``scheduler_opts`` are options of the pipeline's scheduler: they apply to
    a process only when it uses that scheduler. The process's own ``scheduler_opts`` go on top.

    Args:
        config: The run configuration (its ``scheduler`` and ``scheduler_opts``).
        scheduler: The scheduler the process uses.
        own: The process's own ``scheduler_opts`` (None for the run-wide settings of a scheduler:
            options given as functions of the job are left out of those, they are each job's).
    """
    inherited = (config.scheduler_opts or {}) if scheduler == config.scheduler else {}
    if own is None:
        return {k: v for k, v in inherited.items() if not is_job_function(v)}
    return {**inherited, **own}


def _check_strict(value: object, *, proc: str) -> bool:
    """Validate ``strict`` (default True).

    Raises:
        SpecError: If it is not True, False or None.
    """
    if value is None:
        return True
    if not isinstance(value, bool):
        raise SpecError(
            f"strict must be True or False, got {value!r}", proc=proc, hint="strict = False opts out"
        )
    return value


def _retries(cls: type[Proc], config: Any) -> tuple[str, int, frozenset[str] | None]:
    """The ``error_strategy`` (its own, else ``"retry"`` when it sets ``retry_on``, else the
    pipeline's), ``num_retries`` and ``retry_on`` of a process.

    Raises:
        SpecError: For a bad ``retry_on``, or one beside an ``error_strategy`` that is not "retry".
        ConfigError: For an unknown strategy or a bad ``num_retries``.
    """
    name = cls.__name__
    retry_on = check_retry_on(cls.retry_on, proc=name)
    own = cls.error_strategy
    if retry_on is not None and own is not None and own != "retry":
        raise SpecError(
            f"retry_on is set but error_strategy is {own!r}: nothing would be retried",
            proc=name,
            hint="remove error_strategy (retry_on implies 'retry'), or remove retry_on",
        )
    value = own if own is not None else "retry" if retry_on is not None else config.error_strategy
    num_retries = cls.num_retries if cls.num_retries is not None else config.num_retries
    if isinstance(num_retries, bool) or not isinstance(num_retries, int) or num_retries < 0:
        raise ConfigError(f"{name}.num_retries must be an int >= 0, got {num_retries!r}")
    return check_strategy(value, where=f"{name}.error_strategy"), num_retries, retry_on


def make_spec(cls: type[Proc], config: Any, *, is_end: bool) -> ProcSpec:
    """Read a Proc subclass's attributes over the run's config into a frozen :class:`ProcSpec`.

    A process attribute that is set wins over the pipeline's (profile's) value; ``scheduler_opts``,
    ``resources`` and ``envs`` are merged key by key. Their values that are functions of the job are
    kept apart (``resource_functions``, ``opts_functions``), to be called for each attempt.

    Raises:
        SpecError: For invalid declarations; ConfigError for invalid settings values.
    """
    name = cls.__name__

    def pick(attr: str) -> Any:
        value = getattr(cls, attr)
        return getattr(config, attr) if value is None else value

    where = f"{name}."
    check_types(cls)
    script = load_script(cls, cls.script)
    inputs = parse_inputs(cls.input, proc=name)
    outputs = parse_outputs(cls.output, proc=name)
    data = cls.input_data
    if data is not None and not is_callable_data(data):
        data = static_input_data(data, proc=name)
    lang = cls.lang or "bash"
    if not isinstance(lang, str) or not lang.strip():
        raise SpecError(
            f"lang must be an interpreter command like 'bash' or 'python3', got {lang!r}", proc=name
        )
    envs = dict(cls.envs or {})
    try:
        scheduler = str(pick("scheduler"))
        asks = check_requests(
            {**(config.resources or {}), **(cls.resources or {})},
            cls.resource_limits,
            scheduler_opts(config, scheduler, cls.scheduler_opts or {}),
            scheduler=scheduler,
            proc=name,
        )
        strategy, num_retries, retry_on = _retries(cls, config)
        export = cls.export if cls.export is not None else is_end
        return ProcSpec(
            name=name,
            desc=cls.description(),
            cls=cls,
            requires=tuple(r.__name__ for r in cls.requirements()),
            inputs=inputs,
            outputs=outputs,
            input_data=data,
            script=script,
            lang=lang,
            strict=_check_strict(cls.strict, proc=name),
            envs=envs,
            forks=check_forks(pick("forks"), where=f"{where}forks"),
            cache=check_cache(pick("cache"), where=f"{where}cache"),
            export=bool(export),
            error_strategy=strategy,
            num_retries=num_retries,
            scheduler=scheduler,
            scheduler_opts=asks.opts,
            resources=asks.resources,
            container=pick("container"),
            template_opts=check_template_opts(cls.template_opts, proc=name),
            retry_on=retry_on,
            resource_limits=asks.limits,
            resource_functions=asks.resource_functions,
            opts_functions=asks.opts_functions,
        )
    except ConfigError as exc:
        if exc.proc is not None:
            raise
        raise exc.within(proc=name) from exc
