"""Google Cloud Batch: one Batch job per process submission, its tasks are the jobs.

Jobs of a ``gbatch`` pipeline live in a ``gs://`` work directory; the buckets of the workdir, outdir and
inputs are mounted in the VMs at ``/mnt/disks/<bucket>`` and scripts are rendered on those paths, so
scripts read and write plain files. Each submission is one Batch job with ``task_count`` = its jobs and
``parallelism`` = ``forks``; the task index (``BATCH_TASK_INDEX``) selects the job, whose wrapper writes
``job.rc`` into the bucket. Status: one ``list_tasks`` per Batch job per poll. Cancel: ``delete_job``.
The ``google-cloud-batch`` client (REST transport) is called in worker threads.
"""

from __future__ import annotations

import asyncio
import re
import shlex
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import paths
from ..errors import ConfigError, SchedulerError
from ..job import Job
from ..layout import FileAccess
from ..state import JobState
from .base import Scheduler

__all__ = [
    "GbatchScheduler",
    "GbatchSettings",
    "batch_job_id",
    "build_job",
    "mount_path",
    "task_failure_kind",
]

MOUNT_ROOT = "/mnt/disks"
#: Batch VMs see each gs:// bucket of a job mounted at ``/mnt/disks/<bucket>``.
FILE_ACCESS = FileAccess(mount_root=MOUNT_ROOT, mount_schemes=("gs",), name="a Batch VM")


@dataclass(frozen=True, kw_only=True)
class GbatchSettings:
    """Options of the gbatch scheduler (``scheduler_opts``).

    Attributes:
        project: Google Cloud project (required).
        location: Region of the Batch jobs.
        endpoint: Another API endpoint (``http://127.0.0.1:PORT`` for a local Batch API).
        anonymous: Send no credentials (a local endpoint); otherwise Application Default Credentials.
        machine_type: VM machine type, e.g. ``e2-standard-4``.
        spot: Spot VMs (cheaper, may be preempted) instead of standard ones.
        network: VPC network; subnetwork: its subnetwork.
        service_account: Email of the service account of the VMs.
        labels: Labels added to every Batch job (besides pipework's own).
        max_run_duration: Longest run of a task (overrides ``resources.time``), e.g. ``"2h"``.
        retry_count: Times Batch retries a failed task.
        boot_disk_mib: Boot disk size per task, in MiB.
        accelerator_type: The GPU type that ``resources.gpus`` asks for.
        poll_interval: First wait between status queries, in seconds.
        max_poll_interval: Longest wait between status queries, in seconds.
    """

    project: str | None = field(default=None, metadata={"help": "Google Cloud project"})
    location: str = field(default="us-central1", metadata={"help": "region of the Batch jobs"})
    endpoint: str | None = field(default=None, metadata={"help": "another API endpoint"})
    anonymous: bool = field(default=False, metadata={"help": "send no credentials (local endpoint)"})
    machine_type: str | None = field(default=None, metadata={"help": "VM machine type"})
    spot: bool = field(default=False, metadata={"help": "use spot VMs"})
    network: str | None = field(default=None, metadata={"help": "VPC network"})
    subnetwork: str | None = field(default=None, metadata={"help": "VPC subnetwork"})
    service_account: str | None = field(default=None, metadata={"help": "service account email"})
    labels: dict[str, str] = field(default_factory=dict, metadata={"help": "labels of every Batch job"})
    max_run_duration: str | None = field(default=None, metadata={"help": "longest task run, e.g. 2h"})
    retry_count: int = field(default=0, metadata={"help": "Batch retries of a failed task"})
    boot_disk_mib: int | None = field(default=None, metadata={"help": "boot disk per task (MiB)"})
    accelerator_type: str = field(
        default="nvidia-tesla-t4", metadata={"help": "GPU type for resources.gpus, e.g. nvidia-l4"}
    )
    poll_interval: float = field(default=2.0, metadata={"help": "first wait between status queries (s)"})
    max_poll_interval: float = field(default=60.0, metadata={"help": "longest wait between queries (s)"})


#: Batch task states -> pipework states (the names of ``TaskStatus.State``).
STATES = {
    "PENDING": JobState.QUEUED,
    "ASSIGNED": JobState.QUEUED,
    "RUNNING": JobState.RUNNING,
    "SUCCEEDED": JobState.DONE,
    "FAILED": JobState.FAILED,
    "UNEXECUTED": JobState.KILLED,
}


def mount_path(url: str) -> str:
    """``gs://bucket/a/b`` -> ``/mnt/disks/bucket/a/b`` (where the VM sees the object)."""
    return FILE_ACCESS.mount_path(url)


