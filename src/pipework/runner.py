"""Running one process: input channel -> jobs -> render -> cache check -> submit -> wait -> verify.

:class:`ProcRunner` does the per-process part of the data path of DESIGN §2 for one run. Blocking file
work is batched: one worker-thread call prepares all of a process's jobs, one call finishes each batch of
completed jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import time
from collections import Counter
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from . import paths, signature
from .channel import Channel
from .errors import JobFailed, PipeworkError, SpecError, StorageError
from .job import Job, render_wrapper
from .schedulers import get_scheduler_class
from .schedulers.gbatch import mount_path
from .spec import ProcSpec, is_callable_data
from .stage import MANIFEST, Manifest, local_input, stage_root
from .state import JobState
from .store import JobRecord
from .template import CompiledTemplate, Namespace

if TYPE_CHECKING:
    from .run import RunContext

__all__ = ["ProcResult", "ProcRunner", "input_channel"]

STDERR_TAIL_LINES = 20
#: On a bucket, the signatures of finished jobs are saved in the process's manifest at most this often
#: (and when the process ends or is interrupted): one request per interval instead of one per job.
MANIFEST_INTERVAL = 2.0


@dataclass
class ProcResult:
    """What one process produced in a run.

    Attributes:
        name: The process name.
        channel: Its output channel (one row per successful or cached job).
        jobs: Its jobs.
        seconds: Wall time from its start to its end.
        failures: Failed jobs that were ignored (``error_strategy = "ignore"``).
    """

    name: str
    channel: Channel
    jobs: list[Job]
    seconds: float = 0.0
    failures: list[JobFailed] = field(default_factory=list)

    @property
    def counts(self) -> dict[str, int]:
        """Number of jobs in each final state."""
        return dict(Counter(job.state.value for job in self.jobs))


def input_channel(spec: ProcSpec, upstream: Sequence[Channel]) -> Channel:
    """Build a process's input channel from ``input_data`` and its upstream output channels.

    Without ``input_data`` the upstream channels are joined side by side; a callable gets them as
    positional arguments, in ``requires`` order.

    Raises:
        SpecError: For invalid ``input_data`` or too few columns for the declared inputs.
    """
    data = spec.input_data
    if is_callable_data(data):
        try:
            data = data(*upstream)
        except PipeworkError:
            raise
        except Exception as exc:
            raise SpecError(
                f"input_data function raised {type(exc).__name__}: {exc}",
                proc=spec.name,
                hint=f"it is called with {len(upstream)} upstream channel(s), in requires order",
            ) from exc
    elif data is None:
        if not upstream:
            data = Channel([], [()]) if not spec.inputs else None
            if data is None:
                raise SpecError(
                    f"has input {spec.input_names} but no input_data and no requires",
                    proc=spec.name,
                    hint="set input_data, e.g. input_data = ['a.txt', 'b.txt']",
                )
        else:
            data = upstream[0].cbind(*upstream[1:]) if len(upstream) > 1 else upstream[0]
    try:
        channel = Channel.create(data)
    except SpecError as exc:
        exc.proc = spec.name
        raise
    names = spec.input_names
    if not names:
        return channel
    if all(n in channel.columns for n in names):
        return channel.select(*names)
    if len(channel.columns) < len(names):
        raise SpecError(
            f"input declares {len(names)} column(s) {names} but input data has "
            f"{len(channel.columns)}: {list(channel.columns)}",
            proc=spec.name,
            hint="give one value per input column in each row",
        )
    return Channel(names, [row[: len(names)] for row in channel.rows])


class ProcRunner:
    """Runs the jobs of one process in one run.

    Args:
        spec: The process.
        run: The run it belongs to (schedulers, progress, hooks, templates, halt signal).
    """

    def __init__(self, spec: ProcSpec, run: RunContext) -> None:
        self.spec = spec
        self.run = run
        self.dir = paths.join(run.pipeline_dir, spec.name)
        engine = run.templates(spec)
        self._script = engine.compile(spec.script, proc=spec.name, what="script")
        self._outputs: dict[str, CompiledTemplate] = {
            o.name: engine.compile(o.template, proc=spec.name, what=f"output {o.name!r}")
            for o in spec.outputs
        }
        self.jobs: list[Job] = []
        self._shown: dict[Job, JobState] = {}
        # on a bucket: the signatures to keep in the manifest, and when it was last written
        self._sigs: dict[int, dict[str, Any]] | None = {} if paths.is_cloud(self.dir) else None
        self._sigs_dirty = False
        self._sigs_written = 0.0
        # a scheduler whose jobs see the buckets mounted (gbatch) gets scripts on the mount paths
        scheduler_class = get_scheduler_class(spec.scheduler)
        self.mounts = bool(getattr(scheduler_class, "mounts", False))
        # one that stages jobs in the driver needs no wrapper or stage manifest on the bucket
        self.stages_in_process = bool(getattr(scheduler_class, "stages_in_process", False))

    def _show(self, job: Job, state: JobState) -> None:
        old = self._shown.get(job, JobState.PENDING)
        if old is not state:
            self._shown[job] = state
            self.run.progress.job_state(self.spec.name, old, state)

    # -- building jobs ---------------------------------------------------------------------------
    def make_jobs(self, channel: Channel) -> list[Job]:
        """Create and render one job per channel row (pure: no file is touched)."""
        spec = self.spec
        proc_ctx = {
            "name": spec.name,
            "desc": spec.desc,
            "lang": spec.lang,
            "forks": spec.forks,
            "envs": spec.envs,
            "workdir": self.dir,
        }
        proc_namespace = Namespace(proc_ctx)
        envs = Namespace(spec.envs)
        cloud_dir = paths.is_cloud(self.dir)
        jobs = []
        for index, row in enumerate(channel.rows):
            inputs = {s.name: _normalise_input(s.type, v) for s, v in zip(spec.inputs, row, strict=False)}
            jobdir = paths.join(self.dir, str(index))
            job = Job(
                spec=spec,
                index=index,
                dir=jobdir,
                name=f"pw-{self.run.tag}-{spec.name}-{index}",
                inputs=inputs,
                outputs={},
            )
            # a job with files on a bucket runs on local paths under its stage dir (see pipework.stage)
            cloud_inputs = [v for v in _path_values(spec, inputs) if paths.is_cloud(v)]
            staged = (cloud_dir or bool(cloud_inputs)) and not self.mounts
            if self.mounts:
                _check_mountable(spec.name, index, [jobdir, *cloud_inputs])
                local = mount_path(jobdir)
                seen_in = {url: mount_path(url) for url in cloud_inputs}
                job.extra["buckets"] = [jobdir, *cloud_inputs]
            else:
                local = (
                    os.path.join(stage_root(), self.run.tag, spec.name, str(index)) if cloud_dir else jobdir
                )
                seen_in = {url: local_input(url, local) for url in cloud_inputs}
            job_ctx: dict[str, Any] = {
                "index": index,
                "dir": local,
                "outdir": os.path.join(local, "output") if cloud_dir else job.output_dir,
                "stdout": os.path.join(local, "job.stdout") if cloud_dir else job.path("job.stdout"),
                "stderr": os.path.join(local, "job.stderr") if cloud_dir else job.path("job.stderr"),
                "script": os.path.join(local, "job.script") if cloud_dir else job.path("job.script"),
            }
            ctx: dict[str, Any] = {
                "in": Namespace(_localised(inputs, seen_in)),
                "job": Namespace(job_ctx),
                "proc": proc_namespace,
                "envs": envs,
            }
            rendered_out: dict[str, Any] = {}
            uploads: list[list[str]] = []
            for out in spec.outputs:
                value = self._outputs[out.name].render(ctx, job=index).strip()
                rendered_out[out.name] = value
                if out.type != "var" and not (value.startswith("/") or paths.is_cloud(value)):
                    rendered_out[out.name] = os.path.join(job_ctx["outdir"], value)
                    value = paths.join(job.output_dir, value)
                    if cloud_dir:
                        uploads.append([rendered_out[out.name], value])
                        job.extra.setdefault("local_out", []).append((rendered_out[out.name], out.type))
                job.outputs[out.name] = value
            ctx["out"] = Namespace(rendered_out)
            job.script = self._script.render(ctx, job=index)
            if staged:
                job.extra["stage"] = Manifest(
                    stage_dir=local, inputs=[[u, p] for u, p in seen_in.items()], outputs=uploads
                )
                if self.stages_in_process:
                    job.extra["stage_in_driver"] = True
            jobs.append(job)
        self.jobs = jobs
        return jobs

    def export_targets(self) -> dict[str, tuple[Job, str]]:
        """Map each export destination to its job and output name.

        Raises:
            SpecError: If two jobs would export to the same path (before anything runs).
        """
        targets: dict[str, tuple[Job, str]] = {}
        if not self.spec.export:
            return targets
        base = paths.join(self.run.outdir, self.spec.name)
        for job in self.jobs:
            for out in self.spec.outputs:
                if out.type == "var":
                    continue
                dest = paths.join(base, _basename(str(job.outputs[out.name])))
                if dest in targets:
                    other, other_out = targets[dest]
                    raise SpecError(
                        f"jobs {other.index} and {job.index} would both export {dest!r} "
                        f"(outputs {other_out!r} and {out.name!r})",
                        proc=self.spec.name,
                        hint="make the output name depend on the input, e.g. "
                        "'{{in.infile | stem}}.txt', or set export = False",
                    )
                targets[dest] = (job, out.name)
        return targets

    # -- running ---------------------------------------------------------------------------------
    async def execute(self, upstream: Sequence[Channel]) -> ProcResult:
        """Run the process to the end and return its result.

        Raises:
            JobFailed: When a job fails and the strategy is ``halt`` (or retries ran out).
        """
        started = time.monotonic()
        spec = self.spec
        channel = input_channel(spec, upstream)
        jobs = self.make_jobs(channel)
        targets = self.export_targets()
        self.run.progress.proc_start(spec.name, len(jobs))
        await self.run.hook("on_proc_start", proc=spec.name, njobs=len(jobs))
        await asyncio.to_thread(_prepare, jobs, spec.cache)
        for job in jobs:
            if job.state is JobState.CACHED:
                self._show(job, JobState.CACHED)
        if self._sigs is not None:
            self._sigs.update({j.index: j.extra["signature"] for j in jobs if j.state is JobState.CACHED})
            # a job about to run again must not look cached from its old entry if this run dies
            stale = [j for j in jobs if j.extra.pop("in_manifest", False) and j.state is not JobState.CACHED]
            if stale:
                await self._save_signatures()
        try:
            failures = await self._run_jobs([j for j in jobs if j.state is not JobState.CACHED])
        except BaseException:
            if self._sigs_dirty:  # keep what finished cached, without hiding why the process stopped
                with contextlib.suppress(StorageError):
                    await self._save_signatures()
            raise
        else:
            if self._sigs_dirty:
                await self._save_signatures()
        finally:
            if self.run.store is not None:
                records = [
                    JobRecord(j.proc, j.index, j.state.value, j.rc, j.attempts, j.jid, j.dir, j.cache_reason)
                    for j in jobs
                ]
                await self.run.record(
                    self.run.store.record_proc,
                    name=spec.name,
                    seconds=time.monotonic() - started,
                    jobs=records,
                )
        ok = [j for j in jobs if j.state in (JobState.DONE, JobState.CACHED)]
        if targets:
            try:
                await asyncio.to_thread(
                    _export, [(j.outputs[o], d) for d, (j, o) in targets.items() if j in ok]
                )
            except StorageError as exc:
                exc.proc = spec.name
                exc.message = f"exporting its outputs failed: {exc.message}"
                raise
        result = ProcResult(
            name=spec.name,
            channel=Channel(
                [o.name for o in spec.outputs],
                [[j.outputs[o.name] for o in spec.outputs] for j in ok],
            ),
            jobs=jobs,
            seconds=time.monotonic() - started,
            failures=failures,
        )
        self.run.progress.proc_done(spec.name)
        await self.run.hook("on_proc_done", proc=spec.name, counts=result.counts)
        return result

    async def _save_signatures(self) -> None:
        """Write the process's signature manifest (a bucket's stand-in for per-job signature files).

        Raises:
            StorageError: If it cannot be written (the finished jobs would not be cached).
        """
        assert self._sigs is not None
        self._sigs_dirty = False
        self._sigs_written = time.monotonic()
        try:
            await asyncio.to_thread(signature.write_manifest, self.dir, dict(self._sigs))
        except StorageError as exc:
            exc.proc = self.spec.name
            exc.message = f"saving the signatures of its jobs failed: {exc.message}"
            raise

    async def _run_jobs(self, todo: list[Job]) -> list[JobFailed]:
        if not todo:
            return []
        spec, run = self.spec, self.run
        scheduler = await run.scheduler_for(spec)
        queue: asyncio.Queue[Any] = asyncio.Queue()
        waiting = [j for j in todo if j.extra.get("maybe_running")]
        adopted = await scheduler.reattach(waiting, queue) if waiting else []
        fresh = [j for j in todo if j not in adopted]
        if waiting and len(adopted) < len(waiting):
            await asyncio.to_thread(_clean, [j for j in waiting if j not in adopted])
        for job in adopted:
            self._show(job, job.state)
        await self._submit(scheduler, fresh, queue)
        remaining = len(todo)
        ignored: list[JobFailed] = []
        while remaining:
            batch = [await queue.get()]
            while not queue.empty():
                batch.append(queue.get_nowait())
            for item in batch:
                if isinstance(item, BaseException):
                    raise item
            finals = [(j, s) for j, s in batch if s.is_final]
            for job, state in batch:
                if not state.is_final:
                    self._show(job, state)
            if not finals:
                continue
            outcomes = await asyncio.to_thread(_finish, [j for j, _ in finals])
            if self._sigs is not None:
                done = {
                    j.index: j.extra["signature"] for j, f in outcomes if f is None and "signature" in j.extra
                }
                if done:
                    self._sigs.update(done)
                    self._sigs_dirty = True
                    if time.monotonic() - self._sigs_written >= MANIFEST_INTERVAL:
                        await self._save_signatures()
            retry: list[Job] = []
            for job, failure in outcomes:
                self._show(job, job.state)
                await run.hook(
                    "on_job_done", proc=spec.name, index=job.index, state=job.state.value, rc=job.rc
                )
                if failure is None:
                    remaining -= 1
                    continue
                if spec.error_strategy == "retry" and job.attempts <= spec.num_retries and not run.halting:
                    retry.append(job)
                    continue
                remaining -= 1
                if spec.error_strategy == "ignore":
                    ignored.append(failure)
                    run.warn(f"{failure} (ignored)")
                    continue
                raise failure
            if retry:
                await asyncio.to_thread(_clean, retry)
                await self._submit(scheduler, retry, queue)
        return ignored

    async def _submit(self, scheduler: Any, jobs: list[Job], queue: asyncio.Queue[Any]) -> None:
        if not jobs:
            return
        await scheduler.dispatch(jobs, queue)
        for job in jobs:
            self._show(job, JobState.QUEUED)
            await self.run.hook("on_job_submitted", proc=self.spec.name, index=job.index, jid=job.jid)


def _path_values(spec: ProcSpec, inputs: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for s in spec.inputs:
        if s.is_path:
            value = inputs[s.name]
            out.extend(value if isinstance(value, list) else [value])
    return [str(v) for v in out]


def _localised(inputs: dict[str, Any], seen: dict[str, str]) -> dict[str, Any]:
    """Input values as the script sees them: cloud URLs replaced by their staged local paths."""
    if not seen:
        return inputs
    return {
        k: [seen.get(x, x) for x in v] if isinstance(v, list) else seen.get(v, v) if isinstance(v, str) else v
        for k, v in inputs.items()
    }


def _normalise_input(typ: str, value: Any) -> Any:
    if typ == "var":
        return value
    if typ in ("files", "dirs"):
        items = [value] if isinstance(value, (str, os.PathLike)) else list(value or [])
        return [_abs(v) for v in items]
    if isinstance(value, (list, tuple)):
        raise SpecError(f"a {typ!r} input takes one path per job, got a list of {len(value)}")
    return _abs(value)


def _abs(value: Any) -> str:
    text = os.fspath(value) if isinstance(value, os.PathLike) else str(value)
    return paths.resolve(text)


def _basename(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


# -- blocking work, run in a worker thread --------------------------------------------------------
def _prepare(jobs: list[Job], cache: Any) -> None:
    """Check inputs, decide which jobs are cached, and lay out the directories of the others."""
    check_inputs(jobs)
    occupied = check_cache(jobs, cache)
    todo, fresh = [], set()
    for job in jobs:
        # on a bucket, the listing of the cache check tells which job dirs hold anything
        empty = job.index not in occupied if occupied is not None else paths.makedir(job.dir)
        if job.state is not JobState.CACHED and not job.extra.get("maybe_running"):
            todo.append(job)
            if empty:
                fresh.add(job)
    _clean(todo, fresh=fresh)


def check_inputs(jobs: Sequence[Job]) -> None:
    """Fail before anything runs when a local ``file``/``dir`` input does not exist. Blocking.

    Raises:
        SpecError: Naming the first job and path, and how many more are missing.
    """
    missing = []
    for job in jobs:
        for spec in job.spec.inputs:
            if spec.type in ("file", "dir"):
                value = job.inputs[spec.name]
                if not paths.is_cloud(value) and not os.path.exists(value):
                    missing.append((job, spec.name, value))
    if missing:
        job, name, value = missing[0]
        more = f" ({len(missing) - 1} more missing)" if len(missing) > 1 else ""
        raise SpecError(
            f"input {name!r} file {value!r} does not exist{more}",
            proc=job.proc,
            job=job.index,
            hint="check input_data (relative paths are relative to the directory you run from)",
        )


def check_cache(jobs: Sequence[Job], cache: Any) -> set[int] | None:
    """Set each job's ``cache_reason`` (empty: cached, state CACHED). Reads only. Blocking.

    On a bucket, the requests do not grow with the jobs: one listing of the process's prefix answers
    which signatures, outputs, job.jid and job.rc exist, one listing per input prefix gives the input
    facts, and one object holds all the process's signatures.

    Returns:
        For a process directory on a bucket, the indices of the job directories that hold any object
        (the others need no cleaning); None for a local one.
    """
    if not jobs:
        return None
    content = cache == "content"
    proc_dir = jobs[0].dir.rsplit("/", 1)[0]
    listing: dict[str, tuple[int, float]] | None = None
    stored: dict[int, dict[str, Any]] = {}
    occupied: set[int] | None = None
    if paths.is_cloud(proc_dir):
        listing = paths.list_prefix(proc_dir)
        start = len(proc_dir.rstrip("/")) + 1
        occupied = {int(head) for url in listing if (head := url[start:].split("/", 1)[0]).isdigit()}
        if paths.join(proc_dir, signature.MANIFEST) in listing:
            stored = signature.read_manifest(proc_dir)
    cloud_inputs = sorted({p for j in jobs for p in signature.input_paths(j) if paths.is_cloud(p)})
    stats = paths.stat_many(cloud_inputs) if cloud_inputs and cache is not False else None
    for job in jobs:
        if cache is False:
            job.cache_reason = "cache disabled"
        else:
            facts = signature.file_facts(job, content=content, stats=stats)
            job.extra["signature"] = new = signature.make(job, facts)
            if listing is None:
                old = signature.read(job)
            elif job.index in stored:
                old = stored[job.index]
                job.extra["in_manifest"] = True
            else:
                old = signature.read(job) if job.path("job.signature.json") in listing else None
            reason = signature.compare(old, new)
            if not reason:
                gone = signature.missing_outputs(job, listing)
                if gone:
                    reason = f"output {gone[0]!r} missing ({job.outputs[gone[0]]})"
            job.cache_reason = reason
        if not job.cache_reason:
            job.state = JobState.CACHED
        elif not _exists(job.path("job.rc"), listing) and (
            _exists(job.path("job.jid"), listing) or _exists(job.path("job.pid"), listing)
        ):
            # a previous driver's job, submitted (job.jid) or started (job.pid, written by the wrapper
            # itself, so it exists even if that driver died before recording job.jid): try to adopt it
            job.extra["maybe_running"] = True
    return occupied


def _exists(path: str, listing: dict[str, tuple[int, float]] | None) -> bool:
    return path in listing if listing is not None else paths.exists(path)


def _clean(jobs: list[Job], *, fresh: Collection[Job] = ()) -> None:
    """Remove what a previous attempt left and write the script, wrapper (and stage manifest).

    Jobs in ``fresh`` have a directory known to be empty (made just now, or absent from the bucket's
    listing): there is nothing of theirs to remove.
    """
    for job in jobs:
        job.extra.pop("maybe_running", None)
        manifest: Manifest | None = job.extra.get("stage")
        if paths.is_cloud(job.dir):
            if job not in fresh:
                paths.rmtree(job.dir)  # one listing and deletes; a bucket has no directories to make
        else:
            if job not in fresh:
                for name in JOB_FILES:
                    paths.remove(job.path(name))
                paths.rmtree(job.output_dir)
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
        run_dir = manifest.stage_dir if manifest is not None else None
        if job.extra.get("buckets"):
            run_dir = mount_path(job.dir)
        wrapper = render_wrapper(job, run_dir=run_dir, **_dir_lines(job))
        job.extra["wrapper"] = wrapper
        if job.extra.get("stage_in_driver") and paths.is_cloud(job.dir):
            # the driver stages this job from memory and uploads job.script as it stages it in,
            # beside other transfers: no wrapper or manifest object, no upload here before any job runs
            continue
        paths.write_text(job.path("job.script"), job.script)
        paths.write_text(job.path("job.wrapper"), wrapper)
        if manifest is not None:
            paths.write_text(job.path(MANIFEST), manifest.to_json())


#: What a run of a job leaves in its directory, removed before it runs again.
JOB_FILES = ("job.rc", "job.stdout", "job.stderr", "job.jid", "job.pid", "job.signature.json")


def _dir_lines(job: Job) -> dict[str, str]:
    """Wrapper lines that create the output directories of a job whose job dir is on a bucket."""
    local_out: list[tuple[str, str]] = job.extra.get("local_out", [])
    if not local_out:
        return {}
    lines = [f"mkdir -p {shlex.quote(p if t == 'dir' else os.path.dirname(p))}" for p, t in local_out]
    return {"setup": "\n".join(lines)}


def _check_mountable(proc: str, index: int, urls: list[str]) -> None:
    """Jobs on a scheduler that mounts buckets need their job dir and inputs on gs://."""
    for url in urls:
        if not url.startswith("gs://"):
            raise SpecError(
                f"{url!r} cannot be mounted in a Batch VM (only gs:// buckets are)",
                proc=proc,
                job=index,
                hint="use a gs:// workdir and gs:// inputs with the gbatch scheduler",
            )


