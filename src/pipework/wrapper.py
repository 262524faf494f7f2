"""The job wrapper: the bash script, the same for every scheduler, that runs a job's script.

It runs the script with the process's interpreter, sends stdout and stderr to files and writes
``job.rc`` on every exit path; see :func:`render_wrapper`.
"""

from __future__ import annotations

import re
import shlex
from typing import TYPE_CHECKING

from .spec import is_bash

if TYPE_CHECKING:
    from .job import Job

__all__ = ["parse_rc", "render_wrapper", "script_runner"]


#: Words that let a script take over its shell: such a script runs in a subshell of the wrapper.
_TAKES_OVER = re.compile(r"_pw_|(?:^|[\s;&|(){}`])(?:trap|exec|eval|source|\.)(?=[\s;&|()]|$)", re.MULTILINE)


#: What a bash script runs under unless its process sets ``strict = False``.
STRICT = "set -euo pipefail; "


def script_runner(lang: str, script: str, *, strict: bool = True) -> str:
    """The wrapper line that runs a job's script (its redirections are added by the caller).

    A plain bash script is sourced by the wrapper itself: one bash process per job, no fork. A bash
    script that could take over the wrapper's shell (it sets a ``trap``, ``exec``-s, ``eval``-s,
    sources other files or uses the wrapper's ``_pw_`` names) runs in a subshell instead, so the
    wrapper's EXIT trap, which writes ``job.rc``, always runs. With ``strict`` a bash script runs under
    ``set -euo pipefail`` (its first failing command ends it with that command's status; the trap still
    writes ``job.rc``). Any other ``lang`` runs the script as ``<lang> job.script``.
    """
    if not is_bash(lang):
        return f'{lang} "$_pw_dir/job.script"'
    mode = STRICT if strict else ""
    if _TAKES_OVER.search(script):
        run = f'{mode}BASH_ARGV0="$_pw_dir/job.script"; . "$_pw_dir/job.script"'
        return f"( unset -f _pw_finish _pw_stop; {run} )"
    return f'{{ {mode}BASH_ARGV0="$_pw_dir/job.script"; . "$_pw_dir/job.script"; }}'


def render_wrapper(job: Job) -> str:
    """Return the bash wrapper of a job.

    The wrapper runs the script with the process's interpreter, sends its stdout and stderr to files, and
    writes ``job.rc`` from an EXIT trap (and exits with the script's status, so a scheduler that sees
    it can tell a job that could not write ``job.rc`` -- a full disk, a read-only workdir -- from
    one that was killed), so the file exists on every exit path (success, failure, a
    signal from a scheduler's kill or time limit, Ctrl-C). ``job.rc`` is one line written by one
    ``printf``: readers take it only once it ends with a newline, so they never act on half a file (and
    no ``mv`` process is needed, which costs a fork and an exec per job).

    Just before ``job.rc`` the trap writes ``job.usage`` (see :mod:`pipework.store.usage`): the start
    and end times, the host, the CPU time of the wrapper and all it ran (bash's ``times``) and, for a
    job in a cgroup of its own (a cluster's or a container's), the cgroup's peak memory. All with shell
    builtins: measuring starts no process.

    The script runs in the foreground; schedulers signal the job's whole process group (or, on a
    cluster, every process of the job), so a signal ends the script and then runs the wrapper's trap.
    How a bash script is run is chosen by :func:`script_runner`.

    The wrapper runs in the job's :attr:`~pipework.layout.JobLayout.run_dir` (the job dir, a stage dir
    or a mount path) and first makes the output directories the engine could not make (a job dir on a
    bucket).
    """
    d = shlex.quote(job.layout.run_dir)
    setup = "\n".join(f"mkdir -p {shlex.quote(p)}" for p in job.layout.out_dirs)
    run = script_runner(job.spec.lang, job.script, strict=job.spec.strict)
    # the local scheduler's jobs share the driver's cgroup: its peak memory would not be the job's
    usage = _USAGE if job.spec.scheduler == "local" else _USAGE_CGROUP
    return f"""#!/usr/bin/env bash
# pipework job wrapper: process {job.proc}, job {job.index} (generated; do not edit)
_pw_t0=${{EPOCHREALTIME:-}}; [ -n "$_pw_t0" ] || printf -v _pw_t0 '%(%s)T' -1
_pw_dir={d}
{usage}
_pw_finish() {{
  _pw_rc=$?
  _pw_usage 2>/dev/null || :
  printf '%s\\n' "$_pw_rc" > "$_pw_dir/job.rc" ||
    printf 'pipework: cannot write %s/job.rc; the script exited %s\\n' "$_pw_dir" "$_pw_rc" >&2
  exit "$_pw_rc"
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


#: The wrapper's function that writes ``job.usage`` (times, host, CPU; no peak memory).
_USAGE = r"""_pw_usage() {
  local t1=${EPOCHREALTIME:-}
  [ -n "$t1" ] || printf -v t1 '%(%s)T' -1
  { printf 'pipework-usage 1
start %s
end %s
host %s
' "$_pw_t0" "$t1" "${HOSTNAME:-}"; times; } \
    > "$_pw_dir/job.usage"
}"""

#: ... and the peak memory of the job's cgroup, when the wrapper is the only process left in it
#: (cgroup v2 ``memory.peak``, v1 ``memory.max_usage_in_bytes``).
_USAGE_CGROUP = r"""_pw_usage() {
  local t1=${EPOCHREALTIME:-} line v1= v2= f= rss= procs=()
  [ -n "$t1" ] || printf -v t1 '%(%s)T' -1
  while IFS= read -r line; do
    case $line in
      0::*) v2=${line#0::} ;;
      *:memory:*) v1=${line#*:memory:} ;;
    esac
  done < /proc/self/cgroup
  if [ -n "$v1" ]; then
    f=/sys/fs/cgroup/memory$v1; [ -r "$f/memory.max_usage_in_bytes" ] && rss=max_usage_in_bytes
  elif [ -n "$v2" ]; then
    f=/sys/fs/cgroup${v2%/}; [ -r "$f/memory.peak" ] || f=/sys/fs/cgroup/unified${v2%/}
    [ -r "$f/memory.peak" ] && rss=peak
  fi
  if [ -n "$rss" ] && mapfile -t procs < "$f/cgroup.procs" && [ "${#procs[@]}" = 1 ] &&
    [ "${procs[0]}" = "$$" ]; then read -r rss < "$f/memory.$rss" || rss=
  else rss=
  fi
  { printf 'pipework-usage 1
start %s
end %s
host %s
rss %s
' "$_pw_t0" "$t1" "${HOSTNAME:-}" "$rss"
    times; } > "$_pw_dir/job.usage"
}"""


def parse_rc(text: str) -> int | None:
    """The return code in a ``job.rc`` file, or None while it is not completely written.

    The wrapper writes one line; a reader takes it only once the newline is there.
    """
    if not text.endswith("\n"):
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None
