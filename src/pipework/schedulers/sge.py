"""Son of Grid Engine / Univa-style SGE: settings, pure builders and parsers, and the thin scheduler.

Commands (argv lists, never a shell string)::

    qsub -terse -V -N pw-<run>-<proc> -t 1-1000 -tc 8 -o /dev/null -e /dev/null -S /bin/bash -wd <proc dir>
         [-pe smp N] [-l h_vmem=<MiB per slot>M,h_rt=HH:MM:SS] [-q Q] [-P P] [opts] <array script>
    qstat -xml -u <user>                          (ONE per poll; full job names, one entry per task)
    qdel <id>.<task> ...

Only :meth:`GridScheduler.run_command` runs them.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import ConfigError, SchedulerError
from ..job import Job
from ..resources import Resources
from ..state import JobState
from .grid import GridScheduler, TaskKey

__all__ = [
    "SgeScheduler",
    "SgeSettings",
    "classify_error",
    "kill_argv",
    "map_state",
    "parse_status",
    "parse_submit",
    "resource_args",
    "status_argv",
    "submit_argv",
]

#: Seconds between the soft time limit (s_rt, SIGUSR1) and the hard one (h_rt, SIGKILL).
HARD_LIMIT_MARGIN = 30

_TRANSIENT = re.compile(
    r"unable to contact qmaster|commlib error|failed receiving gdi request|"
    r"unable to send message to qmaster|can't unpack|timeout|try again later",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class SgeSettings:
    """Options of the sge scheduler (``scheduler_opts``).

    Attributes:
        queue: ``-q``.
        pe: The parallel environment for ``cpus`` > 1 (``-pe <pe> N``).
        project: ``-P``.
        mem_resource: The resource that limits memory, per slot (``h_vmem``; some sites use ``mem_free``).
        gpu_resource: The consumable resource for GPUs (``-l <name>=N``), if the cell has one.
        extra_args: More ``qsub`` arguments.
        poll_interval: First (and shortest) wait between two status queries, in seconds.
        max_poll_interval: Longest wait between two status queries while no job ends, in seconds.
        array: Submit a process's jobs as array jobs.
        max_array_size: Most tasks in one array (keep it under the cell's max_aj_tasks).
        qsub: The qsub command.
        qstat: The qstat command.
        qdel: The qdel command.
    """

    queue: str | None = field(default=None, metadata={"help": "-q"})
    pe: str = field(default="smp", metadata={"help": "parallel environment for cpus > 1"})
    project: str | None = field(default=None, metadata={"help": "-P"})
    mem_resource: str = field(default="h_vmem", metadata={"help": "memory resource, per slot"})
    gpu_resource: str | None = field(default=None, metadata={"help": "GPU consumable, e.g. gpu"})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "more qsub arguments"})
    poll_interval: float = field(default=1.0, metadata={"help": "first wait between status queries (s)"})
    max_poll_interval: float = field(
        default=30.0, metadata={"help": "longest wait between status queries while nothing ends (s)"}
    )
    array: bool = field(default=True, metadata={"help": "submit array jobs"})
    max_array_size: int = field(default=1000, metadata={"help": "most tasks in one array"})
    qsub: str = field(default="qsub", metadata={"help": "the qsub command"})
    qstat: str = field(default="qstat", metadata={"help": "the qstat command"})
    qdel: str = field(default="qdel", metadata={"help": "the qdel command"})

    def __post_init__(self) -> None:
        if self.max_array_size < 1:
            raise ConfigError(f"sge option max_array_size must be >= 1, got {self.max_array_size}")


def format_time(seconds: int) -> str:
    """Seconds -> ``HH:MM:SS`` (hours may exceed 24)."""
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}"


def resource_args(settings: SgeSettings, res: Resources) -> list[str]:
    """Portable resources -> qsub options. SGE counts memory per slot: ``mem`` is divided by ``cpus``.

    Raises:
        ConfigError: For GPUs when the cell has no GPU resource configured.
    """
    args: list[str] = []
    slots = res.cpus or 1
    if slots > 1:
        args += ["-pe", settings.pe, str(slots)]
    limits = []
    if res.mem_mib:
        limits.append(f"{settings.mem_resource}={-(-res.mem_mib // slots)}M")
    if res.time_s:
        # at s_rt SGE sends SIGUSR1: the job wrapper ends the script and writes job.rc (138) with a
        # note in job.stderr; h_rt, which SIGKILLs, is only the backstop
        limits.append(f"h_rt={format_time(res.time_s + HARD_LIMIT_MARGIN)}")
        limits.append(f"s_rt={format_time(res.time_s)}")
    if res.gpus:
        if not settings.gpu_resource:
            raise ConfigError(
                "resources.gpus needs the name of the cell's GPU resource",
                hint="set scheduler_opts gpu_resource (qconf -sc lists the consumables, e.g. 'gpu')",
            )
        limits.append(f"{settings.gpu_resource}={res.gpus}")
    if limits:
        args += ["-l", ",".join(limits)]
    return args


def submit_argv(
    settings: SgeSettings,
    *,
    name: str,
    script: str,
    task_ids: Sequence[int] | None,
    throttle: int | None,
    resources: Resources,
    chdir: str,
) -> list[str]:
    """The qsub command for an array (``task_ids`` 1..n, consecutive) or a single job (None).

    Raises:
        ConfigError: For task ids that are not 1..n (SGE arrays are ranges).
    """
    argv = [settings.qsub, "-terse", "-V", "-N", name]
    if task_ids is not None:
        first, last = min(task_ids), max(task_ids)
        if sorted(task_ids) != list(range(first, last + 1)):
            raise ConfigError(f"SGE array task ids must be consecutive, got {list(task_ids)[:10]}")
        argv += ["-t", f"{first}-{last}"]
        if throttle:
            argv += ["-tc", str(throttle)]
    argv += ["-o", "/dev/null", "-e", "/dev/null", "-S", "/bin/bash", "-wd", chdir]
    argv += resource_args(settings, resources)
    if settings.queue:
        argv += ["-q", settings.queue]
    if settings.project:
        argv += ["-P", settings.project]
    argv += list(settings.extra_args)
    argv.append(script)
    return argv


def parse_submit(stdout: str) -> str:
    """The job id from ``qsub -terse``: ``123`` or, for an array, ``123.1-10:1``.

    Raises:
        SchedulerError: If the output holds no job id.
    """
    line = stdout.strip().splitlines()[-1].strip() if stdout.strip() else ""
    jid = line.split(".", 1)[0]
    if not jid.isdigit():
        raise SchedulerError(f"qsub printed no job id: {stdout.strip()[:200]!r}")
    return jid


def status_argv(settings: SgeSettings, *, user: str) -> list[str]:
    """ONE qstat for all the user's jobs, as XML (full names, one entry per running task)."""
    return [settings.qstat, "-xml", "-u", user]


def map_state(code: str) -> JobState:
    """An SGE state code (``qw``, ``hqw``, ``r``, ``t``, ``Eqw``, ``dr``, ``s``, ...) as a job state.

    Error states (``E``) are FAILED: such a job never runs until an admin clears it.
    """
    if "E" in code:
        return JobState.FAILED
    if "d" in code:
        return JobState.KILLED
    if any(c in code for c in "rtRsST"):
        return JobState.RUNNING
    return JobState.QUEUED


def _tasks(spec: str) -> list[int]:
    """``4-10:2`` -> ``[4, 6, 8, 10]``; ``7`` -> ``[7]``; ``1,3-4`` -> ``[1, 3, 4]``."""
    out: list[int] = []
    for part in spec.split(","):
        part = part.strip()
        if not part:
            continue
        rng, _, step = part.partition(":")
        lo, _, hi = rng.partition("-")
        out.extend(range(int(lo), int(hi or lo) + 1, int(step or 1)))
    return out


def parse_status(stdout: str, *, prefix: str) -> dict[TaskKey, tuple[JobState, str]]:
    """Parse ``qstat -xml`` into (state, native code) by (job id, task id or None).

    Jobs whose name does not start with ``prefix`` are skipped.

    Raises:
        SchedulerError: If the output is not qstat's XML.
    """
    if not stdout.strip():
        return {}
    try:
        root = ET.fromstring(stdout)
    except ET.ParseError as exc:
        raise SchedulerError(f"qstat -xml printed something else: {stdout.strip()[:200]!r}") from exc
    out: dict[TaskKey, tuple[JobState, str]] = {}
    for entry in root.iter("job_list"):
        name = entry.findtext("JB_name") or ""
        if not name.startswith(prefix):
            continue
        jid = (entry.findtext("JB_job_number") or "").strip()
        code = (entry.findtext("state") or "").strip()
        tasks = (entry.findtext("tasks") or "").strip()
        value = (map_state(code), code)
        if tasks:
            for task in _tasks(tasks):
                out[(jid, task)] = value
        else:
            out[(jid, None)] = value
    return out


def kill_argv(settings: SgeSettings, ids: Sequence[str]) -> list[str]:
    """qdel for these ids (``123`` or ``123.4``)."""
    return [settings.qdel, *ids]


def classify_error(argv: Sequence[str], rc: int, stderr: str) -> SchedulerError:
    """A failed SGE command as an error; qmaster hiccups are transient."""
    lines = [line for line in stderr.strip().splitlines() if line.strip() and line.strip() != "Exiting."]
    message = lines[-1] if lines else f"exit code {rc}"
    transient = bool(_TRANSIENT.search(stderr))
    hint = None
    if "unknown queue" in stderr:
        hint = "check scheduler_opts queue (qconf -sql lists them)"
    elif "parallel environment" in stderr:
        hint = "check scheduler_opts pe (qconf -spl lists them)"
    elif transient:
        hint = "the SGE qmaster did not answer; pipework retries a few times"
    return SchedulerError(f"{argv[0]} failed: {message}", transient=transient, hint=hint)


class SgeScheduler(GridScheduler):
    """Run jobs on an SGE cell, as array jobs, with one ``qstat`` per poll for the whole run."""

    name = "sge"
    Settings = SgeSettings
    task_env = "SGE_TASK_ID"
    first_task = 1
    task_sep = "."
    _codes: dict[TaskKey, str]

    def submit_argv(self, settings: Any, **kw: Any) -> list[str]:
        """See :func:`submit_argv`."""
        return submit_argv(settings, **kw)

    def parse_submit(self, stdout: str) -> str:
        """See :func:`parse_submit`."""
        return parse_submit(stdout)

    def status_argv(self, *, user: str, names: Sequence[str]) -> list[str]:
        """See :func:`status_argv` (SGE filters by user; names are matched by prefix when parsing)."""
        return status_argv(self.settings, user=user)

    def parse_status(self, stdout: str, *, prefix: str) -> Mapping[TaskKey, JobState]:
        """See :func:`parse_status`; error-state codes are kept for the failure report."""
        parsed = parse_status(stdout, prefix=prefix)
        self._codes = {key: code for key, (_, code) in parsed.items()}
        return {key: state for key, (state, _) in parsed.items()}

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        """One qstat for all jobs. Jobs stuck in an error state (Eqw) are deleted and reported."""
        self._codes = {}
        states = await super().statuses(jobs)
        stuck = []
        for job, state in states.items():
            if job.jid and state is JobState.FAILED:
                code = self._codes.get(self.split_jid(job.jid), "E")
                job.native_state = f"{code}: SGE could not start it; `qstat -j {job.jid}` says why"
                stuck.append(job)
        if stuck:
            await self.kill(stuck)  # an Eqw job would otherwise wait in the queue forever
        return states

    def kill_argv(self, ids: Sequence[str]) -> list[str]:
        """See :func:`kill_argv`."""
        return kill_argv(self.settings, ids)

    def classify_error(self, argv: Sequence[str], rc: int, stderr: str) -> SchedulerError:
        """See :func:`classify_error`."""
        return classify_error(argv, rc, stderr)
