"""The base of cluster schedulers (SLURM, SGE): arrays, one status query per poll, subprocess calls.

A grid scheduler is a settings dataclass (a :class:`GridSettings`) plus pure static methods: argv builders
and output parsers. This module owns everything else: it writes one array script per submission (the
task id selects the job), runs the commands with ``asyncio.create_subprocess_exec`` (never a shell), turns
their failures into :class:`~pipework.errors.SchedulerError` (transient ones are retried by the base),
and maps the one status answer per poll back to jobs.

The status query names the user, never the jobs: its argv is the same size for 10 jobs or 100,000. The
answer is filtered by the run's name prefix, ``pw-<run_tag>-``, when it is parsed.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import getpass
import os
import shlex
import tempfile
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, NamedTuple, TypeVar

from .. import paths
from ..errors import ConfigError, SchedulerError
from ..job import Job, launch_argv
from ..resources import Resources
from ..stage import stage_root
from ..state import JobState
from .base import Scheduler

__all__ = ["GridScheduler", "GridSettings", "TaskKey", "TaskStatus"]

#: What a status answer is keyed by: (job or array id, task id or None).
TaskKey = tuple[str, int | None]

#: Seconds a scheduler command may take before it counts as a (transient) failure.
COMMAND_TIMEOUT = 60.0


class TaskStatus(NamedTuple):
    """One job's (or array task's) line of a status answer.

    Attributes:
        state: The pipework state.
        native: The scheduler's own word for it (SLURM ``TIMEOUT``, SGE ``Eqw``), or None.
        raw_id: The scheduler's own id of an array task, when it has one (SLURM ``%A``): what its
            accounting knows it by when it cannot name array tasks.
    """

    state: JobState
    native: str | None = None
    raw_id: str | None = None


@dataclass(frozen=True, kw_only=True)
class GridSettings:
    """The options every grid scheduler has (``scheduler_opts``); SLURM and SGE add their own.

    Attributes:
        extra_args: More arguments of the submit command (``sbatch``, ``qsub``).
        poll_interval: First (and shortest) wait between two status queries, in seconds.
        max_poll_interval: Longest wait between two status queries while no job ends, in seconds.
        array: Submit a process's jobs as job arrays.
        max_array_size: Most tasks in one array (keep it under the cluster's limit: SLURM's
            MaxArraySize, SGE's max_aj_tasks).
    """

    extra_args: list[str] = field(
        default_factory=list, metadata={"help": "more arguments of the submit command (sbatch, qsub)"}
    )
    poll_interval: float = field(default=1.0, metadata={"help": "first wait between status queries (s)"})
    max_poll_interval: float = field(
        default=30.0, metadata={"help": "longest wait between status queries while nothing ends (s)"}
    )
    array: bool = field(default=True, metadata={"help": "submit job arrays"})
    max_array_size: int = field(default=1000, metadata={"help": "most tasks in one array"})

    def __post_init__(self) -> None:
        if self.max_array_size < 1:
            owner = type(self).__name__.removesuffix("Settings").lower()
            raise ConfigError(
                f"{owner} option max_array_size must be >= 1, got {self.max_array_size}",
                key="max_array_size",
                hint="give the most tasks one array may have, at most the cluster's limit",
            )


S = TypeVar("S", bound=GridSettings)


class GridScheduler(Scheduler[S]):
    """Base of schedulers driven by command-line tools. Subclasses fill in the pure static methods."""

    #: The environment variable holding the array task id inside a job.
    task_env: ClassVar[str]
    #: The first task id of an array (SLURM 0, SGE 1).
    first_task: ClassVar[int] = 0
    #: Separator of array id and task id in a job id (SLURM ``123_4``, SGE ``123.4``).
    task_sep: ClassVar[str] = "_"
    min_poll_interval = 1.0
    max_poll_interval = 30.0
    rc_grace = 30.0

    def __init__(
        self, settings: S | None = None, *, run_tag: str = "run", env: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(settings, run_tag=run_tag, env=env)
        self.user = getpass.getuser()
        self.min_poll_interval = self.settings.poll_interval
        self.max_poll_interval = max(self.min_poll_interval, self.settings.max_poll_interval)
        self._interval = self.min_poll_interval
        self.commands_run: list[list[str]] = []
        # None: the driver's own environment, as it is (no copy per command)
        self._command_env: dict[str, str] | None = dict(self.job_env) if env else None
        # the last native state of jobs that ended failing, and the own ids of running array tasks
        self._natives: dict[Job, str | None] = {}
        self._raw_ids: dict[Job, str] = {}

    # -- pure parts, per scheduler ----------------------------------------------------------------
    @staticmethod
    @abstractmethod
    def submit_argv(
        settings: S,
        *,
        name: str,
        script: str,
        task_ids: Sequence[int] | None,
        throttle: int | None,
        resources: Resources,
        chdir: str,
    ) -> list[str]:
        """The submit command for one array (``task_ids``) or one job (None)."""

    @staticmethod
    @abstractmethod
    def parse_submit(stdout: str) -> str:
        """The job (or array) id from the submit command's output."""

    @staticmethod
    @abstractmethod
    def status_argv(settings: S, *, user: str) -> list[str]:
        """ONE status command for all of the user's jobs; its size must not depend on the jobs."""

    @staticmethod
    @abstractmethod
    def parse_status(stdout: str, *, prefix: str) -> Mapping[TaskKey, TaskStatus]:
        """Statuses by (id, task) of the jobs whose name starts with ``prefix`` (the run's)."""

    @staticmethod
    def native_note(native: str, jid: str) -> str | None:
        """What a job's failure report says of its native state, or None when it is not notable."""
        return None

    @staticmethod
    def native_kind(native: str) -> str | None:
        """The failure kind a final native state tells (SLURM ``OUT_OF_MEMORY``: ``oom``), or None when
        it tells none in particular."""
        return None

    @staticmethod
    def needs_accounting(native: str | None, rc: int | None) -> bool:
        """Whether the accounting may tell more of a failed job than its last native state (None: the
        status answer never showed it ended) and its return code did."""
        return False

    def accounting_argv(
        self, jobs: Sequence[Job], raw_ids: Mapping[Job, str], *, after: SchedulerError | None = None
    ) -> list[str] | None:
        """ONE accounting query for these failed jobs (None: there is none to ask).

        Args:
            jobs: The jobs.
            raw_ids: Their array tasks' own ids, where the status answers showed them.
            after: The error of the previous query, when it failed: return another one to try, or None.
        """
        return None

    @staticmethod
    def parse_accounting(stdout: str) -> Mapping[str, str]:
        """Failure kinds by job id (``123_4``, ``123.4``) or raw id, from the accounting's answer."""
        return {}

    @staticmethod
    @abstractmethod
    def kill_argv(settings: S, ids: Sequence[str]) -> list[str]:
        """The command that cancels these job ids."""

    @staticmethod
    @abstractmethod
    def classify_error(argv: Sequence[str], rc: int, stderr: str) -> SchedulerError:
        """Turn a failed command into an error (``transient`` when retrying may help)."""

    # -- the one place commands run ---------------------------------------------------------------
    async def run_command(self, argv: Sequence[str]) -> str:
        """Run a scheduler command and return its stdout.

        Raises:
            SchedulerError: When it cannot start, times out (transient) or exits non-zero.
        """
        self.commands_run.append(list(argv))
        try:
            proc = await asyncio.create_subprocess_exec(
                *argv,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
                env=self._command_env,  # sbatch and qsub -V hand it on to the jobs
            )
        except OSError as exc:
            raise self.start_error(argv, exc) from exc
        try:
            out, err = await asyncio.wait_for(proc.communicate(), COMMAND_TIMEOUT)
        except asyncio.TimeoutError as exc:
            proc.kill()
            await proc.wait()
            raise SchedulerError(
                f"{shlex.join(argv[:3])} ... did not answer in {COMMAND_TIMEOUT:.0f}s", transient=True
            ) from exc
        if proc.returncode != 0:
            raise self.classify_error(argv, proc.returncode or 0, err.decode(errors="replace"))
        return out.decode(errors="replace")

    def start_error(self, argv: Sequence[str], exc: OSError) -> SchedulerError:
        """The error for a command the system would not start (not found, not executable, too long)."""
        code = errno.errorcode.get(exc.errno or 0, "")
        what = f"cannot run {argv[0]!r}: {exc.strerror or exc}" + (f" ({code})" if code else "")
        reason = None
        if isinstance(exc, FileNotFoundError):
            reason = "not_found"
            hint = f"install the {self.name} client tools here, or set the command's path in scheduler_opts"
        elif isinstance(exc, PermissionError):
            reason = "permission"
            hint = f"make {argv[0]} executable for this user, or name another command in scheduler_opts"
        elif exc.errno == errno.E2BIG:
            size = sum(len(arg.encode()) + 1 for arg in argv)
            what += f", {len(argv)} arguments of {size} bytes in all"
            hint = "pipework should never build such a command: please report it, with the number of jobs"
        elif exc.errno == errno.ENOEXEC:
            hint = f"{argv[0]} is not a program this machine can run; name the right one in scheduler_opts"
        else:
            hint = f"check that {argv[0]} runs on this machine"
        return SchedulerError(what, reason=reason, hint=hint)

    # -- Scheduler API ------------------------------------------------------------------------------
    async def submit(self, jobs: Sequence[Job]) -> None:
        """Submit a process's jobs as arrays of at most ``max_array_size`` tasks (or one by one).

        The jobs ask for the same resources and options (the base groups them so).
        """
        settings = self.settings_for(jobs[0])
        spec = jobs[0].spec
        name = f"pw-{self.run_tag}-{spec.name}"
        throttle = spec.forks
        proc_dir = jobs[0].dir.rsplit("/", 1)[0]
        if paths.is_cloud(proc_dir):
            # the tools read the script at submission and need an existing directory on the node:
            # a local script, and the temporary directory (the stage runner makes its own dirs)
            script_dir = os.path.join(stage_root(), self.run_tag, spec.name)
            os.makedirs(script_dir, exist_ok=True)
            chdir = tempfile.gettempdir()
        else:
            script_dir = chdir = proc_dir
        if not settings.array:
            for job in jobs:
                argv = self.submit_argv(
                    settings,
                    name=self.job_name(job),
                    script=await asyncio.to_thread(self._single_script, job, script_dir),
                    task_ids=None,
                    throttle=None,
                    resources=job.resources or spec.resources,
                    chdir=chdir if paths.is_cloud(proc_dir) else job.dir,
                )
                job.jid = self.parse_submit(await self.run_command(argv))
            return
        size = settings.max_array_size
        for start in range(0, len(jobs), size):
            chunk = list(jobs[start : start + size])
            script = paths.join(script_dir, f".pw-array-{chunk[0].index}-{len(chunk)}.sh")
            await asyncio.to_thread(paths.write_text, script, self.array_script(chunk))
            task_ids = [self.first_task + i for i in range(len(chunk))]
            argv = self.submit_argv(
                settings,
                name=name,
                script=script,
                task_ids=task_ids,
                throttle=throttle,
                resources=chunk[0].resources or spec.resources,
                chdir=chdir,
            )
            array_id = self.parse_submit(await self.run_command(argv))
            for task, job in zip(task_ids, chunk, strict=True):
                job.jid = f"{array_id}{self.task_sep}{task}"

    def _single_script(self, job: Job, script_dir: str) -> str:
        """A local script that runs one job (submissions without arrays)."""
        path = os.path.join(script_dir, f".pw-job-{job.index}.sh")
        paths.write_text(path, f"#!/usr/bin/env bash\nexec {shlex.join(launch_argv(job))}\n")
        return path

    def array_script(self, jobs: Sequence[Job]) -> str:
        """The script each array task runs: its task id selects a job, whose command it execs."""
        cases = "\n".join(
            f"  {self.first_task + i}) exec {shlex.join(launch_argv(job))} ;;" for i, job in enumerate(jobs)
        )
        return (
            "#!/usr/bin/env bash\n"
            f"# pipework array: process {jobs[0].proc}, jobs {jobs[0].index}..{jobs[-1].index}"
            " (generated; do not edit)\n"
            f'case "${{{self.task_env}:-}}" in\n{cases}\n'
            f'  *) echo "pipework: unknown task id ${{{self.task_env}:-none}}" >&2; exit 64 ;;\n'
            "esac\n"
        )

    def split_jid(self, jid: str) -> TaskKey:
        """Split ``123_4`` (or ``123.4``) into ``("123", 4)``; a plain id into ``(id, None)``."""
        head, sep, tail = jid.partition(self.task_sep)
        if sep and tail.isdigit():
            return head, int(tail)
        return jid, None

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        """One status command (by user) for the whole run; jobs missing from its answer are left out.

        A job whose native state is worth a word in its failure report (:meth:`native_note`) gets it
        in ``job.native_state``.
        """
        argv = self.status_argv(self.settings, user=self.user)
        answer = self.parse_status(await self.run_command(argv), prefix=f"pw-{self.run_tag}-")
        out: dict[Job, JobState] = {}
        for job in jobs:
            if not job.jid:
                continue
            key = self.split_jid(job.jid)
            status = answer.get(key)
            if status is None and key[1] is not None:
                status = answer.get((key[0], None))  # a pending array listed as one line
            if status is None:
                continue
            out[job] = status.state
            if status.native and (note := self.native_note(status.native, job.jid)):
                job.native_state = note
            if status.state.is_final and status.state is not JobState.DONE:
                self._natives[job] = status.native
            if status.raw_id and status.state is JobState.RUNNING:
                self._raw_ids[job] = status.raw_id
            elif status.state is JobState.DONE:
                self._raw_ids.pop(job, None)
        return out

    async def classify(self, jobs: Sequence[Job]) -> None:
        """Why failed jobs failed: from the final native state a status answer showed
        (:meth:`native_kind`), else from ONE accounting query for those that need it."""
        natives = {job: self._natives.pop(job, None) for job in jobs}
        raw_ids = {job: raw for job in jobs if (raw := self._raw_ids.pop(job, None))}
        need = []
        for job, native in natives.items():
            kind = self.native_kind(native) if native else None
            if kind:
                job.failure_kind = kind
            elif self.needs_accounting(native, job.rc):
                need.append(job)
        argv = self.accounting_argv(need, raw_ids) if need else None
        answer = None
        for _ in range(2):  # the query, and the one to try when it fails (SLURM without slurmdbd)
            if argv is None:
                return
            try:
                answer = await self.run_command(argv)
                break
            except SchedulerError as exc:
                argv = self.accounting_argv(need, raw_ids, after=exc)
        if answer is None:
            return
        kinds = self.parse_accounting(answer)
        for job in need:
            kind = kinds.get(job.jid or "") or kinds.get(raw_ids.get(job, ""))
            if kind:
                job.failure_kind = kind

    async def kill(self, jobs: Sequence[Job]) -> None:
        """Cancel the jobs (one command for all)."""
        ids = sorted({job.jid for job in jobs if job.jid})
        if ids:
            # jobs that already ended cannot be cancelled; the poll loop settles their state
            with contextlib.suppress(SchedulerError):
                await self.run_command(self.kill_argv(self.settings, ids))
