"""Portable job resources (``cpus``, ``mem``, ``time``, ``gpus``), their parsing, and their values per
attempt.

Users write ``resources = {"cpus": 4, "mem": "8G", "time": "2h", "gpus": 1}`` on a process or pipeline;
each scheduler translates a :class:`Resources` into its own options. A value may also be a function of
the job, called for each job at each attempt with a read-only :class:`JobView`::

    resources = {"mem": lambda job: f"{4 * job.attempt}G"}     # 4G, then 8G, then 12G
    resource_limits = {"mem": "64G"}                            # never more than this

:func:`split_functions` separates the functions from the literal values when a process is read,
:func:`resolve` evaluates them for one attempt, checks what they return like a literal value and caps
it by ``resource_limits``.
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, PipeworkError

__all__ = [
    "JobFunction",
    "JobView",
    "Resources",
    "call_functions",
    "format_memory",
    "format_time",
    "is_job_function",
    "parse_memory",
    "parse_time",
    "resolve",
    "split_functions",
]

#: A function of the job (a :class:`JobView`) giving a resource or scheduler option for one attempt.
JobFunction = Callable[[Any], Any]

#: The portable resource keys.
KEYS = ("cpus", "mem", "time", "gpus")

_MEM_UNITS = {"": 1, "k": 1 / 1024, "m": 1, "g": 1024, "t": 1024 * 1024}
_MEM_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_TIME_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_TIME_PART_RE = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd])", re.IGNORECASE)


def parse_memory(value: int | str, *, where: str = "resources.mem") -> int:
    """Parse a memory amount into MiB.

    Args:
        value: An int (MiB) or a string such as ``"512M"``, ``"8G"``, ``"1.5GB"``, ``"2TiB"``.
        where: The name of the setting, for the error message.

    Returns:
        The amount in MiB, rounded up, at least 1.

    Raises:
        ConfigError: If the value is not a positive amount.
    """
    if isinstance(value, bool):
        raise ConfigError(f"{where} must be an amount like '8G', not {value!r}")
    if isinstance(value, int):
        mib = float(value)
    else:
        m = _MEM_RE.match(str(value))
        if not m:
            raise ConfigError(
                f"{where} is {value!r}, which is not a memory amount",
                hint="write it as MiB (an int) or with a unit: '512M', '8G', '1T'",
            )
        mib = float(m.group(1)) * _MEM_UNITS[m.group(2).lower()]
    if mib <= 0:
        raise ConfigError(f"{where} must be positive, got {value!r}")
    return max(1, int(-(-mib // 1)))


def parse_time(value: int | str, *, where: str = "resources.time") -> int:
    """Parse a duration into seconds.

    Args:
        value: An int (seconds), ``"90"``, ``"HH:MM:SS"``, ``"D-HH:MM:SS"`` or units like ``"1h30m"``,
            ``"2d"``.
        where: The name of the setting, for the error message.

    Returns:
        The duration in seconds, at least 1.

    Raises:
        ConfigError: If the value is not a positive duration.
    """
    bad = ConfigError(
        f"{where} is {value!r}, which is not a duration",
        hint="write seconds (an int), 'HH:MM:SS', 'D-HH:MM:SS' or '1h30m'",
    )
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int):
        seconds = float(value)
    else:
        text = str(value).strip()
        if re.fullmatch(r"\d+", text):
            seconds = float(text)
        elif re.fullmatch(r"(\d+-)?\d+(:\d{1,2}){1,2}", text):
            days, _, clock = text.rpartition("-")
            parts = [int(p) for p in clock.split(":")]
            while len(parts) < 3:
                parts.insert(0, 0)
            h, m, s = parts
            seconds = (int(days) if days else 0) * 86400 + h * 3600 + m * 60 + s
        elif _TIME_PART_RE.fullmatch(text.replace(" ", "")) or re.fullmatch(
            r"((\d+(?:\.\d+)?)[smhd])+", text.replace(" ", ""), re.IGNORECASE
        ):
            seconds = sum(
                float(n) * _TIME_UNITS[u.lower()] for n, u in _TIME_PART_RE.findall(text.replace(" ", ""))
            )
        else:
            raise bad
    if seconds <= 0:
        raise ConfigError(f"{where} must be positive, got {value!r}")
    return max(1, int(-(-seconds // 1)))


@dataclass(frozen=True)
class Resources:
    """What one job needs, in portable units.

    Attributes:
        cpus: CPU cores per job.
        mem_mib: Memory per job, in MiB.
        time_s: Wall-time limit per job, in seconds.
        gpus: GPUs per job.
    """

    cpus: int | None = None
    mem_mib: int | None = None
    time_s: int | None = None
    gpus: int | None = None

    @classmethod
    def parse(cls, value: Mapping[str, object] | None, *, where: str = "resources") -> Resources:
        """Build resources from a user mapping such as ``{"cpus": 2, "mem": "4G", "time": "1h"}``.

        A value that is a function of the job is checked (it must take the job) and left out: see
        :func:`split_functions` and :func:`resolve`.

        Raises:
            ConfigError: For an unknown key, a value of the wrong kind, or a function that cannot take
                the job.
        """
        if value is None:
            return cls()
        if isinstance(value, Resources):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping like {{'cpus': 2, 'mem': '4G'}}, got {value!r}")
        unknown = set(value) - set(KEYS)
        if unknown:
            raise ConfigError(
                f"{where} has unknown key(s) {sorted(unknown)}",
                hint="portable resources are cpus, mem, time and gpus; "
                "put scheduler-specific options in scheduler_opts",
            )
        literal, _ = split_functions(value, where=where)

        def count(key: str) -> int | None:
            v = literal.get(key)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "gpus" else 1):
                raise ConfigError(f"{where}.{key} must be a positive int, got {v!r}")
            return v

        mem = literal.get("mem")
        time = literal.get("time")
        return cls(
            cpus=count("cpus"),
            mem_mib=None if mem is None else parse_memory(mem, where=f"{where}.mem"),
            time_s=None if time is None else parse_time(time, where=f"{where}.time"),
            gpus=count("gpus"),
        )

    def value(self, key: str) -> int | None:
        """The value of a portable key (``mem`` in MiB, ``time`` in seconds)."""
        return getattr(self, _FIELDS[key])  # type: ignore[no-any-return]

    def over(self, limits: Resources) -> list[str]:
        """The keys whose value is over the same key of ``limits``."""
        return [
            k
            for k in KEYS
            if (v := self.value(k)) is not None and (cap := limits.value(k)) is not None and v > cap
        ]

    def capped(self, limits: Resources) -> Resources:
        """These resources with every value over ``limits`` lowered to the limit."""
        over = self.over(limits)
        return dataclasses.replace(self, **{_FIELDS[k]: limits.value(k) for k in over}) if over else self

    def updated(self, other: Resources) -> Resources:
        """These resources with the values ``other`` sets put over them."""
        changes = {f: v for f in _FIELDS.values() if (v := getattr(other, f)) is not None}
        return dataclasses.replace(self, **changes) if changes else self

    def show(self, key: str) -> str:
        """One value as a user writes it: ``mem=8G``, ``time=1h30m``, ``cpus=4``."""
        v = self.value(key)
        if v is None:
            return f"{key}=none"
        if key == "mem":
            return f"mem={format_memory(v)}"
        if key == "time":
            return f"time={format_time(v)}"
        return f"{key}={v}"

    def changes(self, before: Resources) -> list[str]:
        """The keys whose value differs from ``before``."""
        return [k for k in KEYS if self.value(k) != before.value(k)]


_FIELDS = {"cpus": "cpus", "mem": "mem_mib", "time": "time_s", "gpus": "gpus"}


def format_memory(mib: int) -> str:
    """MiB as a user writes it: ``8G`` when whole gibibytes, else ``1536M``."""
    return f"{mib // 1024}G" if mib % 1024 == 0 else f"{mib}M"


def format_time(seconds: int) -> str:
    """Seconds as a user writes them: ``1d2h``, ``1h30m``, ``20m``, ``45s``."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        n, seconds = divmod(seconds, size)
        if n:
            parts.append(f"{n}{unit}")
    return "".join(parts) or "0s"


