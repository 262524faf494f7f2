"""Job directories: prepared before a job runs, read when it ends. Blocking: called in worker threads.

:func:`prepare` checks a process's inputs, runs the cache check and lays out the directories of the
jobs that will run; :func:`clean` empties one job's directory of a previous attempt and writes its
script and wrapper; :func:`finish` verifies the outputs of jobs that ended and writes their signatures;
:func:`failure` explains a job that failed, with the end of its stderr.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Callable, Collection, MutableMapping, Sequence
from typing import Any

from . import cache, paths, rows, signature
from .errors import JobFailed, SpecError, StorageError
from .job import Job
from .layout import Access
from .locations import input_path_problems
from .reasons import fact_change
from .spec import CacheMode
from .stage import MANIFEST
from .state import JobState
from .wrapper import render_wrapper

__all__ = ["JOB_FILES", "check_inputs", "clean", "failure", "finish", "prepare"]

#: The failure report shows the last lines of a job's stderr, and its first lines when there are more.
STDERR_TAIL_LINES = 20
STDERR_HEAD_LINES = 5
#: ... and the first lines of its rendered script.
COMMAND_LINES = 5

#: What a run of a job leaves in its directory, removed before it runs again.
JOB_FILES = (
    "job.rc", "job.stdout", "job.stderr", "job.jid", "job.pid", "job.signature.json", "job.usage",
)  # fmt: skip

#: The outputs a scheduler uploaded itself for a job (known to exist), or None to check them.
UploadedOutputs = Callable[[Job], Collection[str] | None]


def prepare(
    jobs: Sequence[Job],
    cache_mode: CacheMode,
    *,
    check: bool = True,
    moves: MutableMapping[str, dict[int, int]] | None = None,
) -> cache.Checked:
    """Check inputs, decide which jobs are cached, and lay out the directories of the others.

    Jobs that a previous driver may still be running are left alone until the scheduler has said.
    Cached jobs whose row moved take over their previous directory; they, and cached jobs whose stored
    signature named moved upstream rows, have their signature written again (as it is in this run).

    Args:
        jobs: The jobs of one process.
        cache_mode: Its cache mode.
        check: Check the inputs (False: the plan of the run did, before it started).
        moves: The rows that moved in this run, by process (this process's are added).

    Raises:
        SpecError: For a missing local input.
        StorageError: For a directory that cannot be made or written.
    """
    if check:
        check_inputs(jobs)
    checked = cache.check(jobs, cache_mode, moves=moves)
    rows.move(checked.moved)
    for job in (*checked.moved, *checked.resign):
        if job.signature is not None and not job.layout.remote:  # on a bucket: the SignatureBook
            try:
                signature.write(job, job.signature)
            except StorageError as exc:
                raise exc.within(proc=job.proc, job=job.index) from exc
    occupied = checked.occupied
    todo, fresh = [], set()
    for job in jobs:
        if job.state is JobState.CACHED or job.maybe_running:
            continue
        todo.append(job)
        # on a bucket, the listing of the cache check tells which job dirs hold anything
        if (job.index not in occupied) if occupied is not None else paths.makedir(job.dir):
            fresh.add(job)
    clean(todo, fresh=fresh)
    return checked


def check_inputs(jobs: Sequence[Job], *, made: Collection[str] = ()) -> None:
    """Fail before anything runs when a local ``file``/``dir`` input does not exist.

    Args:
        jobs: The jobs of one process.
        made: Paths that upstream jobs will make (they need not exist yet).

    A ``file`` input must be a file, a ``dir`` input a directory, and every member of a ``files`` or
    ``dirs`` input likewise.

    Raises:
        SpecError: Naming the first job, input and path, the fix, and how many more are wrong.
    """
    problems: list[tuple[Job, str, str]] = []
    for job in jobs:
        for spec in job.spec.inputs:
            if spec.is_path:
                for message, hint in input_path_problems(
                    spec.type, spec.name, job.inputs[spec.name], made=made
                ):
                    problems.append((job, message, hint))
    if problems:
        job, message, hint = problems[0]
        more = f" ({len(problems) - 1} more input paths are wrong)" if len(problems) > 1 else ""
        raise SpecError(message + more, proc=job.proc, job=job.index, hint=hint)


def clean(jobs: Sequence[Job], *, fresh: Collection[Job] = (), keep_logs: bool = False) -> None:
    """Remove what a previous attempt left and write each job's script, wrapper and signature (and stage
    manifest).

    Args:
        jobs: The jobs about to be submitted.
        fresh: Jobs whose directory is known to be empty (made just now, or absent from the bucket's
            listing): there is nothing of theirs to remove.
        keep_logs: Keep the stdout and stderr of the attempt that just failed, as ``job.stdout.<N>``
            and ``job.stderr.<N>`` (N: that attempt's number; local job dirs).

    Raises:
        StorageError: For a directory or file that cannot be written.
    """
    for job in jobs:
        try:
            if keep_logs and not job.layout.remote:
                for name in ("job.stdout", "job.stderr"):
                    with contextlib.suppress(FileNotFoundError):
                        os.replace(job.path(name), job.path(f"{name}.{job.attempts}"))
            _clean_one(job, fresh)
        except StorageError as exc:
            raise exc.within(proc=job.proc, job=job.index) from exc


def _clean_one(job: Job, fresh: Collection[Job]) -> None:
    job.maybe_running = False
    layout = job.layout
    if layout.remote:
        if job not in fresh:
            paths.rmtree(job.dir)  # one listing and deletes; a bucket has no directories to make
    else:
        if job not in fresh:
            for name in JOB_FILES:
                paths.remove(job.path(name))
            paths.rmtree(job.output_dir)
        _make_output_dirs(job)
    wrapper = render_wrapper(job)
    if layout.in_driver and layout.remote:
        # the driver stages this job from memory and uploads job.script as it stages it in,
        # beside other transfers: no wrapper or manifest object, no upload here before any job runs
        job.wrapper = wrapper
        return
    paths.write_text(job.path("job.script"), job.script)
    paths.write_text(job.path("job.wrapper"), wrapper)
    if job.signature is not None and not layout.remote:
        # before the job runs: a job that ends while no driver watches is still known done
        # (on a bucket the process's SignatureBook holds it)
        signature.write(job, job.signature)
    if layout.access is Access.STAGED:
        paths.write_text(job.path(MANIFEST), layout.manifest().to_json())


def _make_output_dirs(job: Job) -> None:
    made = {job.output_dir}
    paths.makedirs(job.output_dir)
    for out in job.spec.outputs:
        if out.type == "var":
            continue
        value = str(job.outputs[out.name])
        needed = value if out.type == "dir" else os.path.dirname(value)
        if needed not in made:
            made.add(needed)
            paths.makedirs(needed)


def finish(
    jobs: Sequence[Job], uploaded: UploadedOutputs, *, notes: list[str] | None = None
) -> list[tuple[Job, JobFailed | None]]:
    """Verify the outputs and write the signatures of jobs that ended; explain the failures.

    Args:
        jobs: Jobs in a final state.
        uploaded: The scheduler's word on the outputs it uploaded itself (those need no check).
        notes: Receives a warning for each job that wrote into one of its ``dir`` inputs.

    Returns:
        Each job with its failure, or None when it succeeded.
    """
    out: list[tuple[Job, JobFailed | None]] = []
    for job in jobs:
        if job.state is JobState.DONE:
            failed = _verify(job, uploaded(job), notes)
            if failed is not None:
                job.failure_kind = "exit"  # its outputs or signature, whatever its scheduler said
            out.append((job, failed))
        elif job.state is JobState.FAILED:
            out.append((job, failure(job, f"failed with return code {job.rc}")))
        elif job.state is JobState.KILLED:
            out.append((job, failure(job, "was cancelled")))
        else:
            out.append((job, _without_rc(job)))
    return out


def _without_rc(job: Job) -> JobFailed:
    """A job that left no ``job.rc``: killed, or unable to write it -- its wrapper exited normally (when
    the scheduler saw it), or its directory cannot be written from here either."""
    status = job.exit_status
    unwritable = None if job.layout.remote else _unwritable(job.dir)
    if (status is not None and status >= 0) or unwritable:
        if status is not None and status >= 0:
            job.rc = status
        ran = f"its script exited {status}" if status is not None and status >= 0 else unwritable
        return failure(
            job,
            f"could not write job.rc in {job.dir} ({ran})",
            hint="the disk is full or the workdir is read-only: free space or fix the permissions "
            "(df -h, mount), then run again",
        )
    return failure(
        job,
        "ended without writing job.rc",
        hint="it was killed by SIGKILL, ran out of memory, or its node failed",
    )


def _verify(job: Job, uploaded: Collection[str] | None, notes: list[str] | None) -> JobFailed | None:
    """A job that exited 0: its outputs must exist; then its signature is written (again, when it
    changed a ``dir`` input: with the directory as the job left it)."""
    gone = signature.missing_outputs(job, dict.fromkeys(uploaded) if uploaded is not None else None)
    if gone:
        job.state = JobState.FAILED
        return failure(
            job,
            f"output {gone[0]!r} was not created by the script ({job.outputs[gone[0]]})",
            hint=f"check the script writes {{{{out.{gone[0]}}}}}",
        )
    if job.signature is not None:
        changes = signature.refresh_dirs(job)
        if not changes:
            return None  # stored before the job ran (see clean)
        if notes is not None:
            notes.extend(_wrote_into_input(job, name, was, now) for name, was, now in changes)
    try:
        if job.signature is None:
            # cache = False: no signature before; the facts of the inputs as they are now, for the next run
            content = job.spec.cache == "content"
            job.signature = signature.make(job, signature.file_facts(job, content=content))
        if not job.layout.remote:  # on a bucket: saved in the process's SignatureBook
            signature.write(job, job.signature)
    except StorageError as exc:
        job.state = JobState.FAILED
        return failure(job, f"its signature cannot be written: {exc.message}")
    return None


def _unwritable(job_dir: str) -> str | None:
    """Why a file cannot be written in a local job directory now (None: it can)."""
    probe = os.path.join(job_dir, ".pw-write-probe")
    try:
        with open(probe, "w") as fh:
            fh.write("pipework\n")
        os.unlink(probe)
    except OSError as exc:
        return f"writing there fails: {exc.strerror or exc}"
    return None


def _wrote_into_input(job: Job, name: str, was: list[Any] | None, now: list[Any]) -> str:
    """The warning for a job that changed one of its ``dir`` inputs, naming whose output it was."""
    change = fact_change(was, now)
    for root, tag in signature.roots_of(job):
        change = change.replace(tag, root)
    owner = _UNDER_JOB.match(now[0])
    whose = (
        f"the output of process {owner.group(1)} (job {owner.group(2)})"
        if owner and owner.group(1) != job.proc
        else "an input directory"
    )
    return (
        f"[{job.proc} job {job.index}] wrote into its input '{name}', {whose}: {change}. "
        "pipework signed it as the job left it, but a job should not change its inputs: other "
        "jobs reading it see it change. Make the file where the directory is made "
        f"(in {owner.group(1) if owner else 'the process that makes it'}), or copy the input "
        "into this job's output first"
    )


_UNDER_JOB = re.compile(r"^\{workdir\}/([^/]+)/(\d+)(?=/|$)")


#: What the report of a job that failed for a reason its scheduler told suggests (when nothing else).
_KIND_HINTS = {
    "oom": "it ran out of memory: ask for more (resources = {'mem': '16G'}), or for more at each "
    "retry: resources = {'mem': lambda job: f'{8 * job.attempt}G'}, retry_on = ['oom']",
    "timeout": "it ran out of time: ask for more (resources = {'time': '4h'}), or for more at each "
    "retry: resources = {'time': lambda job: f'{2 * job.attempt}h'}, retry_on = ['timeout']",
    "node_fail": "its node failed: run it again; retry_on = ['node_fail'] retries such failures",
    "preempted": "it was preempted: run it again; retry_on = ['preempted'] retries such failures",
}


def failure(job: Job, message: str, *, hint: str | None = None) -> JobFailed:
    """The error of a failed job: the message, why it failed (its ``failure_kind``, unless it merely
    exited non-zero) and the scheduler's word on it, and the end of its stderr."""
    kind = job.failure_kind if job.failure_kind not in (None, "exit", "cancelled") else None
    said = [kind] if kind else []
    if job.native_state:
        said.append(f"scheduler: {job.native_state}")
    if said:
        message += f" ({'; '.join(said)})"
    if hint is None and kind:
        hint = _KIND_HINTS.get(kind)
    try:
        text = paths.read_text(job.path("job.stderr"))
    except StorageError:
        text = ""
    lines = text.rstrip("\n").splitlines() if text.strip() else []
    head = lines[:STDERR_HEAD_LINES] if len(lines) > STDERR_TAIL_LINES else []
    script = job.script.strip("\n").splitlines()
    return JobFailed(
        message,
        proc=job.proc,
        job=job.index,
        rc=job.rc,
        jobdir=job.dir,
        stderr_tail="\n".join(lines[-STDERR_TAIL_LINES:]),
        hint=hint,
        stderr_head="\n".join(head),
        stderr_lines=len(lines),
        command="\n".join(script[:COMMAND_LINES]),
        command_lines=len(script),
    )
