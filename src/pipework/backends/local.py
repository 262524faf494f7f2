"""Local files as a backend: the object-store verbs on paths, for code that treats both alike.

An "object" is a regular file and a "prefix" a directory (listed recursively). Writes go through a
temporary sibling renamed into place, so a file appears whole or not at all, as an object does.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import stat
import uuid
from pathlib import Path

from .base import Backend, Stat


def _replace_via_temp(dest: str, write: str | bytes) -> None:
    """Write ``dest`` from a source file path (str) or content (bytes) through a temporary name."""
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    tmp = f"{dest}.pw-tmp-{uuid.uuid4().hex[:8]}"
    try:
        if isinstance(write, bytes):
            with open(tmp, "wb") as fh:
                fh.write(write)
        else:
            shutil.copy2(write, tmp)
        os.replace(tmp, dest)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def tree_stat(path: str) -> Stat | None:
    """``(size, mtime)`` of a file; of a directory, the total size of its files and the newest mtime
    of them and of the directories below, so a change anywhere below counts. None if missing."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    if not stat.S_ISDIR(st.st_mode):
        return st.st_size, st.st_mtime
    size, mtime = 0, st.st_mtime
    for root, dirs, files in os.walk(path):
        for names, counted in ((files, True), (dirs, False)):
            for name in names:
                try:
                    sub = os.stat(os.path.join(root, name))
                except FileNotFoundError:
                    continue
                size += sub.st_size if counted else 0
                mtime = max(mtime, sub.st_mtime)
    return size, mtime


def _token(path: str) -> str:
    st = os.stat(path)
    return f"{st.st_ino}:{st.st_mtime_ns}:{st.st_size}"


class LocalBackend(Backend):
    """Files on a local (or shared) filesystem."""

    def head(self, url: str) -> Stat | None:
        """``os.stat`` of a regular file, or None (missing, or a directory)."""
        try:
            st = os.stat(url)
        except (FileNotFoundError, NotADirectoryError):
            return None
        return None if os.path.isdir(url) else (st.st_size, st.st_mtime)

    def get(self, url: str) -> bytes:
        """The bytes of a file."""
        with open(url, "rb") as fh:
            return fh.read()

    def put(self, url: str, data: bytes) -> None:
        """Write a file whole (temporary name, then rename)."""
        _replace_via_temp(url, data)

    def delete(self, url: str) -> None:
        """Remove a file if it exists."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(url)

    def create(self, url: str, data: bytes) -> str | None:
        """Create a file exclusively (``O_EXCL``); its token, or None when it exists."""
        try:
            fd = os.open(url, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return None
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return _token(url)

    def get_with_token(self, url: str) -> tuple[bytes, str]:
        """The bytes of a file and its token (inode and mtime)."""
        return self.get(url), _token(url)

    def delete_if(self, url: str, token: str) -> bool:
        """Remove a file if its token is still ``token``."""
        try:
            if _token(url) != token:
                return False
            os.unlink(url)
        except FileNotFoundError:
            return False
        return True

    def list(self, url: str) -> dict[str, Stat]:
        """Every file below a directory (recursively), with its size and mtime; a file that vanishes
        or a dangling link while listing is left out."""
        out: dict[str, Stat] = {}
        for root, _, files in os.walk(url):
            for name in files:
                path = os.path.join(root, name)
                try:
                    st = os.stat(path)
                except FileNotFoundError:
                    continue
                out[path] = (st.st_size, st.st_mtime)
        return out

    def upload(self, src: str, url: str) -> None:
        """Copy a file (with its metadata) whole to ``url``."""
        _replace_via_temp(url, src)

    def download(self, url: str, dest: str) -> None:
        """Copy a file whole to ``dest``.

        Raises:
            FileNotFoundError: If ``url`` is not a file (a directory is listed and copied file by file).
        """
        if not os.path.isfile(url):
            raise FileNotFoundError(url)
        _replace_via_temp(dest, url)

    def copy(self, src: str, url: str) -> int:
        """Copy a file whole; return the size of the copy."""
        _replace_via_temp(url, src)
        return os.path.getsize(url)

    def cloudpath(self, url: str) -> Path:
        """A :class:`pathlib.Path` (what cloudpathlib's ``AnyPath`` gives for a local path)."""
        return Path(url)