def _finish(jobs: list[Job]) -> list[tuple[Job, JobFailed | None]]:
    """Verify outputs and write signatures of jobs that ended; explain the failures."""
    out: list[tuple[Job, JobFailed | None]] = []
    for job in jobs:
        failure: JobFailed | None = None
        if job.state is JobState.DONE:
            # outputs the driver uploaded itself are known to exist: no request to check them
            uploaded = job.extra.pop("uploaded", None)
            gone = signature.missing_outputs(job, dict.fromkeys(uploaded) if uploaded is not None else None)
            if gone:
                job.state = JobState.FAILED
                failure = _failure(
                    job,
                    f"output {gone[0]!r} was not created by the script ({job.outputs[gone[0]]})",
                    hint=f"check the script writes {{{{out.{gone[0]}}}}}",
                )
            else:
                try:
                    # the facts of the inputs as they were when the job was prepared
                    sig = job.extra.get("signature") or signature.make(
                        job, signature.file_facts(job, content=job.spec.cache == "content")
                    )
                    job.extra["signature"] = sig
                    if not paths.is_cloud(job.dir):  # on a bucket: saved in the process's manifest
                        signature.write(job, sig)
                except StorageError as exc:
                    job.state = JobState.FAILED
                    failure = _failure(job, f"its signature cannot be written: {exc.message}")
        elif job.state is JobState.FAILED:
            failure = _failure(job, f"failed with return code {job.rc}")
        elif job.state is JobState.KILLED:
            failure = _failure(job, "was cancelled")
        else:
            failure = _failure(
                job,
                "ended without writing job.rc",
                hint="it was killed by SIGKILL, ran out of memory, or its node failed",
            )
        out.append((job, failure))
    return out


