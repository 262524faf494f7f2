"""Lineage: where an output came from, from the run store alone.

An output is found by its path or URL in ``artifacts.uri`` (where its job wrote it) or
``artifacts.exported`` (its copy in the outdir); a path inside a ``dir`` output is found by that
directory. Its producer is the artifact's job; a job that was cached made nothing itself, so the
producer is then the latest earlier run whose job made that output (same URI and mtime) and ran. The
job's inputs are its ``consumers`` rows, and each is traced the same way, to ``depth`` levels.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import paths
from .records import ArtifactRecord, JobRecord, RunRecord, from_row

if TYPE_CHECKING:
    from .db import RunStore

__all__ = ["Lineage", "lineage", "lineage_json", "lineage_lines"]

_Key = tuple[int, str, int]


@dataclass
class Lineage:
    """One path and where it came from.

    Attributes:
        path: The path or URL asked about (an input: as its reader saw it).
        artifact: The output it is (None: no job in the store made it: a source).
        run: The run whose job made it.
        job: That job.
        match: How the path is the output: ``output`` (where its job wrote it), ``export`` (its copy in
            the outdir) or ``inside`` (a path in a ``dir`` output, or in its export).
        cached_in: The later run that found it cached, when it was asked about through that run.
        inputs: The job's path inputs, ``(input name, their lineage)``, in order.
        values: The job's other input values.
        truncated: Its inputs were not followed (``depth`` reached, or a job seen above).
    """

    path: str
    artifact: ArtifactRecord | None = None
    run: RunRecord | None = None
    job: JobRecord | None = None
    match: str = "output"
    cached_in: int | None = None
    inputs: list[tuple[str, Lineage]] = field(default_factory=list)
    values: dict[str, Any] = field(default_factory=dict)
    truncated: bool = False


def _forms(target: str) -> list[str]:
    """The forms a path may be stored under: as given (a URL), absolute, with links resolved."""
    if paths.is_cloud(target):
        return [target.rstrip("/")]
    full = os.path.abspath(os.path.expanduser(target))
    return list(dict.fromkeys([full, os.path.realpath(full)]))


def _candidates(target: str) -> list[str]:
    """The forms of a path and every directory above them (it may be a file inside a ``dir`` output)."""
    out = _forms(target)
    for form in list(out):
        head = form
        while True:
            parent = head.rsplit("/", 1)[0]
            if not parent or parent == head or parent.endswith(":/") or parent.endswith(":"):
                break
            out.append(parent)
            head = parent
    return list(dict.fromkeys(out))


def _job(db: RunStore, key: _Key) -> JobRecord | None:
    found = db.jobs(key[0], key[1], key[2])
    return found[0] if found else None


def _producer(db: RunStore, art: ArtifactRecord) -> tuple[ArtifactRecord, int | None]:
    """The artifact row of the run that made ``art`` (itself unless its job was cached), and the run
    that found it cached."""
    import sqlalchemy as sa

    from .schema import artifacts, jobs

    job = _job(db, (art.run_id, art.proc, art.index))
    if job is None or job.state != "cached":
        return art, None
    q = (
        sa.select(artifacts)
        .join(
            jobs,
            sa.and_(
                jobs.c.run_id == artifacts.c.run_id,
                jobs.c.proc == artifacts.c.proc,
                jobs.c.idx == artifacts.c.idx,
            ),
        )
        .where(artifacts.c.uri == art.uri, artifacts.c.run_id < art.run_id, jobs.c.state == "done")
        .order_by(artifacts.c.run_id.desc())
    )
    if art.mtime is not None:
        q = q.where((artifacts.c.mtime == art.mtime) | artifacts.c.mtime.is_(None))
    rows = db.query(q.limit(1))
    if not rows:
        return art, None
    return from_row(ArtifactRecord, rows[0], index=rows[0]["idx"]), art.run_id


def find_artifact(db: RunStore, target: str, *, before: int | None = None) -> ArtifactRecord | None:
    """The latest artifact row (of a run up to ``before``) that is ``target``, its export, or the
    ``dir`` output it is in."""
    import sqlalchemy as sa

    from .schema import artifacts

    forms = _candidates(target)
    q = sa.select(artifacts).where(artifacts.c.uri.in_(forms) | artifacts.c.exported.in_(forms))
    if before is not None:
        q = q.where(artifacts.c.run_id <= before)
    rows = db.query(q.order_by(artifacts.c.run_id.desc()))
    exact = set(_forms(target))

    def rank(row: Any) -> tuple[int, int, int]:
        hit = row["uri"] if row["uri"] in forms else row["exported"]
        return (hit in exact, len(hit or ""), row["run_id"])

    rows = [r for r in rows if r["uri"] in exact or r["exported"] in exact or r["kind"] == "dir"]
    if not rows:
        return None
    best = max(rows, key=rank)
    return from_row(ArtifactRecord, best, index=best["idx"])


def lineage(db: RunStore, target: str, *, depth: int = 10) -> Lineage:
    """Where ``target`` (a path or URL) came from, its inputs followed ``depth`` levels up."""
    return _trace(db, target, depth=depth, before=None, seen=set())


def _trace(db: RunStore, target: str, *, depth: int, before: int | None, seen: set[_Key]) -> Lineage:
    import sqlalchemy as sa

    from .schema import consumers, runs

    node = Lineage(path=target)
    art = find_artifact(db, target, before=before)
    if art is None:
        return node
    exact = _forms(target)
    node.match = "output" if art.uri in exact else "export" if art.exported in exact else "inside"
    art, node.cached_in = _producer(db, art)
    node.artifact = art
    key = (art.run_id, art.proc, art.index)
    node.job = _job(db, key)
    found = db.query(sa.select(runs).where(runs.c.id == art.run_id))
    node.run = from_row(RunRecord, found[0]) if found else None
    if node.job is not None and node.job.inputs:
        node.values = dict(json.loads(node.job.inputs))
    q = (
        sa.select(consumers.c.name, consumers.c.seq, consumers.c.uri)
        .where(consumers.c.run_id == key[0], consumers.c.proc == key[1], consumers.c.idx == key[2])
        .order_by(consumers.c.name, consumers.c.seq)
    )
    reads = db.query(q)
    for r in reads:
        node.values.pop(r["name"], None)
    if depth <= 0 or key in seen:
        node.truncated = bool(reads)
        return node
    seen.add(key)
    for r in reads:
        node.inputs.append((r["name"], _trace(db, r["uri"], depth=depth - 1, before=key[0], seen=seen)))
    return node


def lineage_json(node: Lineage) -> dict[str, Any]:
    """A lineage as JSON-ready data."""
    out: dict[str, Any] = {"path": node.path, "source": node.artifact is None}
    if node.artifact is not None:
        out["match"] = node.match
    art, job, run = node.artifact, node.job, node.run
    if art is not None:
        out["output"] = {"name": art.name, "kind": art.kind, "uri": art.uri, "exported": art.exported,
                         "nbytes": art.nbytes, "mtime": art.mtime, "checksum": art.checksum}  # fmt: skip
    if run is not None:
        out["run"] = {"id": run.id, "pipeline": run.pipeline, "project": run.project,
                      "started": run.started, "git_commit": run.git_commit}  # fmt: skip
    if job is not None:
        out["job"] = {"proc": job.proc, "index": job.index, "state": job.state, "dir": job.dir,
                      "script_hash": job.script_hash, "sig_hash": job.sig_hash}  # fmt: skip
    if node.cached_in is not None:
        out["cached_in"] = node.cached_in
    if node.values:
        out["values"] = node.values
    out["inputs"] = [{"input": name, **lineage_json(child)} for name, child in node.inputs]
    if node.truncated:
        out["truncated"] = True
    return out


def lineage_lines(node: Lineage, indent: str = "") -> list[str]:
    """A lineage as indented text, one fact a line."""
    from .views import when

    art, job, run = node.artifact, node.job, node.run
    if art is None:
        return [f"{indent}{node.path}: a source (no job in the run store made it)"]
    lines = [f"{indent}{node.path}"]
    pad = indent + "  "
    size = f", {art.nbytes} bytes" if art.nbytes is not None else ""
    check = f", {art.checksum}" if art.checksum else ""
    if node.match == "inside":
        lines.append(f"{pad}inside {art.kind} output {art.name!r} ({art.uri})")
    elif node.match == "export":
        lines.append(f"{pad}exported from {art.uri} ({art.kind} output {art.name!r}{size}{check})")
    else:
        lines.append(f"{pad}{art.kind} output {art.name!r}{size}{check}")
    where = f"run {art.run_id}" + (
        f" of {run.pipeline} ({when(run.started)}, {run.project or '-'})" if run else ""
    )
    state = f": {job.state}" if job else ""
    lines.append(f"{pad}made by {where}, process {art.proc} job {art.index}{state}")
    if node.cached_in is not None:
        lines.append(f"{pad}found cached by run {node.cached_in}")
    if job is not None:
        lines.append(f"{pad}script sha256 {job.script_hash or '-'}, signature {job.sig_hash or '-'}")
        lines.append(f"{pad}job dir {job.dir}")
    for name, value in node.values.items():
        lines.append(f"{pad}input {name} = {json.dumps(value)}")
    for name, child in node.inputs:
        lines.append(f"{pad}input {name}:")
        lines.extend(lineage_lines(child, pad + "  "))
    if node.truncated:
        lines.append(f"{pad}(inputs not followed: --depth reached, or seen above)")
    return lines
