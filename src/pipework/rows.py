"""Jobs whose row moved: matched to their previous run by their input values, not their index.

A job's directory is named by its row (``<proc>/<index>``). When rows are added to or removed from a
process's input -- one more file in a glob, one sample fewer -- the rows after the change shift. A job
that finds, at its own index, a previous run with other input values looks for the previous job that
had its input values; when that one is cached for it (same script, files and outputs, rc 0, outputs
present), it takes over that job's directory (:func:`move`) instead of running again. Signatures name no
index (``{jobdir}``), so the match is exact, and downstream processes see the moved paths through
:func:`pipework.reasons.translate`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from typing import Any

from . import paths, signature
from .errors import StorageError
from .job import Job

__all__ = ["match", "move"]

#: The previous run's stored signature of job ``index`` (None when there is none).
Stored = Callable[[int], "dict[str, Any] | None"]
#: Why ``job`` is not cached by the previous run's job ``index`` whose signature is given ("" if it is).
Verdict = Callable[[Job, "dict[str, Any]", int], str]


def match(
    jobs: Sequence[Job],
    olds: Mapping[int, dict[str, Any] | None],
    *,
    indices: Callable[[], Collection[int]],
    stored: Stored,
    verdict: Verdict,
) -> None:
    """Match each job not cached at its own index, whose input values changed there, to the previous
    run's job with its input values; set ``moved_from`` (and clear the reason) when that one is cached
    for it. Blocking: reads the signatures of the directories no job of this run claims.

    Args:
        jobs: The jobs of one process, each with its signature and reason at its own index.
        olds: The previous signature at each job's own index.
        indices: The indices of the job directories the previous runs left.
        stored: Reads the previous signature of another index.
        verdict: The cache check's rule, applied to another row's directory.
    """
    unmatched = [j for j in jobs if j.cache_reason and not _same_inputs(olds.get(j.index), j)]
    if not unmatched:
        return
    claimed = {j.index for j in jobs if _same_inputs(olds.get(j.index), j)}
    candidates: dict[str, int] = {}
    found: dict[int, dict[str, Any]] = {}
    for index in sorted(set(indices()) - claimed):
        old = olds[index] if index in olds else stored(index)
        if old is None or old.get("version") != signature.VERSION or "inputs" not in old:
            continue
        found[index] = old
        candidates.setdefault(_key(old["inputs"]), index)
    for job in unmatched:
        assert job.signature is not None
        index = candidates.pop(_key(job.signature["inputs"]), -1)
        if index < 0:
            continue
        reason = verdict(job, found[index], index)
        if reason:
            job.cache_reason = f"{reason} (as job {index} of the last run, which had its inputs)"
        else:
            job.moved_from, job.cache_reason = index, ""


def _same_inputs(old: Mapping[str, Any] | None, job: Job) -> bool:
    return old is not None and job.signature is not None and old.get("inputs") == job.signature["inputs"]


def _key(inputs: Any) -> str:
    return json.dumps(inputs, sort_keys=True, default=str)


def move(jobs: Sequence[Job]) -> None:
    """Give each moved job the directory of the previous run's job it was matched to. Blocking.

    The matched directories are first renamed aside (``.moving-<index>``), so a chain of shifted rows
    never overwrites one it still needs; what was in each target directory (a job of other inputs) is
    removed. A driver killed in between leaves directories aside: their jobs simply run again.

    Raises:
        StorageError: If a directory cannot be moved, naming the process and job.
    """
    if not jobs:
        return
    proc_dir = jobs[0].dir.rstrip("/").rsplit("/", 1)[0]
    aside: list[tuple[Job, str]] = []
    for job in jobs:
        tmp = f"{proc_dir}/.moving-{job.moved_from}"
        try:
            paths.rmtree(tmp)
            paths.move_tree(f"{proc_dir}/{job.moved_from}", tmp)
        except StorageError as exc:
            raise exc.within(proc=job.proc, job=job.index) from exc
        aside.append((job, tmp))
    for job, tmp in aside:
        try:
            paths.rmtree(job.dir)
            paths.move_tree(tmp, job.dir)
        except StorageError as exc:
            raise exc.within(proc=job.proc, job=job.index) from exc