def batch_job_id(run_tag: str, proc: str, first: int, seq: int) -> str:
    """A valid Batch job id (``^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$``): ``pw-<run>-<proc>-<first>-<seq>``."""
    name = re.sub(r"[^a-z0-9-]+", "-", proc.lower()).strip("-")[:30] or "proc"
    return f"pw-{run_tag}-{name}-{first}-{seq}"[:63].rstrip("-")


def task_script(jobs: Sequence[Job]) -> str:
    """The task's script: its index selects a job, whose wrapper (on the mounted bucket) it runs."""
    cases = "\n".join(
        f"  {i}) exec bash {shlex.quote(mount_path(job.path('job.wrapper')))} ;;"
        for i, job in enumerate(jobs)
    )
    return (
        f"# pipework: process {jobs[0].proc}, jobs {jobs[0].index}..{jobs[-1].index}\n"
        f'case "${{BATCH_TASK_INDEX:-}}" in\n{cases}\n'
        '  *) echo "pipework: unknown task index ${BATCH_TASK_INDEX:-none}" >&2; exit 64 ;;\n'
        "esac\n"
    )


def build_job(settings: GbatchSettings, jobs: Sequence[Job], *, run_tag: str, buckets: Sequence[str]) -> Any:
    """The ``batch_v1.Job`` of one submission (pure; the types come from google-cloud-batch)."""
    from google.cloud import batch_v1
    from google.protobuf import duration_pb2

    from ..resources import parse_time

    spec = jobs[0].spec
    script = task_script(jobs)
    volumes = [
        batch_v1.Volume(gcs=batch_v1.GCS(remote_path=b), mount_path=f"{MOUNT_ROOT}/{b}") for b in buckets
    ]
    if spec.container:
        runnable = batch_v1.Runnable(
            container=batch_v1.Runnable.Container(
                image_uri=spec.container,
                entrypoint="bash",
                commands=["-c", script],
                volumes=[f"{MOUNT_ROOT}/{b}:{MOUNT_ROOT}/{b}" for b in buckets],
            )
        )
    else:
        runnable = batch_v1.Runnable(script=batch_v1.Runnable.Script(text=script))
    res = jobs[0].resources or spec.resources  # the base submits jobs that ask alike together
    compute = batch_v1.ComputeResource(
        cpu_milli=(res.cpus or 1) * 1000,
        memory_mib=res.mem_mib or 0,
        boot_disk_mib=settings.boot_disk_mib or 0,
    )
    task = batch_v1.TaskSpec(
        runnables=[runnable], volumes=volumes, compute_resource=compute, max_retry_count=settings.retry_count
    )
    seconds = parse_time(settings.max_run_duration) if settings.max_run_duration else res.time_s
    if seconds:
        task.max_run_duration = duration_pb2.Duration(seconds=seconds)
    group = batch_v1.TaskGroup(task_count=len(jobs), parallelism=spec.forks or len(jobs), task_spec=task)
    policy = batch_v1.AllocationPolicy.InstancePolicy(
        provisioning_model=(
            batch_v1.AllocationPolicy.ProvisioningModel.SPOT
            if settings.spot
            else batch_v1.AllocationPolicy.ProvisioningModel.STANDARD
        )
    )
    if settings.machine_type:
        policy.machine_type = settings.machine_type
    if res.gpus:
        policy.accelerators = [
            batch_v1.AllocationPolicy.Accelerator(type_=settings.accelerator_type, count=res.gpus)
        ]
    allocation = batch_v1.AllocationPolicy(
        instances=[batch_v1.AllocationPolicy.InstancePolicyOrTemplate(policy=policy)]
    )
    if settings.network or settings.subnetwork:
        allocation.network = batch_v1.AllocationPolicy.NetworkPolicy(
            network_interfaces=[
                batch_v1.AllocationPolicy.NetworkInterface(
                    network=settings.network or "", subnetwork=settings.subnetwork or ""
                )
            ]
        )
    if settings.service_account:
        allocation.service_account = batch_v1.ServiceAccount(email=settings.service_account)
    labels = {"pipework-run": run_tag, "pipework-proc": re.sub(r"[^a-z0-9_-]", "-", spec.name.lower())[:63]}
    labels.update(settings.labels)
    return batch_v1.Job(
        task_groups=[group],
        allocation_policy=allocation,
        labels=labels,
        logs_policy=batch_v1.LogsPolicy(destination=batch_v1.LogsPolicy.Destination.CLOUD_LOGGING),
    )


