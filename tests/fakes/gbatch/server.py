"""A local stand-in for the Google Cloud Batch v1 REST API, for tests (Google's servers are not reachable).

It speaks the protocol of the real ``google-cloud-batch`` client with ``transport="rest"``: the same
URLs, proto JSON bodies (parsed and written with the client library's own message types, enums as
ints), long-running operations for deletes, and errors shaped as the API returns them. It really runs
each task: ``bash -c`` of a script runnable (a container runnable's entrypoint and commands run on the
host: there is no container engine here), with ``BATCH_TASK_INDEX``/``BATCH_TASK_COUNT``/``BATCH_JOB_ID``,
at most ``parallelism`` at once. A GCS volume mounted at ``/mnt/disks/<bucket>`` is a real directory,
synced from the GCS emulator (``STORAGE_EMULATOR_HOST``) before each task and back after it, the way a
gcsfuse mount shows the bucket.

``GET /_fake/requests`` lists the requests seen (method, path); ``POST /_fake/reset`` clears the list.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import re
import subprocess
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

from google.cloud.batch_v1 import types as bt
from google.protobuf import json_format

from .mounts import Mounts

JOB_ID = re.compile(r"^[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
JOBS = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/jobs$")
JOB = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/jobs/([^/]+)$")
TASKS = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/jobs/[^/]+)/taskGroups/([^/]+)/tasks$")
TASK = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/jobs/[^/]+/taskGroups/[^/]+/tasks/(\d+))$")
PROJECT = re.compile(r"^/v1/projects/([^/]+)/locations/([^/]+)/")
OPERATION = re.compile(r"^/v1/(projects/[^/]+/locations/[^/]+/operations/[^/]+)$")

JS, TS = bt.JobStatus.State, bt.TaskStatus.State


def _now() -> dict[str, Any]:
    return {"seconds": int(time.time()), "nanos": 0}


class FakeJob:
    """One Batch job and its tasks, run in a thread."""

    def __init__(self, name: str, job: bt.Job, mounts: Mounts) -> None:
        self.name = name
        self.job = job
        self.mounts = mounts
        group = job.task_groups[0]
        self.count = int(group.task_count or 1)
        self.parallelism = int(group.parallelism or self.count)
        self.states = [TS.PENDING] * self.count
        self.events: list[list[bt.StatusEvent]] = [[] for _ in range(self.count)]
        self.exit_codes: list[int | None] = [None] * self.count
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.deleted = False
        self.lock = threading.Lock()
        job.name = name
        job.uid = f"{name.rsplit('/', 1)[-1]}-{uuid.uuid4().hex[:8]}"
        job.status = bt.JobStatus(state=JS.QUEUED)
        group.name = f"{name}/taskGroups/group0"
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _event(self, index: int, state: int, description: str, exit_code: int | None = None) -> None:
        event = bt.StatusEvent(type_="STATUS_CHANGED", description=description, task_state=state)
        if exit_code is not None:
            event.task_execution = bt.TaskExecution(exit_code=exit_code)
        with self.lock:
            self.states[index] = state
            self.events[index].append(event)

    def _run(self) -> None:
        self.job.status.state = JS.SCHEDULED
        pool = threading.Semaphore(self.parallelism)
        self.job.status.state = JS.RUNNING
        threads = []
        for index in range(self.count):
            pool.acquire()
            if self.deleted:
                pool.release()
                break
            t = threading.Thread(target=self._task, args=(index, pool), daemon=True)
            t.start()
            threads.append(t)
        for t in threads:
            t.join()
        failed = any(s == TS.FAILED for s in self.states)
        if not self.deleted:
            self.job.status.state = JS.FAILED if failed else JS.SUCCEEDED

    def _task(self, index: int, pool: threading.Semaphore) -> None:
        try:
            self._event(index, TS.ASSIGNED, "assigned to a fake VM")
            spec = self.job.task_groups[0].task_spec
            retries = int(spec.max_retry_count or 0)
            for attempt in range(retries + 1):
                code = self._attempt(index, spec)
                if code == 0 or self.deleted:
                    break
                if attempt < retries:
                    self._event(index, TS.PENDING, f"retrying after exit code {code}")
            if self.deleted:
                return
            if code == 0:
                self._event(index, TS.SUCCEEDED, "task succeeded", 0)
            else:
                self._event(
                    index,
                    TS.FAILED,
                    f"Task state is updated from RUNNING to FAILED with exit code {code}",
                    code,
                )
            self.exit_codes[index] = code
        finally:
            pool.release()

    def _attempt(self, index: int, spec: bt.TaskSpec) -> int:
        volumes = list(spec.volumes)
        self.mounts.sync_in(volumes)
        self._event(index, TS.RUNNING, "task running")
        env = dict(os.environ)
        env.update(dict(spec.environment.variables))
        env.update(
            {
                "BATCH_TASK_INDEX": str(index),
                "BATCH_TASK_COUNT": str(self.count),
                "BATCH_JOB_ID": self.job.uid,
            }
        )
        limit = spec.max_run_duration.total_seconds() if spec.max_run_duration else None
        code = 0
        for runnable in spec.runnables:
            renv = {**env, **dict(runnable.environment.variables)}
            if runnable.script.text or runnable.script.path:
                argv = (
                    ["bash", "-c", runnable.script.text]
                    if runnable.script.text
                    else ["bash", runnable.script.path]
                )
            else:  # a container runnable: run its entrypoint and commands on the host
                c = runnable.container
                argv = ([c.entrypoint] if c.entrypoint else []) + list(c.commands)
            proc = subprocess.Popen(argv, env=renv, start_new_session=True, stdin=subprocess.DEVNULL)
            with self.lock:
                self.procs[index] = proc
            try:
                code = proc.wait(timeout=limit or None)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, 9)
                proc.wait()
                self._event(index, TS.RUNNING, f"task exceeded max_run_duration of {limit:.0f}s")
                code = 50005
            if code != 0 and not runnable.ignore_exit_status:
                break
        self.mounts.sync_out(volumes)
        return code

    def delete(self) -> None:
        self.deleted = True
        self.job.status.state = JS.DELETION_IN_PROGRESS
        with self.lock:
            procs = list(self.procs.values())
        for proc in procs:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, 15)

    def task(self, index: int) -> bt.Task:
        with self.lock:
            status = bt.TaskStatus(state=self.states[index], status_events=list(self.events[index]))
        return bt.Task(name=f"{self.name}/taskGroups/group0/tasks/{index}", status=status)


class State:
    """Everything the server knows."""

    def __init__(self, mounts: Mounts) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.operations: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, str]] = []
        self.mounts = mounts
        self.counter = itertools.count(1)
        self.lock = threading.Lock()
        # IAM and quota, set by a test through /_fake/policy: projects the caller has no role on, and
        # how many more job creations each project refuses with a quota error
        self.denied: set[str] = set()
        self.quota_refusals: dict[str, int] = {}


def _error(code: int, status: str, message: str) -> tuple[int, dict[str, Any]]:
    return code, {"error": {"code": code, "message": message, "status": status}}


def _pb_json(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(type(message).pb(message), use_integers_for_enums=True)


class Handler(BaseHTTPRequestHandler):
    """Routes the Batch v1 REST methods the client uses."""

    state: State

    def log_message(self, fmt: str, *args: Any) -> None:  # quiet; the request log is /_fake/requests
        pass

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self, method: str) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if not url.path.startswith("/_fake/"):
            with self.state.lock:
                self.state.requests.append({"method": method, "path": url.path})
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            code, out = self._route(method, url.path, query, body)
        except Exception as exc:  # a bug in the fake must be visible to the test, not hang it
            code, out = _error(500, "INTERNAL", f"{type(exc).__name__}: {exc}")
        self._send(code, out)

    def _policy(self, method: str, project: str, location: str) -> tuple[int, dict[str, Any]] | None:
        """The errors the real API gives a caller without a role on the project, or out of quota."""
        st = self.state
        with st.lock:
            if project in st.denied:
                verb = {"POST": "create", "DELETE": "delete"}.get(method, "get")
                return _error(
                    403,
                    "PERMISSION_DENIED",
                    f"Permission 'batch.jobs.{verb}' denied on resource "
                    f"'//batch.googleapis.com/projects/{project}/locations/{location}' (or it may not exist).",
                )
            if method == "POST" and st.quota_refusals.get(project, 0) > 0:
                st.quota_refusals[project] -= 1
                return _error(
                    429,
                    "RESOURCE_EXHAUSTED",
                    "Quota exceeded for quota metric 'Job create requests' and limit 'Job create requests "
                    f"per minute per region' of service 'batch.googleapis.com' for consumer 'project_number:{project}'.",
                )
        return None

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> tuple[int, dict[str, Any]]:
        st = self.state
        if path == "/_fake/requests":
            with st.lock:
                return 200, {"requests": list(st.requests)}
        if path == "/_fake/reset":
            with st.lock:
                st.requests.clear()
                st.denied.clear()
                st.quota_refusals.clear()
            return 200, {}
        if path == "/_fake/policy":
            policy = json.loads(body or b"{}")
            with st.lock:
                st.denied.update(policy.get("deny", []))
                st.quota_refusals.update(policy.get("refuse_creates", {}))
            return 200, {}
        if (m := PROJECT.match(path)) and (refusal := self._policy(method, m.group(1), m.group(2))):
            return refusal
        if m := JOBS.match(path):
            parent = f"projects/{m.group(1)}/locations/{m.group(2)}"
            if method == "POST":
                job_id = (query.get("jobId") or query.get("job_id") or [""])[0]
                if not JOB_ID.match(job_id):
                    return _error(
                        400, "INVALID_ARGUMENT", f"Job id {job_id!r} does not match {JOB_ID.pattern}"
                    )
                job = bt.Job()
                json_format.Parse(body or b"{}", bt.Job.pb(job), ignore_unknown_fields=False)
                if not job.task_groups or not job.task_groups[0].task_spec.runnables:
                    return _error(
                        400, "INVALID_ARGUMENT", "a job needs a task group with at least one runnable"
                    )
                name = f"{parent}/jobs/{job_id}"
                with st.lock:
                    if name in st.jobs:
                        return _error(409, "ALREADY_EXISTS", f"Job {name} already exists")
                    st.jobs[name] = FakeJob(name, job, st.mounts)
                return 200, _pb_json(st.jobs[name].job)
            jobs = [j.job for n, j in st.jobs.items() if n.startswith(parent + "/")]
            return 200, {"jobs": [_pb_json(j) for j in jobs]}
        if m := JOB.match(path):
            name = path[len("/v1/") :]
            fake = st.jobs.get(name)
            if fake is None:
                return _error(404, "NOT_FOUND", f"Job {name} not found")
            if method == "GET":
                return 200, _pb_json(fake.job)
            if method == "DELETE":
                fake.delete()
                op = f"projects/{m.group(1)}/locations/{m.group(2)}/operations/op-{next(st.counter)}"
                st.operations[op] = {
                    "name": op,
                    "done": True,
                    "response": {"@type": "type.googleapis.com/google.protobuf.Empty"},
                }
                threading.Timer(0.5, lambda: st.jobs.pop(name, None)).start()
                return 200, st.operations[op]
        if m := TASKS.match(path):
            fake = st.jobs.get(m.group(1))
            if fake is None:
                return _error(404, "NOT_FOUND", f"Job {m.group(1)} not found")
            size = int((query.get("pageSize") or ["0"])[0]) or fake.count
            start = int((query.get("pageToken") or ["0"])[0] or 0)
            tasks = [_pb_json(fake.task(i)) for i in range(start, min(fake.count, start + size))]
            out: dict[str, Any] = {"tasks": tasks}
            if start + size < fake.count:
                out["nextPageToken"] = str(start + size)
            return 200, out
        if m := TASK.match(path):
            job_name = m.group(1).split("/taskGroups/")[0]
            fake = st.jobs.get(job_name)
            if fake is None or int(m.group(2)) >= fake.count:
                return _error(404, "NOT_FOUND", f"Task {m.group(1)} not found")
            return 200, _pb_json(fake.task(int(m.group(2))))
        if m := OPERATION.match(path):
            op = st.operations.get(m.group(1))
            return (200, op) if op else _error(404, "NOT_FOUND", f"Operation {m.group(1)} not found")
        return _error(404, "NOT_FOUND", f"no route for {method} {path}")


def serve(port: int, mount_root: str = "/mnt/disks") -> ThreadingHTTPServer:
    """Start the server on 127.0.0.1:port in a thread and return it."""
    Handler.state = State(Mounts(Path(mount_root)))
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server
