"""The PathsContract on a bucket of each emulator (moto S3, fake-gcs-server, Azurite), requests counted
in the emulators' request logs; and the client environment overlay of ``paths.environment``."""

from __future__ import annotations

import contextvars
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from pipework import paths
from pipework.errors import StorageError

from ..contracts import PathsContract
from .test_cloud import make_bucket

pytestmark = pytest.mark.cloud

LOGS = {"s3": "moto.log", "gs": "gcs.log", "az": "azurite.log"}


def _log(scheme: str) -> Path:
    return Path(os.environ.get("PW_STORAGE_LOG_DIR", "/tmp/pw-services/storage"), LOGS[scheme])


def _synced_size(base: str) -> int:
    """Make one request naming a fresh marker (a listing), wait until the emulator logged it, and return
    the log's size then: every request made before is in the log before that offset."""
    scheme = base[:2]
    marker = f"pw-sync-{uuid.uuid4().hex[:8]}"
    assert paths.list_prefix(paths.join(base, marker)) == {}
    log, deadline = _log(scheme), time.monotonic() + 10
    while marker not in log.read_text(errors="replace"):
        assert time.monotonic() < deadline, f"the {scheme} emulator never logged {marker}"
        time.sleep(0.02)
    return log.stat().st_size


class CloudPaths(PathsContract):
    scheme = ""

    def make_base(self, tmp_path: Path) -> str:
        return f"{make_bucket(self.scheme)}/contract"

    def missing_bucket(self) -> str:
        return f"{self.scheme}://pw-missing-{uuid.uuid4().hex[:8]}/work/x"

    def requests_during(self, base: str, action: Callable[[], object]) -> list[str] | None:
        if not _log(self.scheme).exists():
            action()
            return None
        start = _synced_size(base)
        action()
        end = _synced_size(base)
        with _log(self.scheme).open("rb") as fh:
            fh.seek(start)
            text = fh.read(end - start).decode(errors="replace")
        bucket = paths.split_url(base)[1]
        return [line for line in text.splitlines() if bucket in line and "pw-sync-" not in line]


class TestS3Paths(CloudPaths):
    __test__ = True
    scheme = "s3"


class TestGSPaths(CloudPaths):
    __test__ = True
    scheme = "gs"
    conditional_delete = False  # fake-gcs-server ignores ifGenerationMatch on DELETE (GCS honours it)


class TestAzurePaths(CloudPaths):
    __test__ = True
    scheme = "az"


# -- the client environment overlay -----------------------------------------------------------------
class _Recorder(BaseHTTPRequestHandler):
    """A server that answers 404 to everything and remembers the paths asked for."""

    seen: list[str] = []

    def _answer(self) -> None:
        self.seen.append(f"{self.command} {self.path}")
        self.send_response(404)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, list[str]]]:
    seen: list[str] = []
    handler = type("Handler", (_Recorder,), {"seen": seen})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


def _overlay(scheme: str, endpoint: str) -> dict[str, str]:
    """The variables that point one cloud's client at ``endpoint``."""
    if scheme == "s3":
        return {"AWS_ENDPOINT_URL": endpoint}
    if scheme == "gs":
        return {"STORAGE_EMULATOR_HOST": endpoint}
    connection = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    return {"AZURE_STORAGE_CONNECTION_STRING": re.sub(r"BlobEndpoint=[^;]*", f"BlobEndpoint={endpoint}/devstoreaccount1", connection)}  # fmt: skip


@pytest.mark.parametrize("scheme", ["s3", "gs", "az"])
def test_two_threads_with_two_environments_each_reach_their_own_endpoint(
    scheme: str, recorder: tuple[str, list[str]]
):
    endpoint, seen = recorder
    bucket = make_bucket(scheme)
    paths.write_text(f"{bucket}/obj.txt", "on the emulator")
    before = dict(os.environ)
    both_inside = threading.Barrier(2, timeout=30)
    results: dict[str, object] = {}

    def read(name: str, env: dict[str, str]) -> None:
        with paths.environment(env):
            both_inside.wait()  # both overlays are in force at once
            try:
                results[name] = paths.read_text(f"{bucket}/obj.txt")
            except StorageError as exc:
                results[name] = exc
            results[f"{name} environ"] = dict(os.environ)
            both_inside.wait()

    real = {k: os.environ[k] for k in _overlay(scheme, "")}
    threads = [
        threading.Thread(target=read, args=("bogus", _overlay(scheme, endpoint))),
        threading.Thread(target=read, args=("real", real)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results["real"] == "on the emulator"
    assert isinstance(results["bogus"], StorageError)
    assert f"cannot read '{bucket}/obj.txt': it does not exist" in str(results["bogus"])
    assert any("obj.txt" in line for line in seen), seen  # the bogus endpoint was the one asked
    assert results["bogus environ"] == results["real environ"] == before == dict(os.environ)


def test_a_pool_carries_the_overlay_only_through_copy_context(recorder: tuple[str, list[str]]):
    endpoint, seen = recorder
    bucket = make_bucket("s3")
    paths.write_text(f"{bucket}/obj.txt", "here")
    with paths.environment({"AWS_ENDPOINT_URL": endpoint}), ThreadPoolExecutor(1) as pool:
        assert pool.submit(paths.read_text, f"{bucket}/obj.txt").result() == "here"  # the pool lost it
        with pytest.raises(StorageError, match="does not exist"):
            pool.submit(contextvars.copy_context().run, paths.read_text, f"{bucket}/obj.txt").result()
    assert seen