#: Batch's reserved exit codes of tasks it ended itself (cloud.google.com/batch/docs/troubleshooting):
#: 50001 the VM was preempted; 50002 its agent stopped reporting; 50003 it rebooted; 50004 it and the
#: task stopped responding; 50005 the task ran past max_run_duration; 50006 the VM was recreated.
_RESERVED_KINDS = {
    50001: "preempted",
    50002: "node_fail",
    50003: "node_fail",
    50004: "node_fail",
    50005: "timeout",
    50006: "node_fail",
}


def task_failure_kind(exit_code: int | None, description: str) -> str | None:
    """Why a Batch task failed, from its last exit code and status event (None: nothing particular;
    the wrapper's return code then tells what it can)."""
    if exit_code in _RESERVED_KINDS:
        return _RESERVED_KINDS[exit_code]
    if "preempt" in description.lower():
        return "preempted"
    if "max run duration" in description.lower() or "maxrunduration" in description.lower():
        return "timeout"
    return None


def _error(exc: Exception, action: str) -> SchedulerError:
    """Translate a Google client exception into a SchedulerError whose ``reason`` names its class."""
    # SchedulerError.reason for each Google exception class (over REST, HTTP 409 is Conflict)
    reasons = {
        "AlreadyExists": "already_exists",
        "Conflict": "already_exists",
        "NotFound": "not_found",
        "TooManyRequests": "quota",
        "ResourceExhausted": "quota",
        "ServiceUnavailable": "unavailable",
        "DeadlineExceeded": "unavailable",
        "InternalServerError": "unavailable",
        "ConnectionError": "unavailable",
        "PermissionDenied": "permission",
        "Unauthenticated": "permission",
        "Forbidden": "permission",
        "Unauthorized": "permission",
        "DefaultCredentialsError": "credentials",
    }
    name = type(exc).__name__
    text = str(exc).splitlines()[0][:300] if str(exc) else name
    reason = reasons.get(name)
    if reason == "quota":
        # over REST a quota error is HTTP 429 (RESOURCE_EXHAUSTED): quota frees up as jobs end, so it
        # is retried with backoff; the last error still names the quota and the fix
        return SchedulerError(
            f"Batch API {action}: quota or rate limit exceeded: {text}",
            transient=True,
            reason=reason,
            hint="request more Batch quota for the project and region, or lower forks / max_jobs",
        )
    if reason == "unavailable":
        return SchedulerError(f"Batch API {action}: {text}", transient=True, reason=reason)
    if reason == "permission":
        return SchedulerError(
            f"Batch API {action}: permission denied: {text}",
            reason=reason,
            hint="check Application Default Credentials (gcloud auth application-default login) and the "
            "roles batch.jobsEditor and iam.serviceAccountUser on the project",
        )
    if reason == "credentials":
        return SchedulerError(
            f"Batch API {action}: no credentials",
            reason=reason,
            hint="gcloud auth application-default login, or set GOOGLE_APPLICATION_CREDENTIALS",
        )
    return SchedulerError(f"Batch API {action}: {name}: {text}", reason=reason)