# -- values that are functions of the job ------------------------------------------------------------

#: What the error of a function of the job suggests.
_FUNCTION_HINT = (
    "it is called with the job: job.attempt (1, 2, ...), job.index, job.in_.<input> and job.reason "
    "(why the previous attempt failed: oom, timeout, node_fail, preempted, cancelled or exit; None on "
    "the first); return a value as you would write it, e.g. lambda job: f'{4 * job.attempt}G'"
)


class JobView:
    """What a function in ``resources`` or ``scheduler_opts`` sees of a job (read-only).

    ``in`` is a Python keyword: write ``job.in_.reads`` (``getattr(job, "in")`` is the same).

    Attributes:
        proc: The process name.
        index: The job's index in its process (0-based).
        attempt: The attempt about to be submitted (1 for the first).
        in_: The job's input values, by name as attributes (``job.in_.reads``), like ``in`` in templates.
        reason: Why the previous attempt failed (``oom``, ``timeout``, ``node_fail``, ``preempted``,
            ``cancelled``, ``exit``); None on the first attempt.
    """

    __slots__ = ("attempt", "in_", "index", "proc", "reason")
    proc: str
    index: int
    attempt: int
    in_: Any
    reason: str | None

    def __init__(self, *, proc: str, index: int, attempt: int, in_: Any, reason: str | None = None) -> None:
        for name, value in (("proc", proc), ("index", index), ("attempt", attempt), ("in_", in_)):
            object.__setattr__(self, name, value)
        object.__setattr__(self, "reason", reason)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"a job seen by a resources function is read-only: {name!r} cannot be set")

    def __getattr__(self, name: str) -> Any:
        if name == "in":
            return self.in_
        raise AttributeError(f"a job seen by a resources function has no {name!r}: {_FUNCTION_HINT}")

    def __repr__(self) -> str:
        return f"<job {self.proc}[{self.index}] attempt {self.attempt}, reason {self.reason}>"


