"""SLURM: settings, pure command builders and output parsers, and the thin scheduler that uses them.

Commands (argv lists, never a shell string)::

    sbatch --parsable --job-name=pw-<run>-<proc> --array=0-999%8 --output=/dev/null --error=/dev/null
           --chdir=<proc dir> [--cpus-per-task N] [--mem NM] [--time M] [--gres gpu:N] [opts] <array script>
    squeue --noheader --array --states=all --user=<user> --name=<the run's job names>
           --format=%i|%T|%j|%r                                                     (ONE per poll)
    scancel <id>_<task> ...

Only :meth:`GridScheduler.run_command` runs them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..errors import SchedulerError
from ..resources import Resources
from ..state import JobState
from .grid import GridScheduler, TaskKey

__all__ = [
    "STATES",
    "SlurmScheduler",
    "SlurmSettings",
    "classify_error",
    "kill_argv",
    "parse_status",
    "parse_submit",
    "resource_args",
    "status_argv",
    "submit_argv",
]

#: SLURM job states (squeue %T) -> pipework states. A job in a final state stays in squeue for
#: MinJobAge seconds; the base then confirms it from job.rc.
STATES: dict[str, JobState] = {
    "PENDING": JobState.QUEUED,
    "CONFIGURING": JobState.QUEUED,
    "REQUEUED": JobState.QUEUED,
    "REQUEUE_HOLD": JobState.QUEUED,
    "REQUEUE_FED": JobState.QUEUED,
    "RESV_DEL_HOLD": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "COMPLETING": JobState.RUNNING,
    "SUSPENDED": JobState.RUNNING,
    "STOPPED": JobState.RUNNING,
    "SIGNALING": JobState.RUNNING,
    "STAGE_OUT": JobState.RUNNING,
    "RESIZING": JobState.RUNNING,
    "COMPLETED": JobState.DONE,
    "FAILED": JobState.FAILED,
    "TIMEOUT": JobState.FAILED,
    "OUT_OF_MEMORY": JobState.FAILED,
    "NODE_FAIL": JobState.FAILED,
    "BOOT_FAIL": JobState.FAILED,
    "DEADLINE": JobState.FAILED,
    "PREEMPTED": JobState.FAILED,
    "SPECIAL_EXIT": JobState.FAILED,
    "REVOKED": JobState.FAILED,
    "CANCELLED": JobState.KILLED,
}

#: States worth naming in a failure report (the job was ended by SLURM, not by its script).
NOTABLE = frozenset({"TIMEOUT", "OUT_OF_MEMORY", "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED"})

_TRANSIENT = re.compile(
    r"Socket timed out|Unable to contact slurm controller|Connection refused|"
    r"Slurm temporarily unable|Resource temporarily unavailable|Zero Bytes were transmitted|"
    r"Communication connection failure|try again",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True)
class SlurmSettings:
    """Options of the slurm scheduler (``scheduler_opts``).

    Attributes:
        partition: ``--partition``.
        account: ``--account``.
        qos: ``--qos``.
        extra_args: More ``sbatch`` arguments, e.g. ``["--constraint=avx2"]``.
        poll_interval: First (and shortest) wait between two status queries, in seconds.
        max_poll_interval: Longest wait between two status queries while no job ends, in seconds.
        array: Submit a process's jobs as job arrays.
        max_array_size: Most tasks in one array (keep it under the cluster's MaxArraySize).
        sbatch: The sbatch command.
        squeue: The squeue command.
        scancel: The scancel command.
    """

    partition: str | None = field(default=None, metadata={"help": "--partition"})
    account: str | None = field(default=None, metadata={"help": "--account"})
    qos: str | None = field(default=None, metadata={"help": "--qos"})
    extra_args: list[str] = field(default_factory=list, metadata={"help": "more sbatch arguments"})
    poll_interval: float = field(default=1.0, metadata={"help": "first wait between status queries (s)"})
    max_poll_interval: float = field(
        default=30.0, metadata={"help": "longest wait between status queries while nothing ends (s)"}
    )
    array: bool = field(default=True, metadata={"help": "submit job arrays"})
    max_array_size: int = field(default=1000, metadata={"help": "most tasks in one array"})
    sbatch: str = field(default="sbatch", metadata={"help": "the sbatch command"})
    squeue: str = field(default="squeue", metadata={"help": "the squeue command"})
    scancel: str = field(default="scancel", metadata={"help": "the scancel command"})

    def __post_init__(self) -> None:
        if self.max_array_size < 1:
            from ..errors import ConfigError

            raise ConfigError(f"slurm option max_array_size must be >= 1, got {self.max_array_size}")


def compress_ids(ids: Sequence[int]) -> str:
    """``[0, 1, 2, 5, 7, 8]`` -> ``"0-2,5,7-8"`` (an ``--array`` spec)."""
    parts: list[str] = []
    ordered = sorted(set(ids))
    i = 0
    while i < len(ordered):
        j = i
        while j + 1 < len(ordered) and ordered[j + 1] == ordered[j] + 1:
            j += 1
        parts.append(str(ordered[i]) if i == j else f"{ordered[i]}-{ordered[j]}")
        i = j + 1
    return ",".join(parts)


def format_time(seconds: int) -> str:
    """Seconds -> SLURM ``D-HH:MM:SS``."""
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    clock = f"{hours:02d}:{minutes:02d}:{secs:02d}"
    return f"{days}-{clock}" if days else clock


def resource_args(res: Resources) -> list[str]:
    """Portable resources -> sbatch options (memory per job, in MiB)."""
    args = []
    if res.cpus:
        args.append(f"--cpus-per-task={res.cpus}")
    if res.mem_mib:
        args.append(f"--mem={res.mem_mib}M")
    if res.time_s:
        args.append(f"--time={format_time(res.time_s)}")
    if res.gpus:
        args.append(f"--gres=gpu:{res.gpus}")
    return args


def submit_argv(
    settings: SlurmSettings,
    *,
    name: str,
    script: str,
    task_ids: Sequence[int] | None,
    throttle: int | None,
    resources: Resources,
    chdir: str,
) -> list[str]:
    """The sbatch command for an array (``task_ids``) or a single job (None)."""
    argv = [settings.sbatch, "--parsable", f"--job-name={name}"]
    if task_ids is not None:
        spec = compress_ids(task_ids)
        argv.append(f"--array={spec}%{throttle}" if throttle else f"--array={spec}")
    argv += ["--output=/dev/null", "--error=/dev/null", f"--chdir={chdir}"]
    argv += resource_args(resources)
    for flag, value in (
        ("--partition", settings.partition),
        ("--account", settings.account),
        ("--qos", settings.qos),
    ):
        if value:
            argv.append(f"{flag}={value}")
    argv += list(settings.extra_args)
    argv.append(script)
    return argv


def parse_submit(stdout: str) -> str:
    """The job id from ``sbatch --parsable`` (``123`` or ``123;cluster``).

    Raises:
        SchedulerError: If the output holds no job id.
    """
    line = stdout.strip().splitlines()[-1] if stdout.strip() else ""
    jid = line.split(";", 1)[0].strip()
    if not jid.isdigit():
        raise SchedulerError(f"sbatch printed no job id: {stdout.strip()[:200]!r}")
    return jid


def status_argv(settings: SlurmSettings, *, user: str, names: Sequence[str]) -> list[str]:
    """ONE squeue for all the run's jobs: by job name (the run's array names), one line per task.

    ``--states=all`` keeps jobs that ended in the answer for MinJobAge seconds, so a job ended by SLURM
    (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL) is seen as such without another query.
    """
    return [
        settings.squeue,
        "--noheader",
        "--array",
        "--states=all",
        f"--user={user}",
        f"--name={','.join(names)}",
        "--format=%i|%T|%j|%r",
    ]


_TASK_RANGE = re.compile(r"^(\d+)_\[([^\]]+)\]$")


def _expand(spec: str) -> list[int]:
    """``0-3,7%2`` -> ``[0, 1, 2, 3, 7]``."""
    out: list[int] = []
    for part in spec.split("%", 1)[0].split(","):
        if "-" in part:
            lo, _, hi = part.partition("-")
            out.extend(range(int(lo), int(hi) + 1))
        elif part.strip():
            out.append(int(part))
    return out


def parse_status(stdout: str, *, prefix: str) -> dict[TaskKey, JobState]:
    """Parse ``squeue --format=%i|%T|%j|%r`` into states by (job id, task id).

    Lines of jobs whose name does not start with ``prefix`` are skipped; an unknown state counts as
    running (the job is still in the queue), so a new SLURM state never ends a job early.
    """
    out: dict[TaskKey, JobState] = {}
    for line in stdout.splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.strip().split("|")
        if len(fields) < 3:
            continue
        jid, state, name = fields[0].strip(), fields[1].strip().split()[0], fields[2].strip()
        if not name.startswith(prefix):
            continue
        mapped = STATES.get(state.rstrip("+"), JobState.RUNNING)
        ranged = _TASK_RANGE.match(jid)
        if ranged:
            for task_id in _expand(ranged.group(2)):
                out[(ranged.group(1), task_id)] = mapped
        elif "_" in jid:
            head, _, task = jid.partition("_")
            if task.isdigit():
                out[(head, int(task))] = mapped
        else:
            out[(jid, None)] = mapped
    return out


def native_states(stdout: str, *, prefix: str) -> dict[TaskKey, str]:
    """The SLURM state names of notable endings (TIMEOUT, OUT_OF_MEMORY, ...) by (job id, task id)."""
    out: dict[TaskKey, str] = {}
    for line in stdout.splitlines():
        fields = line.strip().split("|")
        if len(fields) >= 3 and fields[2].strip().startswith(prefix):
            state = fields[1].strip().split()[0].rstrip("+") if fields[1].strip() else ""
            if state in NOTABLE and "_" in fields[0] and fields[0].partition("_")[2].isdigit():
                head, _, task = fields[0].strip().partition("_")
                out[(head, int(task))] = state
            elif state in NOTABLE:
                out[(fields[0].strip(), None)] = state
    return out


def kill_argv(settings: SlurmSettings, ids: Sequence[str]) -> list[str]:
    """scancel for these job ids (``123`` or ``123_4``)."""
    return [settings.scancel, *ids]


def classify_error(argv: Sequence[str], rc: int, stderr: str) -> SchedulerError:
    """A failed SLURM command as an error; controller hiccups are transient."""
    text = stderr.strip().splitlines()
    message = text[-1] if text else f"exit code {rc}"
    transient = bool(_TRANSIENT.search(stderr))
    hint = None
    if "Invalid partition" in stderr:
        hint = "check scheduler_opts partition (sinfo lists them)"
    elif "Requested node configuration is not available" in stderr:
        hint = "the resources (cpus, mem, gpus) exceed every node of the partition"
    elif transient:
        hint = "the SLURM controller did not answer; pipework retries a few times"
    return SchedulerError(f"{argv[0]} failed: {message}", transient=transient, hint=hint)


class SlurmScheduler(GridScheduler):
    """Run jobs on a SLURM cluster, as job arrays, with one ``squeue`` per poll for the whole run."""

    name = "slurm"
    Settings = SlurmSettings
    task_env = "SLURM_ARRAY_TASK_ID"
    first_task = 0
    task_sep = "_"
    _notable: dict[TaskKey, str]

    def submit_argv(self, settings: Any, **kw: Any) -> list[str]:
        """See :func:`submit_argv`."""
        return submit_argv(settings, **kw)

    def parse_submit(self, stdout: str) -> str:
        """See :func:`parse_submit`."""
        return parse_submit(stdout)

    def status_argv(self, *, user: str, names: Sequence[str]) -> list[str]:
        """See :func:`status_argv`."""
        return status_argv(self.settings, user=user, names=names)

    def parse_status(self, stdout: str, *, prefix: str) -> Mapping[TaskKey, JobState]:
        """See :func:`parse_status`; also keeps notable SLURM states for failure reports."""
        self._notable = native_states(stdout, prefix=prefix)
        return parse_status(stdout, prefix=prefix)

    async def statuses(self, jobs: Sequence[Any]) -> Mapping[Any, JobState]:
        """One squeue for all jobs; a job ended by SLURM (TIMEOUT, OUT_OF_MEMORY...) is named so."""
        self._notable = {}
        states = await super().statuses(jobs)
        for job in jobs:
            if job.jid and (native := self._notable.get(self.split_jid(job.jid))):
                job.native_state = native
        return states

    def kill_argv(self, ids: Sequence[str]) -> list[str]:
        """See :func:`kill_argv`."""
        return kill_argv(self.settings, ids)

    def classify_error(self, argv: Sequence[str], rc: int, stderr: str) -> SchedulerError:
        """See :func:`classify_error`."""
        return classify_error(argv, rc, stderr)
