"""The Batch job pipework builds for a submission (pure: no API call)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytest.importorskip("google.cloud.batch_v1", reason="needs the gbatch extra")

from pipework.schedulers.gbatch import GbatchSettings, batch_job_id, build_job, mount_path, task_script
from pipework.testing import make_jobs


def _jobs(tmp_path: Path, **kw):
    jobs = make_jobs(tmp_path, ["true", "true", "true"], proc="Align_Reads", forks=2, **kw)
    for job in jobs:
        job.dir = f"gs://bkt/work/P/Align_Reads/{job.index}"
    return jobs


def test_job_ids_are_valid_batch_ids():
    for proc in ("Align_Reads", "X" * 80, "__weird__"):
        jid = batch_job_id("a1b2c3d4", proc, 12, 3)
        assert re.fullmatch(r"[a-z]([a-z0-9-]{0,61}[a-z0-9])?", jid), jid


def test_mount_paths_and_task_script(tmp_path: Path):
    assert mount_path("gs://bkt/work/P/x.txt") == "/mnt/disks/bkt/work/P/x.txt"
    script = task_script(_jobs(tmp_path))
    assert "  1) exec bash /mnt/disks/bkt/work/P/Align_Reads/1/job.wrapper ;;" in script
    assert 'case "${BATCH_TASK_INDEX:-}" in' in script


def test_build_job_resources_policy_labels_and_volumes(tmp_path: Path):
    from google.cloud import batch_v1

    settings = GbatchSettings(
        project="p", machine_type="e2-standard-8", spot=True, network="net", subnetwork="sub",
        service_account="sa@p.iam.gserviceaccount.com", labels={"team": "genomics"}, retry_count=2,
        boot_disk_mib=50_000,
    )  # fmt: skip
    jobs = _jobs(tmp_path, resources={"cpus": 4, "mem": "16G", "time": "2h"})
    job = build_job(settings, jobs, run_tag="a1b2c3d4", buckets=["bkt", "refs"])
    group = job.task_groups[0]
    assert (group.task_count, group.parallelism) == (3, 2)
    spec = group.task_spec
    assert (spec.compute_resource.cpu_milli, spec.compute_resource.memory_mib) == (4000, 16384)
    assert spec.compute_resource.boot_disk_mib == 50_000 and spec.max_retry_count == 2
    assert spec.max_run_duration.total_seconds() == 7200
    assert [(v.gcs.remote_path, v.mount_path) for v in spec.volumes] == [
        ("bkt", "/mnt/disks/bkt"),
        ("refs", "/mnt/disks/refs"),
    ]
    assert "BATCH_TASK_INDEX" in spec.runnables[0].script.text
    policy = job.allocation_policy.instances[0].policy
    assert policy.machine_type == "e2-standard-8"
    assert policy.provisioning_model == batch_v1.AllocationPolicy.ProvisioningModel.SPOT
    assert job.allocation_policy.network.network_interfaces[0].subnetwork == "sub"
    assert job.allocation_policy.service_account.email == "sa@p.iam.gserviceaccount.com"
    assert dict(job.labels) == {
        "pipework-run": "a1b2c3d4",
        "pipework-proc": "align_reads",
        "team": "genomics",
    }


def test_gpus_ask_for_the_configured_accelerator(tmp_path: Path):
    jobs = _jobs(tmp_path, resources={"gpus": 2})
    job = build_job(
        GbatchSettings(project="p", accelerator_type="nvidia-l4"), jobs, run_tag="t", buckets=["bkt"]
    )
    (acc,) = job.allocation_policy.instances[0].policy.accelerators
    assert (acc.type_, acc.count) == ("nvidia-l4", 2)


def test_container_runnable(tmp_path: Path):
    jobs = _jobs(tmp_path)
    object.__setattr__(jobs[0].spec, "container", "ghcr.io/lab/tools:1.2")
    job = build_job(GbatchSettings(project="p"), jobs, run_tag="t", buckets=["bkt"])
    container = job.task_groups[0].task_spec.runnables[0].container
    assert container.image_uri == "ghcr.io/lab/tools:1.2" and container.entrypoint == "bash"
    assert container.commands[0] == "-c" and "job.wrapper" in container.commands[1]
    assert list(container.volumes) == ["/mnt/disks/bkt:/mnt/disks/bkt"]


def test_quota_errors_are_transient_and_name_the_fix():
    from google.api_core import exceptions

    from pipework.schedulers.gbatch import _error

    quota = _error(
        exceptions.TooManyRequests("Quota exceeded for quota metric 'Job create requests'"), "submit"
    )
    assert quota.transient and "quota or rate limit exceeded" in quota.message
    assert quota.hint and "quota" in quota.hint
    denied = _error(exceptions.Forbidden("Permission 'batch.jobs.create' denied"), "submit")
    assert not denied.transient and "permission denied" in denied.message


def test_resources_given_as_functions_reach_the_batch_job_of_each_attempt(tmp_path: Path):
    from pipework.attempts import prepare

    jobs = _jobs(tmp_path, resources={"cpus": 2, "mem": lambda job: f"{4 * job.attempt}G"})
    [group] = prepare(jobs, lambda job: GbatchSettings(project="p"))
    compute = build_job(GbatchSettings(project="p"), group, run_tag="t", buckets=["bkt"]).task_groups[0]
    assert compute.task_spec.compute_resource.memory_mib == 4096
    for job in jobs:
        job.attempts = 1  # the first attempt failed: the second asks for more
    [group] = prepare(jobs, lambda job: GbatchSettings(project="p"))
    spec = (
        build_job(GbatchSettings(project="p"), group, run_tag="t", buckets=["bkt"]).task_groups[0].task_spec
    )
    assert (spec.compute_resource.cpu_milli, spec.compute_resource.memory_mib) == (2000, 8192)
