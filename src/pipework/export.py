"""Export: copying the outputs of a process's finished jobs to the outdir, atomically.

:func:`targets` decides, before anything runs, where each output goes
(``<outdir>/<proc>/<output's basename>``) and refuses two jobs exporting the same path;
:func:`export` copies what is not exported yet (see :func:`pipework.paths.export` for the atomicity).
Blocking: called in a worker thread.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence

from . import paths
from .errors import SpecError
from .job import Job
from .spec import ProcSpec

__all__ = ["Targets", "export", "pairs", "targets"]

#: Export destination -> (job, output name).
Targets = dict[str, tuple[Job, str]]


def targets(spec: ProcSpec, jobs: Sequence[Job], outdir: str) -> Targets:
    """Map each export destination of a process to its job and output name (pure).

    Raises:
        SpecError: If two jobs would export to the same path.
    """
    found: Targets = {}
    if not spec.export:
        return found
    base = paths.join(outdir, spec.name)
    outputs = [o.name for o in spec.outputs if o.type != "var"]
    for job in jobs:
        for name in outputs:
            dest = paths.join(base, _basename(str(job.outputs[name])))
            if dest in found:
                other, other_out = found[dest]
                raise SpecError(
                    f"jobs {other.index} and {job.index} would both export {dest!r} "
                    f"(outputs {other_out!r} and {name!r})",
                    proc=spec.name,
                    hint="make the output name depend on the input, e.g. "
                    "'{{in.infile | stem}}.txt', or set export = False",
                )
            found[dest] = (job, name)
    return found


def pairs(found: Mapping[str, tuple[Job, str]], ok: Collection[Job]) -> list[tuple[str, str]]:
    """``(output path, destination)`` of the targets whose job is in ``ok`` (a set: O(1) membership)."""
    return [(job.outputs[name], dest) for dest, (job, name) in found.items() if job in ok]


def export(todo: Sequence[tuple[str, str]]) -> None:
    """Export outputs. What is already exported (same size, not older) is kept, so a cached rerun copies
    nothing; on a bucket one listing answers that for all.

    Raises:
        StorageError: If an output cannot be read or a destination written.
    """
    cloudy = [p for pair in todo for p in pair if paths.is_cloud(p)]
    known = paths.stat_many(cloudy) if cloudy else {}
    for src, dest in todo:
        if paths.is_cloud(src) or paths.is_cloud(dest):
            a = known.get(src) if paths.is_cloud(src) else paths.stat(src)
            b = known.get(dest) if paths.is_cloud(dest) else paths.stat(dest)
            if a is not None and b is not None and a[0] == b[0] and b[1] >= a[1]:
                continue
        elif paths.is_exported(src, dest):
            continue
        paths.export(src, dest)


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]
