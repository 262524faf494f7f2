"""A job's process on this machine: started in a session of its own, its exit awaited without polling.

On Linux (pidfd, 5.3+) a process is started with ``posix_spawn`` and its exit read from a pidfd on the
event loop: no thread per process, no full fork of the driver. Elsewhere asyncio's subprocess support
is used. A process that is not our child (a job a killed driver left running) is awaited the same way.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import shutil
import sys
from collections.abc import Mapping
from typing import Any

from ..wrapper import parse_rc

__all__ = [
    "SIGNATURE",
    "Child",
    "group_alive",
    "pidfd_works",
    "previous_run",
    "read_pid",
    "runs_wrapper",
    "spawn_env",
    "wait_exit",
]

#: The signature a job staged by the driver was run for, kept in its local stage dir.
SIGNATURE = "job.signature.json"

#: An environment as ``posix_spawn`` takes it: names and values already encoded.
SpawnEnv = Mapping[bytes, bytes]


class Child:
    """A job's process, started in a session of its own, whose exit the event loop learns of.

    On Linux (pidfd, 5.3+) the process is started with ``posix_spawn`` and its exit is read from a pidfd
    on the event loop: no thread per process, no full fork of the driver. Elsewhere it falls back to
    asyncio's subprocess support.

    Attributes:
        pid: Its process id (and process group id).
        cpu_seconds: Once it ended, the CPU time (user + system) of it and the children it waited for,
            from its rusage; None where the exit is awaited through asyncio.
        peak_rss: Once it ended, the peak resident memory (bytes) of the largest of them; None likewise.
    """

    __slots__ = ("_proc", "cpu_seconds", "peak_rss", "pid")

    def __init__(self, pid: int, proc: asyncio.subprocess.Process | None) -> None:
        self.pid = pid
        self._proc = proc
        self.cpu_seconds: float | None = None
        self.peak_rss: int | None = None

    @classmethod
    async def start(cls, argv: list[str], *, devnull: int | None, env: SpawnEnv) -> Child:
        """Start ``argv`` with stdin/stdout/stderr on ``devnull`` (a descriptor; None: asyncio) and the
        environment ``env`` (see :func:`spawn_env`)."""
        if devnull is not None:
            exe = _which(argv[0])
            # vfork-based: returns once the child has exec'd (0.4-0.5 ms on an idle machine, 1-1.5 ms
            # while the jobs keep its cores busy, more as the driver's resident memory grows); it
            # releases the GIL meanwhile. Measured cheaper than handing the call to a worker thread,
            # whose GIL handoffs cost more than they save (more CPU, no shorter wall)
            pid = os.posix_spawn(
                exe,
                argv,
                env,
                file_actions=[(os.POSIX_SPAWN_DUP2, devnull, fd) for fd in (0, 1, 2)],
                setsid=True,
            )
            return cls(pid, None)
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            env=dict(env),
        )
        return cls(proc.pid, proc)

    async def wait(self) -> int:
        """Wait for the exit; return the exit code (negative: killed by that signal)."""
        if self._proc is not None:
            return await self._proc.wait()
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        fd = os.pidfd_open(self.pid)
        loop.add_reader(fd, _resolve, done)
        try:
            await done
        finally:
            loop.remove_reader(fd)
            os.close(fd)
        _, status, usage = os.wait4(self.pid, 0)
        self.cpu_seconds = usage.ru_utime + usage.ru_stime
        self.peak_rss = usage.ru_maxrss * 1024  # KiB on Linux, the only platform with pidfds
        return os.waitstatus_to_exitcode(status)


async def wait_exit(pid: int) -> None:
    """Wait for a process that is not our child to exit (a pidfd becomes readable; else polled)."""
    try:
        fd = os.pidfd_open(pid)
    except (OSError, AttributeError):
        while os.path.exists(f"/proc/{pid}"):
            await asyncio.sleep(0.2)
        return
    loop = asyncio.get_running_loop()
    done: asyncio.Future[None] = loop.create_future()
    loop.add_reader(fd, _resolve, done)
    try:
        await done
    finally:
        loop.remove_reader(fd)
        os.close(fd)


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


@functools.lru_cache(maxsize=32)
def _which(program: str) -> str:
    """The path of a program on PATH (cached; PATH does not change during a run)."""
    return shutil.which(program) or program


def spawn_env(env: Mapping[str, str]) -> dict[bytes, bytes]:
    """``env`` encoded once for many processes: ``posix_spawn`` given ``os.environ`` itself decodes and
    encodes every variable again for each process (a tenth of a millisecond per job)."""
    if env is os.environ and os.supports_bytes_environ:
        return dict(os.environb)
    return {os.fsencode(k): os.fsencode(v) for k, v in env.items()}


def pidfd_works() -> bool:
    """True where a process exit can be awaited through a pidfd (Linux 5.3+)."""
    if sys.platform != "linux" or not hasattr(os, "pidfd_open") or not hasattr(os, "posix_spawn"):
        return False
    try:
        os.close(os.pidfd_open(os.getpid()))
    except OSError:
        return False
    return True


def group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True


def read_pid(path: str) -> int | None:
    """The pid a job's wrapper wrote to ``path`` (its ``job.pid``); None when absent or not whole."""
    try:
        with open(path) as fh:
            text = fh.read()
    except OSError:
        return None
    return int(text) if text.endswith("\n") and text.strip().isdigit() else None


def runs_wrapper(pid: int, wrapper: str) -> bool:
    """True when ``pid`` is alive and runs the wrapper at path ``wrapper`` (not a recycled pid)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            cmdline = fh.read()
    except OSError:
        return False
    return wrapper.encode() in cmdline


def previous_run(stage_dir: str, signature: dict[str, Any] | None) -> tuple[int | None, int | None] | None:
    """What a previous driver left in a job's stage dir: ``(rc, None)`` when the job ended, ``(None,
    pid)`` while its wrapper runs; None when nothing is there for ``signature``."""
    try:
        with open(os.path.join(stage_dir, SIGNATURE)) as fh:
            if signature is None or json.loads(fh.read()) != signature:
                return None
        with open(os.path.join(stage_dir, "job.rc")) as fh:
            rc = parse_rc(fh.read())
    except FileNotFoundError:
        rc = None
    except (OSError, ValueError):
        return None
    if rc is not None:
        return rc, None
    try:
        with open(os.path.join(stage_dir, "job.pid")) as fh:
            pid = int(fh.read().strip())
    except (OSError, ValueError):
        return None
    return (None, pid) if runs_wrapper(pid, os.path.join(stage_dir, "job.wrapper")) else None