def _failure(job: Job, message: str, *, hint: str | None = None) -> JobFailed:
    native = job.native_state
    if native:
        message += f" (scheduler: {native})"
    try:
        text = paths.read_text(job.path("job.stderr"))
    except StorageError:
        text = ""
    tail = "\n".join(text.rstrip("\n").splitlines()[-STDERR_TAIL_LINES:])
    return JobFailed(
        message,
        proc=job.proc,
        job=job.index,
        rc=job.rc,
        jobdir=job.dir,
        stderr_tail=tail,
        hint=hint,
    )


def _export(pairs: list[tuple[str, str]]) -> None:
    """Export outputs; on a bucket, what one listing shows is already exported (same size, not older)
    is kept, so a cached rerun uploads nothing."""
    cloudy = [p for pair in pairs for p in pair if paths.is_cloud(p)]
    known = paths.stat_many(cloudy) if cloudy else {}
    for src, dest in pairs:
        if paths.is_cloud(src) or paths.is_cloud(dest):
            a = known.get(src) if paths.is_cloud(src) else paths.stat(src)
            b = known.get(dest) if paths.is_cloud(dest) else paths.stat(dest)
            if a is not None and b is not None and a[0] == b[0] and b[1] >= a[1]:
                continue
        elif paths.is_exported(src, dest):
            continue
        paths.export(src, dest)


def count_states(jobs: Sequence[Job]) -> Mapping[JobState, int]:
    """How many jobs are in each state."""
    return Counter(job.state for job in jobs)
