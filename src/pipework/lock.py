"""The run lock: one driver at a time on one pipeline in one workdir.

In a local (or shared-filesystem) workdir the lock is an OS lock (``flock``) on
``<workdir>/<pipeline>/.pipework.lock``, held for the driver's life: the kernel releases it when the
driver dies, however it dies, so there is no stale lock to judge and no window between creating the
file and filling it. The file's content (pid, host, start time) only serves the message a second driver
shows. On a bucket the lock is an object created only if absent (a conditional create) and removed only
by its owner (a conditional delete); a lock object whose driver is gone is taken over the same way.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from typing import Any

from . import paths
from .errors import ConfigError, StorageError

__all__ = ["LOCK_NAME", "RunLock", "pid_alive"]

LOCK_NAME = ".pipework.lock"
#: A lock object on a bucket written by another host is taken for stale after this long, in seconds.
FOREIGN_STALE_AFTER = 7 * 86400.0


class RunLock:
    """A lock that stops two drivers from running one pipeline in one workdir at once.

    Args:
        directory: The pipeline's directory in the workdir (local path or cloud URL).
    """

    def __init__(self, directory: str) -> None:
        self.path = paths.join(directory, LOCK_NAME)
        self.held = False
        self._fd: int | None = None
        self._token: str | None = None

    def acquire(self) -> None:
        """Take the lock.

        Raises:
            ConfigError: If a live driver holds it.
            StorageError: If the workdir is not writable.
        """
        me = json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()})
        if paths.is_cloud(self.path):
            self._acquire_object(me)
        else:
            self._acquire_file(me)
        self.held = True

    def _acquire_file(self, me: str) -> None:
        directory = os.path.dirname(self.path)
        try:
            os.makedirs(directory, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {directory!r}: {exc.strerror}") from exc
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
            except OSError as exc:
                raise StorageError(f"cannot write {self.path!r}: {exc.strerror}") from exc
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise self._busy(_read_owner(self.path)) from None
            # the holder we waited on may have removed the file as it released it: then this lock is
            # on a file nobody else will open; start again on the one at the path now
            try:
                same = os.fstat(fd).st_ino == os.stat(self.path).st_ino
            except FileNotFoundError:
                same = False
            if not same:
                os.close(fd)
                continue
            os.ftruncate(fd, 0)
            os.pwrite(fd, me.encode(), 0)
            self._fd = fd
            return

    def _acquire_object(self, me: str) -> None:
        for _ in range(3):
            token = paths.create_if_absent(self.path, me)
            if token is not None:
                self._token = token
                return
            try:
                text, token = paths.read_with_token(self.path)
            except StorageError:
                continue  # removed meanwhile: try to create it again
            other = _parse(text)
            if not _is_stale(other):
                raise self._busy(other)
            paths.delete_if_unchanged(self.path, token)  # only that stale object, never a newer one
        raise ConfigError(f"cannot take the lock {self.path}", hint="another driver is starting; try again")

    def _busy(self, other: dict[str, Any]) -> ConfigError:
        pid, host = other.get("pid", "?"), other.get("host", "?")
        hint = "wait for it to finish"
        if paths.is_cloud(self.path):  # a local lock is the kernel's: it cannot outlive its driver
            hint += f", or remove the lock if that run is gone: {self.path}"
        return ConfigError(
            f"another run (pid {pid} on {host}) is using {self.path.rsplit('/', 1)[0]}", hint=hint
        )

    def release(self) -> None:
        """Give the lock back (only this driver's own lock is ever removed)."""
        if not self.held:
            return
        self.held = False
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.path)  # while still holding it: a waiter then sees another inode
            os.close(self._fd)
            self._fd = None
        elif self._token is not None:
            with contextlib.suppress(StorageError):
                paths.delete_if_unchanged(self.path, self._token)
            self._token = None


def _read_owner(path: str) -> dict[str, Any]:
    try:
        with open(path) as fh:
            return _parse(fh.read())
    except OSError:
        return {}


def _parse(text: str) -> dict[str, Any]:
    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _is_stale(other: dict[str, Any]) -> bool:
    """Whether a lock object's driver is gone: a dead pid on this host, or very old from another."""
    pid, host = other.get("pid"), other.get("host")
    if not isinstance(pid, int):
        return True
    if host == socket.gethostname():
        return not pid_alive(pid)
    return time.time() - float(other.get("since", 0)) > FOREIGN_STALE_AFTER


def pid_alive(pid: int) -> bool:
    """True when a process with this pid exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
