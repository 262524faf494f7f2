"""The base of cluster schedulers (SLURM, SGE): arrays, one status query per poll, subprocess calls.

A grid scheduler is a settings dataclass plus pure functions: argv builders and output parsers. This
module owns everything else: it writes one array script per submission (the task id selects the job),
runs the commands with ``asyncio.create_subprocess_exec`` (never a shell), turns their failures into
:class:`~pipework.errors.SchedulerError` (transient ones are retried by the base), and maps the one
status answer per poll back to jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import os
import shlex
import tempfile
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .. import paths
from ..errors import SchedulerError
from ..job import Job, launch_argv
from ..resources import Resources
from ..stage import stage_root
from ..state import JobState
from .base import Scheduler

__all__ = ["GridScheduler", "TaskKey"]

#: What a status answer is keyed by: (job or array id, task id or None).
TaskKey = tuple[str, int | None]

#: Seconds a scheduler command may take before it counts as a (transient) failure.
COMMAND_TIMEOUT = 60.0


class GridScheduler(Scheduler):
    """Base of schedulers driven by command-line tools. Subclasses fill in the pure methods."""

    #: The environment variable holding the array task id inside a job.
    task_env: ClassVar[str]
    #: The first task id of an array (SLURM 0, SGE 1).
    first_task: ClassVar[int] = 0
    #: Separator of array id and task id in a job id (SLURM ``123_4``, SGE ``123.4``).
    task_sep: ClassVar[str] = "_"
    min_poll_interval = 1.0
    max_poll_interval = 30.0
    rc_grace = 30.0

    def __init__(self, settings: Any = None, *, run_tag: str = "run") -> None:
        super().__init__(settings, run_tag=run_tag)
        self.user = getpass.getuser()
        # the adaptive interval's bounds come from the settings when they have them
        self.min_poll_interval = float(getattr(self.settings, "poll_interval", self.min_poll_interval))
        self.max_poll_interval = max(
            self.min_poll_interval, float(getattr(self.settings, "max_poll_interval", self.max_poll_interval))
        )
        self._interval = self.min_poll_interval
        self.commands_run: list[list[str]] = []
        self._names: set[str] = set()

    # -- pure parts, per scheduler ----------------------------------------------------------------
    @abstractmethod
    def submit_argv(
        self,
        settings: Any,
        *,
        name: str,
        script: str,
        task_ids: Sequence[int] | None,
        throttle: int | None,
        resources: Resources,
        chdir: str,
    ) -> list[str]:
        """The submit command for one array (``task_ids``) or one job (None)."""

    @abstractmethod
    def parse_submit(self, stdout: str) -> str:
        """The job (or array) id from the submit command's output."""

    @abstractmethod
    def status_argv(self, *, user: str, names: Sequence[str]) -> list[str]:
        """ONE status command for all of the run's jobs."""

    @abstractmethod
    def parse_status(self, stdout: str, *, prefix: str) -> Mapping[TaskKey, JobState]:
        """States by (id, task) of the run's jobs (names starting with ``prefix``)."""

    @abstractmethod
    def kill_argv(self, ids: Sequence[str]) -> list[str]:
        """The command that cancels these job ids."""

    @abstractmethod
    def classify_error(self, argv: Sequence[str], rc: int, stderr: str) -> SchedulerError:
        """Turn a failed command into an error (``transient`` when retrying may help)."""

    def max_array_size(self, settings: Any) -> int:
        """The most tasks in one array (``max_array_size`` setting)."""
        return int(getattr(settings, "max_array_size", 1000))

    def use_arrays(self, settings: Any) -> bool:
        """Whether to submit arrays (``array`` setting)."""
        return bool(getattr(settings, "array", True))

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
            )
        except FileNotFoundError as exc:
            raise SchedulerError(
                f"{argv[0]!r} is not installed or not on PATH",
                hint=f"run on a machine with the {self.name} client tools, or set another scheduler",
            ) from exc
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

    # -- Scheduler API ------------------------------------------------------------------------------
    async def submit(self, jobs: Sequence[Job]) -> None:
        """Submit a process's jobs as arrays of at most ``max_array_size`` tasks (or one by one)."""
        settings = self.settings_for(jobs[0])
        spec = jobs[0].spec
        name = f"pw-{self.run_tag}-{spec.name}"
        self._names.add(name)
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
        if not self.use_arrays(settings):
            for job in jobs:
                argv = self.submit_argv(
                    settings,
                    name=self.job_name(job),
                    script=await asyncio.to_thread(self._single_script, job, script_dir),
                    task_ids=None,
                    throttle=None,
                    resources=spec.resources,
                    chdir=chdir if paths.is_cloud(proc_dir) else job.dir,
                )
                self._names.add(self.job_name(job))
                job.jid = self.parse_submit(await self.run_command(argv))
            return
        size = max(1, self.max_array_size(settings))
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
                resources=spec.resources,
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
        """One status command for the whole run; jobs missing from its answer are left out."""
        for job in jobs:  # jobs adopted from a previous driver: their array name is the same
            self._names.add(f"pw-{self.run_tag}-{job.proc}")
            self._names.add(self.job_name(job))
        argv = self.status_argv(user=self.user, names=sorted(self._names))
        answer = self.parse_status(await self.run_command(argv), prefix=f"pw-{self.run_tag}-")
        out: dict[Job, JobState] = {}
        for job in jobs:
            if not job.jid:
                continue
            key = self.split_jid(job.jid)
            state = answer.get(key)
            if state is None and key[1] is not None:
                state = answer.get((key[0], None))  # a pending array listed as one line
            if state is not None:
                out[job] = state
        return out

    async def kill(self, jobs: Sequence[Job]) -> None:
        """Cancel the jobs (one command for all)."""
        ids = sorted({job.jid for job in jobs if job.jid})
        if ids:
            # jobs that already ended cannot be cancelled; the poll loop settles their state
            with contextlib.suppress(SchedulerError):
                await self.run_command(self.kill_argv(ids))
