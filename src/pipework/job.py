"""One job: one row of a process's input, its directory, its rendered script and its wrapper.

Each job lives in ``<workdir>/<pipeline>/<proc>/<index>/``::

    job.script            the rendered script
    job.wrapper           the bash wrapper, the same for every scheduler
    job.stdout job.stderr what the script printed
    job.rc                its return code, written by the wrapper's trap on every exit path
    job.jid               the scheduler's id, written at submit
    job.pid               the wrapper's process id on its host, written by the wrapper
    job.signature.json    what the outputs were made from (the cache)
    output/               where the outputs go
"""

from __future__ import annotations

import re
import shlex
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .state import JobState

if TYPE_CHECKING:
    from .spec import ProcSpec

__all__ = ["Job", "launch_argv", "render_wrapper"]


@dataclass(eq=False)
class Job:
    """A job of one process in one run. Compared and hashed by identity.

    Attributes:
        spec: The process it belongs to.
        index: Its row in the process's input channel (0-based).
        dir: Its directory (local path or cloud URL).
        name: Its deterministic scheduler name, ``pw-<run>-<proc>-<index>``.
        inputs: Input values by name (paths are absolute).
        outputs: Output values by name (file and dir outputs are absolute paths).
        script: The rendered script text.
        state: Where it is now.
        jid: The scheduler's id, once submitted.
        rc: Its return code, once finished.
        attempts: How many times it was submitted in this run.
        cache_reason: Why it is not cached (empty when cached).
        native_state: What the scheduler said of how it ended, in its own words (``TIMEOUT``, a
            Batch task's exit event), for the failure report; None when it said nothing notable.
    """

    spec: ProcSpec
    index: int
    dir: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    script: str = ""
    state: JobState = JobState.PENDING
    jid: str | None = None
    rc: int | None = None
    attempts: int = 0
    cache_reason: str = ""
    native_state: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def proc(self) -> str:
        """The process name."""
        return self.spec.name

    def path(self, name: str) -> str:
        """The path of a file in the job directory, e.g. ``job.path("job.rc")``."""
        return f"{self.dir.rstrip('/')}/{name}"

    @property
    def output_dir(self) -> str:
        """Where the job's file and dir outputs are written."""
        return self.path("output")

    def __repr__(self) -> str:
        return f"<Job {self.proc}[{self.index}] {self.state.value}>"


_BASH = (["bash"], ["/bin/bash"], ["/usr/bin/bash"], ["/usr/bin/env", "bash"])

#: Words that let a script take over its shell: such a script runs in a subshell of the wrapper.
_TAKES_OVER = re.compile(r"_pw_|(?:^|[\s;&|(){}`])(?:trap|exec|eval|source|\.)(?=[\s;&|()]|$)", re.MULTILINE)


def script_runner(lang: str, script: str) -> str:
    """The wrapper line that runs a job's script (its redirections are added by the caller).

    A plain bash script is sourced by the wrapper itself: one bash process per job, no fork. A bash
    script that could take over the wrapper's shell (it sets a ``trap``, ``exec``-s, ``eval``-s,
    sources other files or uses the wrapper's ``_pw_`` names) runs in a subshell instead, so the
    wrapper's EXIT trap, which writes ``job.rc``, always runs. Any other ``lang`` runs the script as
    ``<lang> job.script``.
    """
    if shlex.split(lang) not in _BASH:
        return f'{lang} "$_pw_dir/job.script"'
    if _TAKES_OVER.search(script):
        return '( unset -f _pw_finish _pw_stop; BASH_ARGV0="$_pw_dir/job.script"; . "$_pw_dir/job.script" )'
    return '{ BASH_ARGV0="$_pw_dir/job.script"; . "$_pw_dir/job.script"; }'


def render_wrapper(job: Job, *, run_dir: str | None = None, setup: str = "") -> str:
    """Return the bash wrapper of a job.

    The wrapper runs the script with the process's interpreter, sends its stdout and stderr to files, and
    writes ``job.rc`` from an EXIT trap, so the file exists on every exit path (success, failure, a
    signal from a scheduler's kill or time limit, Ctrl-C). ``job.rc`` is one line written by one
    ``printf``: readers take it only once it ends with a newline, so they never act on half a file (and
    no ``mv`` process is needed, which costs a fork and an exec per job).

    The script runs in the foreground; schedulers signal the job's whole process group (or, on a
    cluster, every process of the job), so a signal ends the script and then runs the wrapper's trap.
    How a bash script is run is chosen by :func:`script_runner`.

    Args:
        job: The job.
        run_dir: Where the wrapper keeps its files (defaults to the job dir); for a cloud workdir a local
            staging directory.
        setup: Shell lines run before the script (e.g. making local output directories).
    """
    d = shlex.quote(run_dir or job.dir)
    run = script_runner(job.spec.lang, job.script)
    return f"""#!/usr/bin/env bash
# pipework job wrapper: process {job.proc}, job {job.index} (generated; do not edit)
_pw_dir={d}
_pw_finish() {{
  printf '%s\\n' "$?" > "$_pw_dir/job.rc"
}}
_pw_stop() {{
  [ -n "${{2:-}}" ] && printf 'pipework: %s\\n' "$2" >> "$_pw_dir/job.stderr"
  exit "$1"
}}
trap _pw_finish EXIT
trap '_pw_stop 143' TERM
trap '_pw_stop 130' INT
trap '_pw_stop 129' HUP
trap '_pw_stop 138 "the scheduler signalled the end of the time limit (SIGUSR1)"' USR1
trap '_pw_stop 140 "the scheduler signalled it is about to kill the job (SIGUSR2)"' USR2
cd "$_pw_dir" || exit 127
printf '%s\\n' "$$" > "$_pw_dir/job.pid"
{setup}
{run} > "$_pw_dir/job.stdout" 2> "$_pw_dir/job.stderr" < /dev/null
"""


def launch_argv(job: Job) -> list[str]:
    """The command a scheduler runs to execute a job, the same for every scheduler.

    A job in a local workdir runs its wrapper with bash. A job in a cloud workdir, or with cloud inputs,
    runs ``python -m pipework.stage run <job dir>`` with the driver's interpreter, which stages inputs
    in, runs the wrapper and stages outputs and ``job.rc`` out (cluster nodes must share the driver's
    Python environment).
    """
    if job.dir.startswith(("gs://", "s3://", "az://")) or "stage" in job.extra:
        return [sys.executable, "-m", "pipework.stage", "run", job.dir]
    return ["bash", job.path("job.wrapper")]
