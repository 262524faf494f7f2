"""Where a job's files are, and how its script sees them. Pure: no I/O, nothing read from the environment.

A job's directory (``<workdir>/<pipeline>/<proc>/<index>``) holds its metadata: ``job.script``,
``job.wrapper``, ``job.rc``, ``job.stdout``... Its script, however, always sees local paths. How those
local paths relate to the real ones depends on where the files are and on how the scheduler's jobs reach
them, which each scheduler declares once as its :class:`FileAccess`:

- **shared**: every path is local and the job sees it as the driver does (a local workdir and local
  inputs, on any scheduler that runs on this machine or a shared filesystem);
- **staged**: the job dir or some inputs are on a bucket; the job runs in a local stage directory, its
  cloud inputs are downloaded there first and its outputs uploaded afterwards (``pipework.stage``, run
  on the node by ``python -m pipework.stage``, or by the driver itself for the local scheduler);
- **mounted**: the buckets are mounted where the job runs (Google Batch VMs at ``/mnt/disks/<bucket>``),
  so the script sees each object at its mount path.

A fourth way is planned: a container that sees its files through bind mounts.
"""

from __future__ import annotations

import enum
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from .errors import SpecError
from .paths import is_cloud, join, split_url
from .stage import Manifest

__all__ = ["Access", "FileAccess", "JobLayout", "local_input", "place"]


class Access(enum.Enum):
    """How one job reaches its files (see the module docstring)."""

    SHARED = "shared"
    STAGED = "staged"
    MOUNTED = "mounted"


@dataclass(frozen=True, kw_only=True)
class FileAccess:
    """How a scheduler's jobs reach files on a bucket; declared once per scheduler class.

    Attributes:
        mount_root: Where the buckets are mounted on the machines that run the jobs (None: they are
            not mounted, files on buckets are staged).
        mount_schemes: The URL schemes that can be mounted (with ``mount_root``).
        stages_in_driver: The scheduler stages jobs itself, in the driver (the local scheduler): the
            engine then keeps a job's wrapper in memory and stores no wrapper or stage manifest on the
            bucket.
        name: How the machines that run the jobs are called in messages (``"a Batch VM"``).
    """

    mount_root: str | None = None
    mount_schemes: tuple[str, ...] = ()
    stages_in_driver: bool = False
    name: str = "the job's machine"

    @property
    def mounts(self) -> bool:
        """True when buckets are mounted rather than staged."""
        return self.mount_root is not None

    def mount_path(self, url: str) -> str:
        """``gs://bucket/a/b`` -> ``<mount_root>/bucket/a/b``: where a job sees the object."""
        _, bucket, key = split_url(url)
        return f"{self.mount_root}/{bucket}/{key}".rstrip("/")

    def check_mountable(self, url: str, *, proc: str, index: int) -> None:
        """Fail when a path of a job cannot be reached through the mounts.

        Raises:
            SpecError: For a local path or a URL of a scheme that is not mounted.
        """
        scheme = url.partition("://")[0] if is_cloud(url) else ""
        if scheme not in self.mount_schemes:
            schemes = " or ".join(f"{s}://" for s in self.mount_schemes)
            raise SpecError(
                f"{url!r} cannot be mounted in {self.name} (only {schemes} buckets are)",
                proc=proc,
                job=index,
                hint=f"use a {schemes} workdir and {schemes} inputs with this scheduler",
            )


_NONE: Mapping[str, str] = {}


