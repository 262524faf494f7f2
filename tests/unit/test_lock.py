"""The run lock holds: never two holders, whatever the timing, and only the holder removes it."""

from __future__ import annotations

import json
import multiprocessing
import socket
import threading
from pathlib import Path

import pytest

from pipework.errors import ConfigError
from pipework.lock import RunLock


def _race_round(directory: str, contenders: int, start: threading.Barrier, done: threading.Barrier,
                winners: list[int]) -> None:  # fmt: skip
    lock = RunLock(directory)
    start.wait()
    try:
        lock.acquire()
    except ConfigError:
        pass
    else:
        winners.append(1)
    done.wait()  # nobody releases before every contender has tried
    lock.release()


def test_one_holder_in_1000_races_of_four_threads(tmp_path: Path):
    directory = str(tmp_path / "P")
    double, none = 0, 0
    for _ in range(1000):
        winners: list[int] = []
        start, done = threading.Barrier(4), threading.Barrier(4)
        threads = [
            threading.Thread(target=_race_round, args=(directory, 4, start, done, winners)) for _ in range(4)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        double += len(winners) > 1
        none += not winners
    assert (double, none) == (0, 0)
    assert not (tmp_path / "P" / ".pipework.lock").exists()  # the last holder removed it


def _driver(directory: str, rounds: int, start: object, done: object, wins: object) -> None:
    for _ in range(rounds):
        lock = RunLock(directory)
        start.wait()  # type: ignore[attr-defined]
        try:
            lock.acquire()
        except ConfigError:
            pass
        else:
            with wins.get_lock():  # type: ignore[attr-defined]
                wins.value += 1  # type: ignore[attr-defined]
        done.wait()  # type: ignore[attr-defined]
        lock.release()


def test_one_holder_when_driver_processes_start_at_the_same_instant(tmp_path: Path):
    ctx = multiprocessing.get_context("fork")
    rounds, procs = 150, 4
    start, done = ctx.Barrier(procs), ctx.Barrier(procs)
    wins = ctx.Value("i", 0)
    workers = [
        ctx.Process(target=_driver, args=(str(tmp_path / "P"), rounds, start, done, wins)) for _ in range(procs)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(120)
    assert all(w.exitcode == 0 for w in workers)
    assert wins.value == rounds  # exactly one winner in each round


def test_a_driver_that_did_not_get_the_lock_never_removes_it(tmp_path: Path):
    first, second, third = (RunLock(str(tmp_path / "P")) for _ in range(3))
    first.acquire()
    with pytest.raises(ConfigError, match=r"another run \(pid \d+ on "):
        second.acquire()
    second.release()  # it holds nothing: nothing happens
    assert (tmp_path / "P" / ".pipework.lock").exists()
    with pytest.raises(ConfigError):
        third.acquire()
    first.release()
    third.acquire()
    third.release()


def test_the_lock_names_its_holder_from_the_first_instant(tmp_path: Path):
    holder = RunLock(str(tmp_path / "P"))
    holder.acquire()
    data = json.loads((tmp_path / "P" / ".pipework.lock").read_text())
    assert data["host"] == socket.gethostname() and isinstance(data["pid"], int)
    holder.release()


def test_a_lock_file_left_by_a_dead_driver_is_no_obstacle(tmp_path: Path):
    (tmp_path / "P").mkdir()
    (tmp_path / "P" / ".pipework.lock").write_text(json.dumps({"pid": 1, "host": "elsewhere", "since": 0}))
    lock = RunLock(str(tmp_path / "P"))
    lock.acquire()  # nobody holds the OS lock on it: the kernel released it when its driver died
    assert json.loads((tmp_path / "P" / ".pipework.lock").read_text())["host"] == socket.gethostname()
    lock.release()
