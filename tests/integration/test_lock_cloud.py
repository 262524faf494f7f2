"""The run lock on a bucket: a conditional create, removed only by its holder, stale ones taken over."""

from __future__ import annotations

import json
import socket
import subprocess
import threading

import pytest

from pipework import paths
from pipework.errors import ConfigError
from pipework.lock import RunLock

from .test_cloud import make_bucket

pytestmark = pytest.mark.cloud

SCHEMES = ["gs", "s3", "az"]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_one_holder_and_only_the_holder_removes_it(scheme: str):
    directory = f"{make_bucket(scheme)}/work/P"
    first, second = RunLock(directory), RunLock(directory)
    first.acquire()
    with pytest.raises(ConfigError, match=r"another run \(pid \d+ on .*remove the lock if that run is gone"):
        second.acquire()
    second.release()  # holds nothing: removes nothing
    assert paths.exists(f"{directory}/.pipework.lock")
    first.release()
    assert not paths.exists(f"{directory}/.pipework.lock")
    second.acquire()
    second.release()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_lock_of_a_dead_driver_is_taken_over(scheme: str):
    directory = f"{make_bucket(scheme)}/work/P"
    dead = subprocess.Popen(["true"])
    dead.wait()
    paths.write_text(
        f"{directory}/.pipework.lock", json.dumps({"pid": dead.pid, "host": socket.gethostname(), "since": 0})
    )
    lock = RunLock(directory)
    lock.acquire()
    assert json.loads(paths.read_text(f"{directory}/.pipework.lock"))["pid"] != dead.pid
    lock.release()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_racing_drivers_on_a_bucket_never_both_hold_it(scheme: str):
    directory = f"{make_bucket(scheme)}/work/P"
    doubles = 0
    for _ in range(20):
        winners: list[RunLock] = []
        start, done = threading.Barrier(3), threading.Barrier(3)

        def contend(
            start: threading.Barrier = start, done: threading.Barrier = done, winners: list[RunLock] = winners
        ) -> None:
            lock = RunLock(directory)
            start.wait()
            try:
                lock.acquire()
                winners.append(lock)
            except ConfigError:
                pass
            done.wait()
            lock.release()

        threads = [threading.Thread(target=contend) for _ in range(3)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        doubles += len(winners) > 1
        assert winners, "nobody got the lock"
    assert doubles == 0