class GbatchScheduler(Scheduler[GbatchSettings]):
    """Run jobs as Google Cloud Batch tasks."""

    name = "gbatch"
    Settings = GbatchSettings
    min_poll_interval = 2.0
    max_poll_interval = 60.0
    rc_grace = 60.0
    #: Jobs are rendered on /mnt/disks paths (the buckets are mounted in the VMs).
    file_access = FILE_ACCESS
    #: A process's ``container`` becomes the task's container runnable.
    runs_containers = True

    @classmethod
    def check_settings(cls, settings: Any) -> None:
        """A project is required; the API endpoint must be a URL.

        Raises:
            ConfigError: For a missing project or a malformed endpoint.
        """
        if not settings.project:
            raise ConfigError(
                "the gbatch scheduler needs a Google Cloud project",
                hint="set scheduler_opts = {'project': 'my-project', 'location': 'us-central1'} "
                "(or in a profile)",
            )
        if settings.endpoint and not re.match(r"^https?://", settings.endpoint):
            raise ConfigError(f"gbatch endpoint {settings.endpoint!r} is not an http(s) URL")

    def __init__(
        self,
        settings: GbatchSettings | None = None,
        *,
        run_tag: str = "run",
        env: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(settings, run_tag=run_tag, env=env)
        self.min_poll_interval = self.settings.poll_interval
        self.max_poll_interval = max(self.settings.max_poll_interval, self.min_poll_interval)
        self._interval = self.min_poll_interval
        self._client: Any = None
        self._seq = 0
        self.api_calls = 0

    def client(self) -> Any:
        """The BatchServiceClient (REST), built once."""
        if self._client is None:
            if not self.settings.project:
                raise ConfigError(
                    "the gbatch scheduler needs a project", hint="set scheduler_opts project (or a profile)"
                )
            try:
                from google.api_core.client_options import ClientOptions
                from google.cloud import batch_v1
            except ImportError as exc:
                raise ConfigError(
                    "gbatch needs google-cloud-batch", hint="pip install 'pipework[gbatch]'"
                ) from exc
            kwargs: dict[str, Any] = {"transport": "rest"}
            if self.settings.endpoint:
                kwargs["client_options"] = ClientOptions(api_endpoint=self.settings.endpoint)
            if self.settings.anonymous:
                from google.auth.credentials import AnonymousCredentials

                kwargs["credentials"] = AnonymousCredentials()  # type: ignore[no-untyped-call]
            try:
                self._client = batch_v1.BatchServiceClient(**kwargs)
            except Exception as exc:
                raise _error(exc, "client") from exc
        return self._client

    @property
    def parent(self) -> str:
        """``projects/<project>/locations/<location>``."""
        return f"projects/{self.settings.project}/locations/{self.settings.location}"

    async def _call(self, action: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        self.api_calls += 1
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except SchedulerError:
            raise
        except Exception as exc:
            raise _error(exc, action) from exc

    async def submit(self, jobs: Sequence[Job]) -> None:
        """One Batch job for these jobs; ``job.jid`` is ``<Batch job name>#<task index>``."""
        if not paths.is_cloud(jobs[0].dir) or not jobs[0].dir.startswith("gs://"):
            raise ConfigError(
                "the gbatch scheduler needs a gs:// workdir",
                proc=jobs[0].proc,
                hint="set workdir = 'gs://bucket/path'",
            )
        settings = self.settings_for(jobs[0])
        buckets = sorted({paths.split_url(u)[1] for u in jobs[0].layout.buckets or (jobs[0].dir,)})
        request = build_job(settings, jobs, run_tag=self.run_tag, buckets=buckets)
        client = self.client()
        while True:
            self._seq += 1
            job_id = batch_job_id(self.run_tag, jobs[0].proc, jobs[0].index, self._seq)
            try:
                created = await self._call(
                    "create_job", client.create_job, parent=self.parent, job=request, job_id=job_id
                )
                break
            except SchedulerError as exc:
                if exc.reason == "already_exists":
                    continue  # an id of a previous run: take the next sequence number
                raise
        for index, job in enumerate(jobs):
            job.jid = f"{created.name}#{index}"

    async def statuses(self, jobs: Sequence[Job]) -> Mapping[Job, JobState]:
        """One ``list_tasks`` per Batch job of the active jobs."""
        by_batch: dict[str, list[Job]] = {}
        for job in jobs:
            if job.jid and "#" in job.jid:
                by_batch.setdefault(job.jid.split("#")[0], []).append(job)
        out: dict[Job, JobState] = {}
        client = self.client()
        for name, members in by_batch.items():
            try:
                tasks = await self._call(
                    "list_tasks", lambda n=name: list(client.list_tasks(parent=f"{n}/taskGroups/group0"))
                )
            except SchedulerError as exc:
                if exc.reason == "not_found":
                    continue  # deleted: the base confirms from job.rc
                raise
            states = {t.name.rsplit("/", 1)[-1]: t for t in tasks}
            for job in members:
                task = states.get(job.jid.split("#")[1]) if job.jid else None
                if task is None:
                    continue
                native = task.status.state.name
                state = STATES.get(native, JobState.RUNNING)
                if state is JobState.FAILED:
                    codes = [
                        e.task_execution.exit_code for e in task.status.status_events if e.task_execution
                    ]
                    last = task.status.status_events[-1].description if task.status.status_events else native
                    job.native_state = (
                        f"Batch task FAILED ({last})" if not codes else f"Batch task exit code {codes[-1]}"
                    )
                    job.failure_kind = task_failure_kind(codes[-1] if codes else None, last)
                out[job] = state
        return out

    async def kill(self, jobs: Sequence[Job]) -> None:
        """Delete the Batch jobs of these jobs (their tasks stop)."""
        client = self.client()
        for name in sorted({j.jid.split("#")[0] for j in jobs if j.jid and "#" in j.jid}):
            try:
                await self._call("delete_job", client.delete_job, name=name)
            except SchedulerError as exc:
                if exc.reason != "not_found":
                    raise
