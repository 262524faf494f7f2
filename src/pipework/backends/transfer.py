"""Moving files and directories between backends: download, upload and the atomic export.

Each function is the body of the :mod:`pipework.paths` function of the same name (see there). A
directory on a bucket is every object under its prefix: one listing, then one request per object.
"""

from __future__ import annotations

import errno
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable

from ..errors import StorageError
from . import backend_for
from .base import CLOUD_SCHEMES
from .errors import storage_errors
from .local import tree_stat

#: The object an exported directory on a bucket gets last: the export is complete when it exists.
COMPLETE_MARKER = ".pipework-complete"


def download(url: str, dest: str) -> None:
    """Copy an object (one request) or every object under a prefix to a local path."""
    with storage_errors(url, "download"):
        backend = backend_for(url)
        try:
            backend.download(url, dest)
            return
        except FileNotFoundError:
            objects = backend.list(url)
            if not objects:
                raise
        for obj in objects:
            backend.download(obj, os.path.join(dest, obj[len(url.rstrip("/")) + 1 :]))


def upload(src: str, url: str) -> None:
    """Copy a local file, or each file of a local directory, to objects (each one verified)."""
    backend = backend_for(url)
    if not os.path.isdir(src):
        with storage_errors(src, f"upload to {url!r} the file"):
            backend.upload(src, url)
        return
    for root, _, files in os.walk(src):
        for name in files:
            full = os.path.join(root, name)
            dest = f"{url.rstrip('/')}/{os.path.relpath(full, src)}"
            with storage_errors(full, f"upload to {dest!r} the file"):
                backend.upload(full, dest)


def is_exported(src: str, dest: str) -> bool:
    """True when local ``dest`` holds an export of local ``src`` (same size and mtime)."""
    if dest.startswith(CLOUD_SCHEMES) or src.startswith(CLOUD_SCHEMES):
        return False
    a, b = tree_stat(src), tree_stat(dest)
    return a is not None and b is not None and a[0] == b[0] and abs(a[1] - b[1]) < 1e-3


def export(src: str, dest: str) -> None:
    """Copy to a hidden sibling ``.<name>.pw-tmp-<rand>`` of a local ``dest`` and rename it over ``dest``
    (hard links where possible); to a bucket, upload or copy then verify (:func:`_export_cloud`)."""
    if dest.startswith(CLOUD_SCHEMES):
        _export_cloud(src, dest)
        return
    parent, name = os.path.split(dest)
    tmp = os.path.join(parent, f".{name}.pw-tmp-{uuid.uuid4().hex[:8]}")
    with storage_errors(dest, "export to"):
        os.makedirs(parent, exist_ok=True)
        try:
            if src.startswith(CLOUD_SCHEMES):
                download(src, tmp)  # a file, or every object under a prefix
            elif os.path.isdir(src):
                shutil.copytree(src, tmp, copy_function=_link_or_copy, symlinks=True)
            else:
                _link_or_copy(src, tmp)
            if os.path.isdir(tmp):
                old = None
                if os.path.isdir(dest) and not os.path.islink(dest):
                    old = os.path.join(parent, f".{name}.pw-old-{uuid.uuid4().hex[:8]}")
                    os.rename(dest, old)
                os.replace(tmp, dest)
                if old:
                    shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(tmp, dest)
        finally:
            if os.path.isdir(tmp) and not os.path.islink(tmp):
                shutil.rmtree(tmp)
            elif os.path.lexists(tmp):
                os.unlink(tmp)


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link when possible (instant, no extra space), else copy with metadata."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            raise
        shutil.copy2(src, dst)


def _export_cloud(src: str, dest: str) -> None:
    """Upload (or copy between buckets) and verify each object. A directory's completion marker is
    removed first and written last, so a half-done export never looks complete."""
    if not src.startswith(CLOUD_SCHEMES):
        if os.path.isdir(src):
            _export_dir(dest, lambda: upload(src, dest))
        else:
            with storage_errors(dest, "export to"):
                backend_for(dest).upload(src, dest)  # one object, verified by the service
        return
    with storage_errors(dest, "export to"):
        head = backend_for(src).head(src)
        if head is not None:
            _copy_object(src, dest, head[0])
            return
        objects = backend_for(src).list(src)
        if not objects:
            raise FileNotFoundError(src)
    root, base = len(src.rstrip("/")), dest.rstrip("/")

    def copy_all() -> None:
        for obj, (size, _) in objects.items():
            _copy_object(obj, base + obj[root:], size)

    _export_dir(dest, copy_all)


def _export_dir(dest: str, copy: Callable[[], None]) -> None:
    marker = f"{dest.rstrip('/')}/{COMPLETE_MARKER}"
    with storage_errors(dest, "export to"):
        backend_for(dest).delete(marker)  # the old export is no longer complete while it is replaced
        copy()
        backend_for(dest).put(marker, b"")


def _copy_object(src: str, dest: str, size: int) -> None:
    """Copy one object on the service (same cloud, size verified) or through a local temporary file
    (another cloud; the upload verifies)."""
    source, target = backend_for(src), backend_for(dest)
    if source is target:
        got = target.copy(src, dest)
        if got != size:
            raise StorageError(f"export of {src} to {dest} is {got} bytes, expected {size}")
        return
    with tempfile.TemporaryDirectory(prefix="pipework-copy-") as tmp:
        local = os.path.join(tmp, "object")
        source.download(src, local)
        target.upload(local, dest)
