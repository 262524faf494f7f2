"""Checks of the values a process's attributes hold, made before anything runs.

:func:`check_types` checks the attributes whose only rule is their type (``resources`` is a dict,
``script`` a str, ...); :func:`check_template_opts` and :func:`static_input_data` check the two whose
contents matter too. Each error names the process, the attribute and what to write instead.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

from .errors import ConfigError, PipeworkError, SpecError
from .resources import JobFunction, Resources, split_functions

if TYPE_CHECKING:
    from .proc import Proc

__all__ = [
    "FAILURE_KINDS",
    "TEMPLATE_ENGINES",
    "Requests",
    "check_requests",
    "check_retry_on",
    "check_template_opts",
    "check_types",
    "static_input_data",
    "suggest",
]


def suggest(word: str, choices: Sequence[str]) -> str:
    """``"did you mean 'x'?"`` for the choice nearest ``word``, or the list of choices."""
    close = difflib.get_close_matches(word, choices, n=1)
    return f"did you mean {close[0]!r}?" if close else f"choose one of {', '.join(choices)}"


#: The Proc attributes whose type is checked by :func:`check_types` (the others have checks of their
#: own): the type they must have, and what to write instead.
_ATTRIBUTE_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    "script": (str, "a str: the script template, or 'file:relative/path'"),
    "envs": (Mapping, "a dict, e.g. envs = {'ref': 'hg38.fa'} (used as {{envs.ref}})"),
    "resources": (Mapping, "a dict, e.g. resources = {'cpus': 2, 'mem': '4G'}"),
    "scheduler": (str, "a scheduler name, e.g. scheduler = 'slurm'"),
    "scheduler_opts": (Mapping, "a dict of options, e.g. scheduler_opts = {'partition': 'short'}"),
    "template_opts": (Mapping, "a dict, e.g. template_opts = {'engine': 'liquid'}"),
    "export": (bool, "True or False"),
    "retry_on": (
        (list, tuple, set, frozenset),
        "a list of failure kinds, e.g. retry_on = ['oom', 'timeout']",
    ),
    "resource_limits": (Mapping, "a dict, e.g. resource_limits = {'mem': '64G', 'time': '24h'}"),
}

#: Why a job failed, as its scheduler tells: ``retry_on`` names some of them.
FAILURE_KINDS = ("oom", "timeout", "node_fail", "preempted", "cancelled", "exit")

TEMPLATE_ENGINES = ("jinja2", "liquid")


def check_types(cls: type[Proc]) -> None:
    """Check that the attributes of a process that are set have the right type.

    Raises:
        SpecError: Naming the process, the attribute and its value, and what to write instead.
    """
    for attr, (kind, fix) in _ATTRIBUTE_TYPES.items():
        value = getattr(cls, attr)
        if value is not None and not isinstance(value, kind):
            raise SpecError(
                f"{attr} is {value!r} ({type(value).__name__})",
                proc=cls.__name__,
                hint=f"{attr} must be {fix}",
            )


def check_retry_on(value: Any, *, proc: str) -> frozenset[str] | None:
    """Check ``retry_on``: the failure kinds worth a retry (None: every kind).

    Raises:
        SpecError: For a value that is not a list of kinds, or an unknown kind (naming the nearest).
    """
    if value is None:
        return None
    if isinstance(value, str):
        raise SpecError(
            f"retry_on is {value!r} (str)", proc=proc, hint=f"write a list: retry_on = [{value!r}]"
        )
    kinds = list(value)
    for kind in kinds:
        if kind not in FAILURE_KINDS:
            raise SpecError(
                f"retry_on has unknown failure kind {kind!r}",
                proc=proc,
                hint=f"{suggest(str(kind), FAILURE_KINDS)} (the kinds: {', '.join(FAILURE_KINDS)})",
            )
    if not kinds:
        raise SpecError(
            "retry_on is empty: no failure would be retried",
            proc=proc,
            hint="name the kinds to retry, e.g. retry_on = ['oom', 'timeout'], or remove it (every kind)",
        )
    return frozenset(kinds)


class Requests(NamedTuple):
    """What a process asks of its scheduler for each job: literal values, and functions of the job.

    Attributes:
        resources: The literal resources.
        resource_functions: The resources given as functions of the job, by key.
        limits: ``resource_limits``: the most a function may ask for.
        opts: The literal ``scheduler_opts``.
        opts_functions: The ``scheduler_opts`` given as functions of the job, by option.
    """

    resources: Resources
    resource_functions: dict[str, JobFunction]
    limits: Resources
    opts: dict[str, Any]
    opts_functions: dict[str, JobFunction]


def check_requests(
    resources: Mapping[str, Any],
    limits: Mapping[str, Any] | None,
    opts: Mapping[str, Any],
    *,
    scheduler: str,
    proc: str,
) -> Requests:
    """Check a process's effective ``resources``, ``resource_limits`` and ``scheduler_opts``, whose
    values may be functions of the job (they are called later, for each attempt).

    Raises:
        ConfigError: For a bad literal value, a literal over its limit, a limit given as a function,
            a function that cannot take the job, or a function for an option the scheduler does not
            have (naming the nearest).
    """
    fixed = Resources.parse(resources, where=f"{proc}.resources")
    _, functions = split_functions(resources, where=f"{proc}.resources")
    _, limit_functions = split_functions(limits or {}, where=f"{proc}.resource_limits")
    if limit_functions:
        key = next(iter(limit_functions))
        raise ConfigError(
            f"resource_limits.{key} is a function",
            key=f"resource_limits.{key}",
            hint="limits are fixed values, e.g. resource_limits = {'mem': '64G', 'time': '24h'}",
        )
    caps = Resources.parse(limits, where=f"{proc}.resource_limits")
    for key in fixed.over(caps):
        raise ConfigError(
            f"resources.{key} asks for {fixed.show(key).split('=')[1]}, over resource_limits.{key} "
            f"({caps.show(key).split('=')[1]})",
            key=f"resources.{key}",
            hint=f"ask for at most {caps.show(key)}, or raise resource_limits",
        )
    literal_opts, opts_functions = split_functions(opts, where=f"{proc}.scheduler_opts")
    if opts_functions:
        _check_option_names(opts_functions, scheduler)
    return Requests(fixed, functions, caps, literal_opts, opts_functions)


def _check_option_names(functions: Mapping[str, JobFunction], scheduler: str) -> None:
    """Options given as functions must be options of the scheduler (their values are checked when
    they are called).

    Raises:
        ConfigError: For an unknown option, naming the nearest one.
    """
    from .schedulers import get_scheduler_class

    settings = get_scheduler_class(scheduler).Settings
    names = [f.name for f in dataclasses.fields(settings) if f.init]
    for key in functions:
        if key not in names:
            raise ConfigError(
                f"unknown {scheduler} scheduler option {key!r} (a function)",
                key=key,
                hint=f"{suggest(key, names)} (options: {', '.join(names)})" if names else None,
            )


def check_template_opts(value: Mapping[str, Any] | None, *, proc: str) -> dict[str, Any]:
    """Check ``template_opts``: ``engine`` (jinja2 or liquid) and ``filters`` (a dict of functions).

    Raises:
        SpecError: For an unknown key, engine or a filter that is not a function.
    """
    opts = dict(value or {})
    unknown = sorted(set(opts) - {"engine", "filters"})
    if unknown:
        raise SpecError(
            f"template_opts has unknown key(s) {unknown}",
            proc=proc,
            hint=f"{suggest(unknown[0], ['engine', 'filters'])} (template_opts keys: engine, filters)",
        )
    engine = opts.get("engine", "jinja2")
    if engine not in TEMPLATE_ENGINES:
        raise SpecError(
            f"template_opts engine is {engine!r}", proc=proc, hint=suggest(str(engine), TEMPLATE_ENGINES)
        )
    filters = opts.get("filters") or {}
    bad = [k for k, v in filters.items() if not callable(v)] if isinstance(filters, Mapping) else None
    if bad is None or bad:
        what = f"filter {bad[0]!r} is {filters[bad[0]]!r}" if bad else f"filters is {filters!r}"
        raise SpecError(
            f"template_opts {what}",
            proc=proc,
            hint="filters is a dict of functions by name, e.g. {'upper': str.upper}",
        )
    return opts


def static_input_data(data: Any, *, proc: str) -> Any:
    """Check an ``input_data`` that is not a function, before anything runs.

    An iterator (a generator, ``zip(...)``) is read here, once: its rows are what the run uses.

    Returns:
        The data to run with: ``data`` itself, or the list of an iterator's rows.

    Raises:
        SpecError: Naming the process, for data of the wrong shape, an iterator that raised, or one
            that yields nothing.
    """
    from .channel import Channel

    if isinstance(data, Iterator):
        try:
            data = list(data)
        except PipeworkError as exc:
            raise exc.within(proc=proc, doing="reading input_data") from exc
        except Exception as exc:
            raise SpecError(
                f"reading input_data raised {type(exc).__name__}: {exc}",
                proc=proc,
                hint="fix the generator, or give input_data as a list",
            ) from exc
        if not data:
            raise SpecError(
                "input_data is an iterator that yields no rows",
                proc=proc,
                hint="an iterator can be read once (a second run finds it empty): give a list, "
                "e.g. input_data = list(...)",
            )
    try:
        len(Channel.create(data))  # the shape, and the error of a glob that matched nothing
    except SpecError as exc:
        raise exc.within(proc=proc) from exc
    return data
