"""The local Batch API speaks what the real client expects: errors, paging, deletes."""

from __future__ import annotations

import os
import time

import pytest

pytestmark = pytest.mark.gbatch


@pytest.fixture
def client():
    if not os.environ.get("PW_GBATCH_ENDPOINT"):
        pytest.skip('the local Batch API is not running: eval "$(tests/services/gbatch.sh start)"')
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import batch_v1

    return batch_v1.BatchServiceClient(
        transport="rest",
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=os.environ["PW_GBATCH_ENDPOINT"]),
    )


def _job(script: str, count: int = 1):
    from google.cloud import batch_v1

    task = batch_v1.TaskSpec(runnables=[batch_v1.Runnable(script=batch_v1.Runnable.Script(text=script))])
    return batch_v1.Job(task_groups=[batch_v1.TaskGroup(task_count=count, parallelism=2, task_spec=task)])


def test_errors_are_the_api_errors(client):
    from google.api_core import exceptions

    parent = "projects/t/locations/fake"
    job_id = f"fake-{int(time.time() * 1000) % 10**9}"
    client.create_job(parent=parent, job=_job("true"), job_id=job_id)
    with pytest.raises(exceptions.Conflict):  # HTTP 409, status ALREADY_EXISTS
        client.create_job(parent=parent, job=_job("true"), job_id=job_id)
    with pytest.raises(exceptions.BadRequest):
        client.create_job(parent=parent, job=_job("true"), job_id="Bad_ID")
    with pytest.raises(exceptions.NotFound):
        client.get_job(name=f"{parent}/jobs/no-such-job")


def test_tasks_run_page_and_stop_on_delete(client):
    from google.cloud import batch_v1

    parent = "projects/t/locations/fake"
    job_id = f"page-{int(time.time() * 1000) % 10**9}"
    created = client.create_job(
        parent=parent, job=_job('[ "$BATCH_TASK_INDEX" != 4 ] || sleep 60', 5), job_id=job_id
    )
    deadline = time.monotonic() + 30
    tasks = []
    while time.monotonic() < deadline:
        tasks = list(
            client.list_tasks(request={"parent": f"{created.name}/taskGroups/group0", "page_size": 2})
        )
        if sum(t.status.state == batch_v1.TaskStatus.State.SUCCEEDED for t in tasks) == 4:
            break
        time.sleep(0.2)
    assert len(tasks) == 5  # across three pages of two
    assert tasks[4].status.state == batch_v1.TaskStatus.State.RUNNING
    client.delete_job(name=created.name)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            client.get_job(name=created.name)
        except Exception as exc:
            assert type(exc).__name__ == "NotFound"
            return
        time.sleep(0.2)
    raise AssertionError("the deleted job is still there")
