"""Schedulers: where jobs run. Plugin authors subclass :class:`Scheduler` (see ``pipework.testing``).

Built-in schedulers are ``local``, ``slurm``, ``sge`` and ``gbatch``; third-party ones register a
``Scheduler`` subclass under the entry-point group ``pipework.schedulers``::

    [project.entry-points."pipework.schedulers"]
    mycluster = "my_package.scheduler:MyClusterScheduler"
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.util
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, Any

from ..errors import ConfigError
from ..job import Job, launch_argv
from ..layout import FileAccess
from ..state import JobState
from .base import JobEvent, NoSettings, Scheduler

if TYPE_CHECKING:
    from ..spec import ProcSpec

__all__ = [
    "FileAccess",
    "Job",
    "JobEvent",
    "JobState",
    "NoSettings",
    "Scheduler",
    "available",
    "check_settings_class",
    "get_scheduler_class",
    "launch_argv",
    "scheduler_for",
]

ENTRY_POINT_GROUP = "pipework.schedulers"

_BUILTIN = {
    "local": "pipework.schedulers.local:LocalScheduler",
    "slurm": "pipework.schedulers.slurm:SlurmScheduler",
    "sge": "pipework.schedulers.sge:SgeScheduler",
    "gbatch": "pipework.schedulers.gbatch:GbatchScheduler",
}


def available() -> dict[str, str]:
    """Scheduler names and where each comes from (``module:Class``), built-in ones first."""
    found = {name: target for name, target in _BUILTIN.items() if _module_exists(target)}
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found.setdefault(ep.name, ep.value)
    return found


def _module_exists(target: str) -> bool:
    return importlib.util.find_spec(target.partition(":")[0]) is not None


def get_scheduler_class(name: str) -> type[Scheduler[Any]]:
    """Return the scheduler class registered under ``name``.

    Raises:
        ConfigError: If no scheduler has that name, or its plugin cannot be imported.
    """
    target = _BUILTIN.get(name)
    if target is None:
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            if ep.name == name:
                target = ep.value
                break
    if target is None or not _module_exists(target):
        names = sorted(available())
        close = difflib.get_close_matches(name, names, n=1)
        raise ConfigError(
            f"unknown scheduler {name!r}",
            hint=(f"did you mean {close[0]!r}? " if close else "")
            + f"available: {', '.join(names)}; plugins register under the entry-point group "
            f"'{ENTRY_POINT_GROUP}'",
        )
    module_name, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"scheduler {name!r} ({target}) cannot be loaded: {exc}",
            hint="install the package that provides it, e.g. pip install 'pipework[gbatch]'",
        ) from exc
    if not (isinstance(cls, type) and issubclass(cls, Scheduler)):
        raise ConfigError(f"scheduler {name!r} ({target}) is not a pipework Scheduler subclass")
    check_settings_class(cls, where=f"scheduler {name!r} ({target})")
    return cls


def check_settings_class(cls: type[Scheduler[Any]], *, where: str) -> None:
    """Reject a scheduler whose ``Settings`` is not a dataclass whose every field has help text and a
    default: profiles, ``--help`` and ``pipework profile show`` are built from them.

    Raises:
        ConfigError: Naming the scheduler, the field and the fix.
    """
    settings = cls.Settings
    if not dataclasses.is_dataclass(settings):
        raise ConfigError(
            f"{where}: its Settings {settings!r} is not a dataclass",
            hint="declare a @dataclass(frozen=True, kw_only=True) Settings with a default and help per field",
        )
    for f in dataclasses.fields(settings):
        if not f.init:
            continue
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise ConfigError(
                f"{where}: settings field {f.name!r} has no default",
                hint="give it one, e.g. field(default=None, metadata={'help': '...'})",
            )
        if not str(f.metadata.get("help", "")).strip():
            raise ConfigError(
                f"{where}: settings field {f.name!r} has no help text",
                hint="add metadata={'help': 'what it does'} to its field(...)",
            )


def scheduler_for(spec: ProcSpec) -> type[Scheduler[Any]]:
    """The scheduler class of a process, its options and container checked before anything runs.

    Raises:
        ConfigError: For an unknown scheduler, invalid ``scheduler_opts``, or a ``container`` on a
            scheduler that cannot run one (the job would silently run on the host), naming the process.
    """
    from ..config import build_scheduler_settings

    try:
        cls = get_scheduler_class(spec.scheduler)
    except ConfigError as exc:
        raise exc.within(proc=spec.name) from exc
    build_scheduler_settings(cls, spec.scheduler_opts, proc=spec.name)
    if spec.container and not cls.runs_containers:
        able = sorted(n for n, t in _BUILTIN.items() if n != spec.scheduler and _runs_containers(t))
        raise ConfigError(
            f"container {spec.container!r} is set, but the {spec.scheduler} scheduler cannot run jobs in "
            "a container yet: they would run on the host",
            proc=spec.name,
            key="container",
            hint=f"remove container, or run this process with scheduler = {' or '.join(map(repr, able))}",
        )
    return cls


def _runs_containers(target: str) -> bool:
    module_name, _, attr = target.partition(":")
    try:
        return bool(getattr(importlib.import_module(module_name), attr).runs_containers)
    except (ImportError, AttributeError):
        return False
