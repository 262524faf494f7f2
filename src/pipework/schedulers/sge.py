"""Son of Grid Engine / Univa-style SGE: its settings, and a scheduler whose methods are the pure
builders and parsers.

Commands (argv lists, never a shell string)::

    qsub -terse -V -N pw-<run>-<proc> -t 1-1000 -tc 8 -o /dev/null -e /dev/null -S /bin/bash -wd <proc dir>
         [-pe smp N] [-l h_vmem=<MiB per slot>M,h_rt=HH:MM:SS] [-q Q] [-P P] [opts] <array script>
    qstat -xml -u <user>                          (ONE per poll; full job names, one entry per task)
    qdel <id>.<task> ...
    qacct -j 'pw-<run>-*'                         (once for the jobs of a poll that ended killed or
                                                   without job.rc: why, from exit_status and failed)

A job stuck in an error state (``Eqw``) is FAILED; the base deletes it once it is declared lost. Only
:meth:`GridScheduler.run_command` runs the commands.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from ..errors import ConfigError, SchedulerError
from ..job import Job
from ..resources import Resources, parse_memory, parse_time
from ..state import JobState
from .grid import GridScheduler, GridSettings, TaskKey, TaskStatus

__all__ = ["SgeScheduler", "SgeSettings", "accounting_kind", "map_state", "resource_args"]

#: Seconds between the soft time limit (s_rt, SIGUSR1) and the hard one (h_rt, SIGKILL).
HARD_LIMIT_MARGIN = 30

_TRANSIENT = re.compile(
    r"unable to contact qmaster|commlib error|failed receiving gdi request|"
    r"unable to send message to qmaster|can't unpack|timeout|try again later",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class SgeSettings(GridSettings):
    """Options of the sge scheduler (``scheduler_opts``): those of :class:`GridSettings` and these.

    Attributes:
        queue: ``-q``.
        pe: The parallel environment for ``cpus`` > 1 (``-pe <pe> N``).
        project: ``-P``.
        mem_resource: The resource that limits memory, per slot (``h_vmem``; some sites use ``mem_free``).
        gpu_resource: The consumable resource for GPUs (``-l <name>=N``), if the cell has one.
        qsub: The qsub command.
        qstat: The qstat command.
        qdel: The qdel command.
        qacct: The qacct command (None: never ask the accounting why a job failed).
    """

    queue: str | None = field(default=None, metadata={"help": "-q"})
    pe: str = field(default="smp", metadata={"help": "parallel environment for cpus > 1"})
    project: str | None = field(default=None, metadata={"help": "-P"})
    mem_resource: str = field(default="h_vmem", metadata={"help": "memory resource, per slot"})
    gpu_resource: str | None = field(default=None, metadata={"help": "GPU consumable, e.g. gpu"})
    qsub: str = field(default="qsub", metadata={"help": "the qsub command"})
    qstat: str = field(default="qstat", metadata={"help": "the qstat command"})
    qdel: str = field(default="qdel", metadata={"help": "the qdel command"})
    qacct: str | None = field(default="qacct", metadata={"help": "the qacct command (none: do not ask)"})


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
                key="gpu_resource",
                hint="set scheduler_opts gpu_resource (qconf -sc lists the consumables, e.g. 'gpu')",
            )
        limits.append(f"{settings.gpu_resource}={res.gpus}")
    if limits:
        args += ["-l", ",".join(limits)]
    return args


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


#: ``failed`` codes of the accounting: the job was killed by a limit (37: qmaster enforced h_rt, h_cpu
#: or h_vmem; 100: ended by a signal after it started), or its host failed it before it ran (1-21).
_KILLED = frozenset({37, 100})
_HOST_FAILED = frozenset(range(1, 22))
#: Exit statuses of a time limit: s_rt's SIGUSR1 (the wrapper's 138), SIGUSR2, s_cpu/h_cpu's SIGXCPU.
_TIME_STATUSES = frozenset({138, 140, 152})


def accounting_kind(record: dict[str, str]) -> str | None:
    """Why a job failed, from its ``qacct -j`` record: ``timeout`` for a time limit, ``oom`` for
    h_vmem (its peak ``maxvmem`` reached the limit), ``node_fail`` when its host failed it before it
    ran; None when the record tells nothing more than its exit status.
    """
    failed = _leading_int(record.get("failed", "0"))
    status = _leading_int(record.get("exit_status", "0"))
    limits = dict(re.findall(r"\b(h_rt|h_vmem)=([^,\s]+)", record.get("category", "")))
    wall = _leading_float(record.get("ru_wallclock", "0"))
    slots = max(1, _leading_int(record.get("slots", "1")))
    peak = _mib(record.get("maxvmem", "0"))
    h_rt = _limit(limits.get("h_rt"), parse_time)
    h_vmem = _limit(limits.get("h_vmem"), parse_memory)
    near_mem = h_vmem is not None and peak >= 0.9 * h_vmem * slots
    if status in _TIME_STATUSES:
        return "timeout"
    if failed in _KILLED or status == 137:
        if h_rt is not None and wall >= h_rt - 1:
            return "timeout"
        if near_mem:
            return "oom"
        if failed == 37 and (h_rt is None) != (h_vmem is None):  # the one limit it had
            return "timeout" if h_rt is not None else "oom"
        return None
    if failed in _HOST_FAILED:
        return "node_fail"
    return "oom" if status != 0 and near_mem else None


def parse_qacct(stdout: str) -> dict[str, dict[str, str]]:
    """``qacct -j`` records by job id (``123``, an array task ``123.4``); the last record of an id wins."""
    out: dict[str, dict[str, str]] = {}
    for block in re.split(r"^=+\s*$", stdout, flags=re.MULTILINE):
        record = {}
        for line in block.splitlines():
            key, _, value = line.strip().partition(" ")
            if key:
                record[key] = value.strip()
        number, task = record.get("jobnumber", ""), record.get("taskid", "undefined")
        if number.isdigit():
            out[number if not task.isdigit() else f"{number}.{task}"] = record
    return out


def _leading_int(text: str) -> int:
    found = re.match(r"\s*(-?\d+)", text)
    return int(found.group(1)) if found else 0


def _leading_float(text: str) -> float:
    found = re.match(r"\s*(\d+(?:\.\d+)?)", text)
    return float(found.group(1)) if found else 0.0


def _mib(text: str) -> float:
    """``3.492MB``, ``1.2GB``, ``0.000B`` (qacct's maxvmem) in MiB."""
    found = re.match(r"\s*(\d+(?:\.\d+)?)\s*([KMGT]?)B?", text)
    if not found:
        return 0.0
    scale = {"": 1 / 1048576, "K": 1 / 1024, "M": 1, "G": 1024, "T": 1048576}[found.group(2)]
    return float(found.group(1)) * scale


def _limit(text: str | None, parse: Callable[..., int]) -> int | None:
    if not text:
        return None
    try:
        return parse(text)
    except ConfigError:
        return None


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


class SgeScheduler(GridScheduler[SgeSettings]):
    """Run jobs on an SGE cell, as array jobs, with one ``qstat`` per poll for the whole run."""

    name = "sge"
    Settings = SgeSettings
    task_env = "SGE_TASK_ID"
    first_task = 1
    task_sep = "."

    @staticmethod
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

    @staticmethod
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

    @staticmethod
    def status_argv(settings: SgeSettings, *, user: str) -> list[str]:
        """ONE qstat for all the user's jobs, as XML (full names, one entry per running task)."""
        return [settings.qstat, "-xml", "-u", user]

    @staticmethod
    def parse_status(stdout: str, *, prefix: str) -> dict[TaskKey, TaskStatus]:
        """Parse ``qstat -xml`` into statuses by (job id, task id or None); the native word is the
        state code (``qw``, ``r``, ``Eqw``).

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
        out: dict[TaskKey, TaskStatus] = {}
        for entry in root.iter("job_list"):
            if not (entry.findtext("JB_name") or "").startswith(prefix):
                continue
            jid = (entry.findtext("JB_job_number") or "").strip()
            code = (entry.findtext("state") or "").strip()
            tasks = (entry.findtext("tasks") or "").strip()
            status = TaskStatus(map_state(code), code)
            if tasks:
                out.update(((jid, task), status) for task in _tasks(tasks))
            else:
                out[(jid, None)] = status
        return out

    @staticmethod
    def native_note(native: str, jid: str) -> str | None:
        """An error state (``Eqw``: the job will never run), for its failure report."""
        if "E" not in native:
            return None
        return f"{native}: SGE could not start it; `qstat -j {jid}` says why"

    @staticmethod
    def needs_accounting(native: str | None, rc: int | None) -> bool:
        """qacct is asked about a job that left no job.rc, or that a signal ended (a limit, a kill)."""
        return rc is None or rc >= 128

    def accounting_argv(
        self, jobs: Sequence[Job], raw_ids: Mapping[Job, str], *, after: SchedulerError | None = None
    ) -> list[str] | None:
        """ONE qacct for every job of the run (by name), whatever their number."""
        if after is not None or not self.settings.qacct:
            return None
        return [self.settings.qacct, "-j", f"pw-{self.run_tag}-*"]

    @staticmethod
    def parse_accounting(stdout: str) -> dict[str, str]:
        """Failure kinds by job id (``123``, ``123.4``) from ``qacct -j`` (see :func:`accounting_kind`)."""
        return {jid: kind for jid, record in parse_qacct(stdout).items() if (kind := accounting_kind(record))}

    @staticmethod
    def kill_argv(settings: SgeSettings, ids: Sequence[str]) -> list[str]:
        """qdel for these ids (``123`` or ``123.4``)."""
        return [settings.qdel, *ids]

    @staticmethod
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