@dataclass(frozen=True, slots=True)
class JobLayout:
    """Where one job's files are and where its script sees them.

    Attributes:
        access: How the job reaches its files.
        dir: The job directory (local path or cloud URL): where its metadata files live.
        run_dir: The local directory the wrapper runs in, which the script sees as its job dir (the job
            dir itself when shared, a stage dir when staged, the mount path when mounted).
        inputs: Cloud input URL -> the local path the script sees it at.
        uploads: ``(seen path, URL)`` of the outputs a staged job uploads after its script.
        out_dirs: Output directories the wrapper makes before the script (the job dir is on a bucket,
            so the engine cannot make them).
        buckets: The URLs (job dir, inputs) whose buckets a mounted job needs.
        in_driver: The driver stages this job itself (no wrapper or manifest is stored on the bucket).
    """

    access: Access
    dir: str
    run_dir: str
    inputs: Mapping[str, str] = field(default_factory=lambda: _NONE)
    uploads: tuple[tuple[str, str], ...] = ()
    out_dirs: tuple[str, ...] = ()
    buckets: tuple[str, ...] = ()
    in_driver: bool = False

    @property
    def remote(self) -> bool:
        """True when the job dir is on a bucket."""
        return is_cloud(self.dir)

    def seen(self, name: str) -> str:
        """A file of the job dir as the script sees it, e.g. ``seen("job.stdout")``."""
        return os.path.join(self.run_dir, name)

    @property
    def output_dir(self) -> str:
        """The job's output directory as the script sees it."""
        return self.seen("output")

    def output(self, relative: str) -> tuple[str, str]:
        """A relative output path as ``(what the script sees, where it really is)``."""
        return os.path.join(self.output_dir, relative), join(self.dir, "output", relative)

    def with_outputs(self, outputs: Sequence[tuple[str, str, str]]) -> JobLayout:
        """The layout once the job's outputs are known.

        Args:
            outputs: ``(seen path, real path, type)`` of each file or dir output in the job dir.
        """
        if not self.remote or not outputs:
            return self
        dirs = tuple(
            dict.fromkeys(seen if typ == "dir" else os.path.dirname(seen) for seen, _, typ in outputs)
        )
        uploads = tuple((seen, real) for seen, real, _ in outputs) if self.access is Access.STAGED else ()
        return replace(self, uploads=uploads, out_dirs=dirs)

    def manifest(self) -> Manifest:
        """What ``pipework.stage`` stages for this job (a staged job)."""
        return Manifest(
            stage_dir=self.run_dir,
            inputs=[[url, seen] for url, seen in self.inputs.items()],
            outputs=[[seen, url] for seen, url in self.uploads],
        )

    @property
    def submit_dir(self) -> str:
        """A local directory on the submitting host for the process's submission scripts."""
        return os.path.dirname(self.run_dir if self.access is not Access.SHARED else self.dir)

    def launch_argv(self) -> list[str]:
        """The command a scheduler runs to execute the job, the same for every scheduler.

        A shared job runs its wrapper with bash. A staged job runs ``python -m pipework.stage run <job
        dir>`` with the driver's interpreter, which stages inputs in, runs the wrapper and stages the
        outputs and ``job.rc`` out (cluster nodes must share the driver's Python environment). A mounted
        job runs its wrapper from the mount.
        """
        if self.access is Access.STAGED:
            return [sys.executable, "-m", "pipework.stage", "run", self.dir]
        return ["bash", self.seen("job.wrapper")]


def local_input(url: str, stage_dir: str) -> str:
    """The local path a cloud input is staged at: ``<stage dir>/in/<scheme>/<bucket>/<key>``."""
    scheme, bucket, key = split_url(url)
    return os.path.join(stage_dir, "in", scheme, bucket, key)


def place(
    access: FileAccess,
    *,
    job_dir: str,
    cloud_inputs: Sequence[str],
    stage_dir: str,
    proc: str,
    index: int,
) -> JobLayout:
    """Decide where a job's files are and how its script sees them.

    Args:
        access: How the job's scheduler reaches files on buckets.
        job_dir: The job directory (local path or URL).
        cloud_inputs: The job's input paths that are cloud URLs.
        stage_dir: The local stage directory the job would run in if staged (on a shared local disk
            path that exists on every node, e.g. ``<stage root>/<run tag>/<proc>/<index>``).
        proc: The process name (for errors).
        index: The job index (for errors).

    Raises:
        SpecError: When the scheduler mounts buckets and a path cannot be mounted.
    """
    remote = is_cloud(job_dir)
    if access.mounts:
        for url in (job_dir, *cloud_inputs):
            access.check_mountable(url, proc=proc, index=index)
        return JobLayout(
            access=Access.MOUNTED,
            dir=job_dir,
            run_dir=access.mount_path(job_dir),
            inputs={url: access.mount_path(url) for url in cloud_inputs} if cloud_inputs else _NONE,
            buckets=(job_dir, *cloud_inputs),
        )
    if not remote and not cloud_inputs:
        return JobLayout(access=Access.SHARED, dir=job_dir, run_dir=job_dir)
    run_dir = stage_dir if remote else job_dir
    return JobLayout(
        access=Access.STAGED,
        dir=job_dir,
        run_dir=run_dir,
        inputs={url: local_input(url, run_dir) for url in cloud_inputs} if cloud_inputs else _NONE,
        in_driver=access.stages_in_driver,
    )
