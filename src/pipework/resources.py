"""Portable job resources (``cpus``, ``mem``, ``time``, ``gpus``) and their parsing.

Users write ``resources = {"cpus": 4, "mem": "8G", "time": "2h", "gpus": 1}`` on a process or pipeline;
each scheduler translates a :class:`Resources` into its own options.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from .errors import ConfigError

__all__ = ["Resources", "parse_memory", "parse_time"]

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

        Raises:
            ConfigError: For an unknown key or a value of the wrong kind.
        """
        if value is None:
            return cls()
        if isinstance(value, Resources):
            return value
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where} must be a mapping like {{'cpus': 2, 'mem': '4G'}}, got {value!r}")
        unknown = set(value) - {"cpus", "mem", "time", "gpus"}
        if unknown:
            raise ConfigError(
                f"{where} has unknown key(s) {sorted(unknown)}",
                hint="portable resources are cpus, mem, time and gpus; "
                "put scheduler-specific options in scheduler_opts",
            )

        def count(key: str) -> int | None:
            v = value.get(key)
            if v is None:
                return None
            if isinstance(v, bool) or not isinstance(v, int) or v < (0 if key == "gpus" else 1):
                raise ConfigError(f"{where}.{key} must be a positive int, got {v!r}")
            return v

        mem = value.get("mem")
        time = value.get("time")
        return cls(
            cpus=count("cpus"),
            mem_mib=None if mem is None else parse_memory(mem, where=f"{where}.mem"),  # type: ignore[arg-type]
            time_s=None if time is None else parse_time(time, where=f"{where}.time"),  # type: ignore[arg-type]
            gpus=count("gpus"),
        )
