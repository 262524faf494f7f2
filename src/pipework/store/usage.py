"""What a job's wrapper measured, from its ``job.usage`` file.

The wrapper (:mod:`pipework.wrapper`) writes ``job.usage`` on every exit path, before ``job.rc``, with
shell builtins only (no process is started to measure)::

    pipework-usage 1
    start 1712345678.123456       $EPOCHREALTIME when the wrapper started (whole seconds before bash 5)
    end 1712345679.234567         ... when it ended
    host node07                   $HOSTNAME
    rss 52428800                  the job's cgroup's peak memory (bytes), when the job has a cgroup of its own
    0m0.004s 0m0.002s             `times`: the wrapper shell's user and system CPU
    0m1.200s 0m0.300s             `times`: its children's (the script's commands)
"""

from __future__ import annotations

import concurrent.futures
import contextvars
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["USAGE_FILE", "Usage", "parse_usage", "read_cloud_usage", "read_usage"]

#: The file the wrapper writes in the directory the job runs in.
USAGE_FILE = "job.usage"
#: ``job.usage`` objects read from a bucket at a time (each is one small request).
PARALLEL_READS = 16

_TIMES = re.compile(r"^(\d+)m(\d+(?:[.,]\d+)?)s\s+(\d+)m(\d+(?:[.,]\d+)?)s$")


@dataclass(frozen=True)
class Usage:
    """One run of a job's wrapper, as it measured itself.

    Attributes:
        start: When it started (epoch seconds, the node's clock).
        end: When it ended.
        host: The host it ran on.
        cpu: User + system CPU of the wrapper and everything it ran (seconds).
        peak_rss: Peak memory of the job's cgroup (bytes), or None when it has none of its own.
    """

    start: float | None
    end: float | None
    host: str | None
    cpu: float | None
    peak_rss: int | None

    @property
    def wall(self) -> float | None:
        """Its wall time (seconds)."""
        if self.start is None or self.end is None:
            return None
        return max(0.0, self.end - self.start)


def _number(text: str) -> float | None:
    try:
        return float(text.replace(",", "."))
    except ValueError:
        return None


def parse_usage(text: str) -> Usage | None:
    """Parse a ``job.usage`` file; None for one that is not whole (or not one)."""
    lines = text.splitlines()
    if not lines or lines[0] != "pipework-usage 1" or not text.endswith("\n"):
        return None
    fields: dict[str, str] = {}
    cpu = 0.0
    timed = 0
    for line in lines[1:]:
        match = _TIMES.match(line.strip())
        if match:
            m1, s1, m2, s2 = match.groups()
            cpu += 60 * int(m1) + (_number(s1) or 0.0) + 60 * int(m2) + (_number(s2) or 0.0)
            timed += 1
            continue
        key, _, value = line.partition(" ")
        fields[key] = value.strip()
    rss = fields.get("rss", "")
    return Usage(
        start=_number(fields.get("start", "")),
        end=_number(fields.get("end", "")),
        host=fields.get("host") or None,
        cpu=round(cpu, 3) if timed else None,
        peak_rss=int(rss) if rss.isdigit() else None,
    )


def read_usage(run_dir: str) -> Usage | None:
    """The usage a job's wrapper left in ``run_dir`` (a local directory); None without one. Blocking."""
    try:  # plain system calls: this runs once per job
        fd = os.open(f"{run_dir.rstrip('/')}/{USAGE_FILE}", os.O_RDONLY)
    except OSError:
        return None
    try:
        data = os.read(fd, 4096)
    except OSError:
        return None
    finally:
        os.close(fd)
    return parse_usage(data.decode("utf-8", errors="replace"))


def _read_cloud(url: str) -> Usage | None:
    from .. import paths

    try:
        return parse_usage(paths.read_text(url))
    except Exception:  # a missing or unreadable file: the attempt keeps the driver's times
        return None


def read_cloud_usage(urls: Sequence[str]) -> dict[str, Usage | None]:
    """The usage in ``job.usage`` objects on a bucket (URLs), :data:`PARALLEL_READS` requests at a
    time, in the caller's context (the run's storage settings). Blocking."""
    if len(urls) <= 1:
        return {url: _read_cloud(url) for url in urls}
    with concurrent.futures.ThreadPoolExecutor(min(PARALLEL_READS, len(urls))) as pool:
        futures = {url: pool.submit(contextvars.copy_context().run, _read_cloud, url) for url in urls}
        return {url: future.result() for url, future in futures.items()}