def is_job_function(value: object) -> bool:
    """True when a resources or scheduler_opts value is a function of the job (not a literal)."""
    return callable(value) and not isinstance(value, type)


def split_functions(
    values: Mapping[str, Any], *, where: str
) -> tuple[dict[str, Any], dict[str, JobFunction]]:
    """Split a mapping into its literal values and its functions of the job.

    Raises:
        ConfigError: For a function that cannot be called with one argument (the job).
    """
    literal: dict[str, Any] = {}
    functions: dict[str, JobFunction] = {}
    for key, value in values.items():
        if not is_job_function(value):
            literal[key] = value
            continue
        try:
            signature = inspect.signature(value)
        except (TypeError, ValueError):  # a builtin without a signature: it is called as it is
            signature = None
        if signature is not None:
            try:
                signature.bind(None)
            except TypeError:
                raise ConfigError(
                    f"{where}.{key} is a function of {signature}, which cannot take the job",
                    key=f"{where.rpartition('.')[2]}.{key}",
                    hint="write a function of one argument, " + _FUNCTION_HINT.split("; ", 1)[1],
                ) from None
        functions[key] = value
    return literal, functions


def call_functions(functions: Mapping[str, JobFunction], view: JobView, *, what: str) -> dict[str, Any]:
    """Call each function with the job; a function returning None sets nothing.

    Args:
        functions: The functions, by key.
        view: The job and its attempt.
        what: ``resources`` or ``scheduler_opts``, for the error.

    Raises:
        ConfigError: For a function that raises or returns another function, naming the process, the
            job, the key, the attempt and the fix.
    """
    out: dict[str, Any] = {}
    for key, function in functions.items():
        try:
            value = function(view)
        except PipeworkError as exc:
            raise exc.within(
                proc=view.proc, job=view.index, doing=f"the {what}.{key} function (attempt {view.attempt})"
            ) from exc
        except Exception as exc:
            raise ConfigError(
                f"the {what}.{key} function raised {type(exc).__name__}: {exc} (attempt {view.attempt})",
                key=f"{what}.{key}",
                proc=view.proc,
                job=view.index,
                hint=_FUNCTION_HINT,
            ) from exc
        if is_job_function(value):
            raise ConfigError(
                f"the {what}.{key} function returned a function, {value!r} (attempt {view.attempt})",
                key=f"{what}.{key}",
                proc=view.proc,
                job=view.index,
                hint=_FUNCTION_HINT,
            )
        if value is not None:
            out[key] = value
    return out


def resolve(
    fixed: Resources, functions: Mapping[str, JobFunction], limits: Resources, view: JobView
) -> Resources:
    """The resources of one attempt: the literal ones, with the functions' values checked like literal
    values, then capped by ``resource_limits``.

    Raises:
        ConfigError: For a function that raises or returns a bad value, naming the process, the job,
            the key, the attempt and the fix.
    """
    if not functions:
        return fixed
    asked = Resources()
    for key, value in call_functions(functions, view, what="resources").items():
        try:
            one = Resources.parse({key: value})
        except ConfigError as exc:
            raise ConfigError(
                f"{exc.message} (returned by its function for attempt {view.attempt})",
                key=f"resources.{key}",
                proc=view.proc,
                job=view.index,
                hint=exc.hint or _FUNCTION_HINT,
            ) from exc
        asked = asked.updated(one)
    return fixed.updated(asked).capped(limits)
