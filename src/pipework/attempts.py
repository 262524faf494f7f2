"""Attempts of a job: what each one asks its scheduler for, and why one failed.

Before each submission, :func:`prepare` evaluates a process's ``resources`` and ``scheduler_opts``
that are functions of the job, for the attempt about to start (``job.attempt``, and ``job.reason``:
the previous attempt's failure kind), caps them by ``resource_limits`` and groups the jobs by what they
ask for: one submission (one array) per distinct set, so arrays and one status query per poll hold.

When an attempt fails its scheduler classifies why (``oom``, ``timeout``, ``node_fail``, ``preempted``,
``cancelled``, ``exit``) from what it knows (SLURM states, SGE accounting, Batch task events); what it
cannot tell is read from the wrapper's exit status by :func:`exit_kind`.
"""

from __future__ import annotations

import signal
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .errors import ConfigError
from .resources import KEYS, JobView, Resources, call_functions, resolve
from .template import Namespace

if TYPE_CHECKING:
    from .job import Job

__all__ = ["exit_kind", "growth", "opts_key", "prepare", "view"]

#: The wrapper's exit statuses that say why a job ended (128 + the signal that ended the script, or
#: the status the wrapper's trap gives for it): SIGKILL is most often the kernel's or a cgroup's
#: out-of-memory killer; SIGUSR1/SIGUSR2 are time-limit warnings (SGE s_rt, SLURM --signal); SIGXCPU a
#: CPU-time limit.
_STATUS_KINDS = {
    128 + signal.SIGKILL: "oom",
    128 + signal.SIGUSR1: "timeout",
    128 + signal.SIGUSR2: "timeout",
    128 + signal.SIGXCPU: "timeout",
}


def exit_kind(rc: int | None, exit_status: int | None = None) -> str:
    """The failure kind a job's return code (or, without one, the wrapper's exit status) tells.

    Args:
        rc: The return code the wrapper wrote in ``job.rc``, if any.
        exit_status: The wrapper's exit status as its scheduler saw it (negative: killed by that signal).

    Returns:
        ``oom`` for SIGKILL (137), ``timeout`` for the time-limit signals (138, 140, 152), else ``exit``.
    """
    if rc is None and exit_status is not None and exit_status < 0:
        return _STATUS_KINDS.get(128 - exit_status, "exit")
    code = rc if rc is not None else exit_status
    return _STATUS_KINDS.get(code, "exit") if code is not None else "exit"


def view(job: Job) -> JobView:
    """What the functions of a job's process see of it, for its next attempt."""
    return JobView(
        proc=job.proc,
        index=job.index,
        attempt=job.attempts + 1,
        in_=Namespace(job.inputs),
        reason=job.failure_kind,
    )


def opts_key(opts: Mapping[str, Any] | None) -> tuple[tuple[str, str], ...]:
    """A hashable key of scheduler options (values may be lists)."""
    return tuple(sorted((k, repr(v)) for k, v in opts.items())) if opts else ()


def prepare(jobs: Sequence[Job], settings_for: Callable[[Job], object]) -> list[list[Job]]:
    """Set each job's ``resources`` and ``scheduler_opts`` for the attempt about to be submitted, and
    group the jobs by them (in their order; one group when nothing is a function of the job).

    The previous attempt's ``failure_kind`` becomes the functions' ``job.reason``, then is cleared.

    Args:
        jobs: Jobs of one process about to be submitted (``job.attempts`` not yet counted).
        settings_for: The scheduler's settings of a job (checks the options the functions gave).

    Raises:
        ConfigError: For a function that raises or returns a bad value, naming the process, the job,
            the key, the attempt and the fix.
    """
    if not jobs:
        return []
    spec = jobs[0].spec
    if not spec.per_attempt:
        for job in jobs:
            job.resources, job.scheduler_opts, job.failure_kind = spec.resources, None, None
        return [list(jobs)]
    groups: dict[tuple[Resources, tuple[tuple[str, str], ...]], list[Job]] = {}
    for job in jobs:
        seen = view(job)
        resources = resolve(spec.resources, spec.resource_functions, spec.resource_limits, seen)
        opts = call_functions(spec.opts_functions, seen, what="scheduler_opts") or None
        key = (resources, opts_key(opts))
        if key not in groups and opts:
            _check_opts(job, opts, settings_for, seen.attempt)
        job.resources, job.scheduler_opts, job.failure_kind = resources, opts, None
        groups.setdefault(key, []).append(job)
    return list(groups.values())


def _check_opts(job: Job, opts: dict[str, Any], settings_for: Callable[[Job], object], attempt: int) -> None:
    """Build the settings the functions' options give, so a bad value fails before any submission.

    Raises:
        ConfigError: Naming the process, the job, the option and the attempt.
    """
    before = job.scheduler_opts
    job.scheduler_opts = opts
    try:
        settings_for(job)
    except ConfigError as exc:
        raise exc.within(
            proc=job.proc, job=job.index, source=f"its scheduler_opts functions, attempt {attempt}"
        ) from exc
    finally:
        job.scheduler_opts = before


def growth(job: Job, before: Resources) -> str:
    """What a job's new attempt asks for that its previous one did not: ``" with time=20m, mem=8G"``,
    naming a value held at its ``resource_limits``; ``""`` when nothing changed."""
    spec = job.spec
    now = job.resources or spec.resources
    changed = now.changes(before)
    shown = []
    for key in KEYS:
        value = now.value(key)
        capped = (
            value is not None and value == spec.resource_limits.value(key) and key in spec.resource_functions
        )
        if key in changed:
            shown.append(now.show(key) + (" (at its resource_limits)" if capped else ""))
        elif capped:
            shown.append(f"{now.show(key)} again (at its resource_limits)")
    return f" with {', '.join(shown)}" if shown else ""
