"""SLURM: its settings, state table, and a scheduler whose methods are the pure builders and parsers.

Commands (argv lists, never a shell string)::

    sbatch --parsable --job-name=pw-<run>-<proc> --array=0-999%8 --output=/dev/null --error=/dev/null
           --chdir=<proc dir> [--cpus-per-task N] [--mem NM] [--time M] [--gres gpu:N] [opts] <array script>
    squeue --noheader --array --states=all --user=<user> --format=%i|%T|%j|%r|%A  (ONE per poll)
    scancel <id>_<task> ...
    sacct -X -n -P --format=JobID,JobIDRaw,State,ExitCode -j <id>_<task>,...    (failed jobs whose end
    sacct -c ... -j <raw id>,...    (without slurmdbd: the jobcomp file)         squeue did not show)

The status query names the user only, so its size does not grow with the run; the answer is filtered
by the run's name prefix. Why a job failed comes from the state squeue shows it ended in (kept there
for MinJobAge seconds); sacct is asked, once for all of them, only about failed jobs that left squeue
before it showed how they ended. Only :meth:`GridScheduler.run_command` runs the commands.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..attributes import suggest
from ..errors import ConfigError, SchedulerError
from ..job import Job
from ..resources import Resources
from ..state import JobState
from .grid import GridScheduler, GridSettings, TaskKey, TaskStatus

__all__ = [
    "KINDS",
    "NOTABLE",
    "STATES",
    "SlurmScheduler",
    "SlurmSettings",
    "compress_ids",
    "resource_args",
    "sacct_argv",
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

#: Why a job failed, by the state SLURM ended it in (FAILED, a non-zero exit, tells nothing more: the
#: wrapper's return code does).
KINDS = {
    "OUT_OF_MEMORY": "oom",
    "TIMEOUT": "timeout",
    "DEADLINE": "timeout",
    "NODE_FAIL": "node_fail",
    "BOOT_FAIL": "node_fail",
    "PREEMPTED": "preempted",
    "CANCELLED": "cancelled",
    "REVOKED": "cancelled",
}

#: Where sacct reads jobs that ended: ``auto`` tries slurmdbd, then the jobcomp file.
ACCOUNTING = ("auto", "slurmdbd", "jobcomp", "none")

_TRANSIENT = re.compile(
    r"Socket timed out|Unable to contact slurm controller|Connection refused|"
    r"Slurm temporarily unable|Resource temporarily unavailable|Zero Bytes were transmitted|"
    r"Communication connection failure|try again",
    re.IGNORECASE,
)

#: A pending array listed as one squeue line: ``15_[0-11%4]``.
_TASK_RANGE = re.compile(r"^(\d+)_\[([^\]]+)\]$")


@dataclass(frozen=True, kw_only=True)
class SlurmSettings(GridSettings):
    """Options of the slurm scheduler (``scheduler_opts``): those of :class:`GridSettings` and these.

    Attributes:
        partition: ``--partition``.
        account: ``--account``.
        qos: ``--qos``.
        sbatch: The sbatch command.
        squeue: The squeue command.
        scancel: The scancel command.
        sacct: The sacct command.
        accounting: Where sacct reads how failed jobs ended when squeue no longer lists them:
            ``auto`` (slurmdbd, else the jobcomp file: ``sacct -c``), ``slurmdbd``, ``jobcomp`` or
            ``none`` (never ask: the wrapper's return code tells what it can).
    """

    partition: str | None = field(default=None, metadata={"help": "--partition"})
    account: str | None = field(default=None, metadata={"help": "--account"})
    qos: str | None = field(default=None, metadata={"help": "--qos"})
    sbatch: str = field(default="sbatch", metadata={"help": "the sbatch command"})
    squeue: str = field(default="squeue", metadata={"help": "the squeue command"})
    scancel: str = field(default="scancel", metadata={"help": "the scancel command"})
    sacct: str = field(default="sacct", metadata={"help": "the sacct command"})
    accounting: str = field(
        default="auto", metadata={"help": "where sacct reads ended jobs: auto, slurmdbd, jobcomp, none"}
    )

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.accounting not in ACCOUNTING:
            raise ConfigError(
                f"slurm option accounting is {self.accounting!r}",
                key="accounting",
                hint=f"{suggest(self.accounting, ACCOUNTING)} (auto, slurmdbd, jobcomp or none)",
            )


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


def sacct_argv(settings: SlurmSettings, ids: Sequence[str], *, jobcomp: bool = False) -> list[str]:
    """ONE sacct for the allocations of these job ids, parsable: ``JobID|JobIDRaw|State|ExitCode``.

    With ``jobcomp`` it reads the jobcomp file (``-c``: a cluster without slurmdbd), which knows array
    tasks only by their own ids (squeue's ``%A``).
    """
    argv = [settings.sacct, *(["-c"] if jobcomp else []), "-X", "-n", "-P"]
    return [*argv, "--format=JobID,JobIDRaw,State,ExitCode", f"--jobs={','.join(ids)}"]


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


def _keys(jid: str) -> list[TaskKey]:
    """The (job id, task id) keys one squeue ``%i`` stands for: ``15_[0-3]``, ``15_2`` or ``15``."""
    ranged = _TASK_RANGE.match(jid)
    if ranged:
        return [(ranged.group(1), task) for task in _expand(ranged.group(2))]
    head, sep, task = jid.partition("_")
    if sep:
        return [(head, int(task))] if task.isdigit() else []
    return [(jid, None)]


class SlurmScheduler(GridScheduler[SlurmSettings]):
    """Run jobs on a SLURM cluster, as job arrays, with one ``squeue`` per poll for the whole run."""

    name = "slurm"
    Settings = SlurmSettings
    task_env = "SLURM_ARRAY_TASK_ID"
    first_task = 0
    task_sep = "_"

    #: Whether sacct reads the jobcomp file (it said slurmdbd is not there), learnt once per run.
    _jobcomp: bool = False

    @staticmethod
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

    @staticmethod
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

    @staticmethod
    def status_argv(settings: SlurmSettings, *, user: str) -> list[str]:
        """ONE squeue for all the user's jobs, one line per array task; the run's are found by name.

        ``--states=all`` keeps jobs that ended in the answer for MinJobAge seconds, so a job ended by
        SLURM (TIMEOUT, OUT_OF_MEMORY, NODE_FAIL) is seen as such without another query.
        """
        return [
            settings.squeue,
            "--noheader",
            "--array",
            "--states=all",
            f"--user={user}",
            "--format=%i|%T|%j|%r|%A",
        ]

    @staticmethod
    def parse_status(stdout: str, *, prefix: str) -> dict[TaskKey, TaskStatus]:
        """Parse ``squeue --format=%i|%T|%j|%r|%A`` into statuses by (job id, task id).

        Lines of jobs whose name does not start with ``prefix`` are skipped; an unknown state counts as
        running (the job is still in the queue), so a new SLURM state never ends a job early. The
        native word is the SLURM state (``TIMEOUT``); the raw id (``%A``) is an array task's own id.
        """
        out: dict[TaskKey, TaskStatus] = {}
        for line in stdout.splitlines():
            fields = line.strip().split("|")
            if line.startswith("#") or len(fields) < 3 or not fields[1].strip():
                continue
            jid, native, name = fields[0].strip(), fields[1].split()[0].rstrip("+"), fields[2].strip()
            if name.startswith(prefix):
                raw = fields[4].strip() if len(fields) > 4 and "[" not in jid else ""
                status = TaskStatus(STATES.get(native, JobState.RUNNING), native, raw or None)
                out.update((key, status) for key in _keys(jid))
        return out

    @staticmethod
    def native_note(native: str, jid: str) -> str | None:
        """A state SLURM ended the job with (TIMEOUT, OUT_OF_MEMORY, ...), for its failure report."""
        return native if native in NOTABLE else None

    @staticmethod
    def native_kind(native: str) -> str | None:
        """The failure kind of a state SLURM ended a job in (OUT_OF_MEMORY: ``oom``), if it tells one."""
        return KINDS.get(native)

    @staticmethod
    def needs_accounting(native: str | None, rc: int | None) -> bool:
        """sacct is asked about a failed job only when squeue never showed how it ended."""
        return native is None

    def accounting_argv(
        self, jobs: Sequence[Job], raw_ids: Mapping[Job, str], *, after: SchedulerError | None = None
    ) -> list[str] | None:
        """ONE sacct for failed jobs squeue did not show ending: from slurmdbd by their ids, or, once
        sacct said slurmdbd is not there, from the jobcomp file by their own ids."""
        mode = self.settings.accounting
        if after is not None:
            if (
                mode != "auto"
                or self._jobcomp
                or "accounting storage is disabled" not in after.message.lower()
            ):
                return None
            self._jobcomp = True
        jobcomp = mode == "jobcomp" or (mode == "auto" and self._jobcomp)
        if mode == "none":
            return None
        ids = []
        for job in jobs:
            if not jobcomp and job.jid:
                ids.append(job.jid)
            elif job in raw_ids:  # the jobcomp file knows array tasks by their own ids only
                ids.append(raw_ids[job])
            elif job.jid and "_" not in job.jid:
                ids.append(job.jid)
        return sacct_argv(self.settings, sorted(set(ids)), jobcomp=jobcomp) if ids else None

    @staticmethod
    def parse_accounting(stdout: str) -> dict[str, str]:
        """Failure kinds by JobID (``123_4``) and JobIDRaw, from ``sacct -P`` lines of
        ``JobID|JobIDRaw|State|ExitCode``.

        A job that merely FAILED (a non-zero exit) is left out; the last line of a job wins (a
        requeued job has several).
        """
        out: dict[str, str] = {}
        for line in stdout.splitlines():
            fields = line.strip().split("|")
            if len(fields) < 3 or not fields[2].strip():
                continue
            kind = KINDS.get(fields[2].split()[0].rstrip("+"))
            for key in {fields[0].strip(), fields[1].strip()} - {""}:
                if kind:
                    out[key] = kind
                else:
                    out.pop(key, None)
        return out

    @staticmethod
    def kill_argv(settings: SlurmSettings, ids: Sequence[str]) -> list[str]:
        """scancel for these job ids (``123`` or ``123_4``)."""
        return [settings.scancel, *ids]

    @staticmethod
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
