"""Schedulers: where jobs run. Plugin authors subclass :class:`Scheduler` (see ``pipework.testing``).

Built-in schedulers are ``local``, ``slurm``, ``sge`` and ``gbatch``; third-party ones register a
``Scheduler`` subclass under the entry-point group ``pipework.schedulers``::

    [project.entry-points."pipework.schedulers"]
    mycluster = "my_package.scheduler:MyClusterScheduler"
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
from importlib.metadata import entry_points

from ..errors import ConfigError
from ..job import Job
from ..state import JobState
from .base import JobEvent, NoSettings, Scheduler

__all__ = [
    "Job",
    "JobEvent",
    "JobState",
    "NoSettings",
    "Scheduler",
    "available",
    "get_scheduler_class",
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


def get_scheduler_class(name: str) -> type[Scheduler]:
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
    return cls
