"""The one place pipework touches files: local paths and ``gs://``, ``s3://``, ``az://`` URLs alike.

Paths travel as plain strings. Local paths use :mod:`os` directly (fast); cloud URLs go to the backend
of their scheme (:mod:`pipework.backends`), imported only when a URL of that scheme is first used.
Every function here is blocking: the engine calls them from worker threads (``asyncio.to_thread``),
batched per process or per job, never on the loop. Errors of every backend become
:class:`~pipework.errors.StorageError` here, naming the path and the fix.

Cloud clients read ``os.environ`` overlaid with the mapping of the innermost :func:`environment`.
That overlay is a context variable: ``asyncio.to_thread`` and tasks carry it to their threads, but
``loop.run_in_executor`` and :mod:`concurrent.futures` pools do not, so submit work to them as
``pool.submit(contextvars.copy_context().run, fn, *args)``.
"""

from __future__ import annotations

import contextlib
import glob as _glob
import os
import shutil
import uuid
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from .backends import backend_for
from .backends import transfer as _transfer
from .backends.base import CLOUD_SCHEMES, ENVIRONMENT, Stat, split_url
from .backends.errors import storage_errors as _storage_errors
from .backends.local import tree_stat

__all__ = [
    "CLOUD_SCHEMES",
    "atomic_write_text",
    "create_if_absent",
    "delete_if_unchanged",
    "environment",
    "exists",
    "export",
    "glob",
    "is_cloud",
    "join",
    "makedirs",
    "move_tree",
    "read_text",
    "read_with_token",
    "remove",
    "resolve",
    "rmtree",
    "split_url",
    "stat",
    "write_text",
]


def is_cloud(path: str) -> bool:
    """True for ``gs://``, ``s3://`` and ``az://`` URLs."""
    return path.startswith(CLOUD_SCHEMES)


@contextlib.contextmanager
def environment(env: Mapping[str, str]) -> Iterator[None]:
    """Build the cloud clients of this context from ``os.environ`` overlaid with ``env`` (e.g. a
    profile's ``AWS_ENDPOINT_URL``), without changing ``os.environ``: two runs in two threads each
    reach their own endpoints. Overlays nest; the previous one is back on exit.
    """
    outer = ENVIRONMENT.get()
    token = ENVIRONMENT.set({**(outer or {}), **env})
    try:
        yield
    finally:
        ENVIRONMENT.reset(token)


def cloud(path: str) -> Any:
    """Return the cloudpathlib object of a cloud URL (a :class:`pathlib.Path` for a local one), on a
    client of the current :func:`environment`.

    Raises:
        StorageError: If the SDK of that cloud is not installed.
    """
    return backend_for(path).cloudpath(path)


def resolve(path: str) -> str:
    """An absolute local path (``~`` expanded), or the URL unchanged."""
    if is_cloud(path):
        return path.rstrip("/") if path.count("/") > 2 else path
    return os.path.abspath(os.path.expanduser(path))


def join(base: str, *parts: str) -> str:
    """Join path parts with ``/`` (an absolute part restarts the path, as with :func:`os.path.join`)."""
    if not is_cloud(base):
        return os.path.join(base, *parts)
    text = base
    for part in parts:
        text = part if is_cloud(part) else f"{text.rstrip('/')}/{part.lstrip('/')}"
    return text


def exists(path: str) -> bool:
    """True when a file or directory exists at ``path`` (on a bucket: one request for an object)."""
    if not is_cloud(path):
        return os.path.exists(path)
    with _storage_errors(path, "check"):
        return backend_for(path).head(path) is not None or bool(list_prefix(path))


def stat(path: str) -> Stat | None:
    """Return ``(size in bytes, mtime in seconds)`` of a file, or None when it does not exist.

    For a directory, the size is the total of its files and the mtime the newest of them (and, locally,
    of the directories), so a change anywhere below counts.
    """
    if not is_cloud(path):
        return tree_stat(path)
    with _storage_errors(path, "stat"):
        head = backend_for(path).head(path)
        if head is not None:
            return head
        return _total(list_prefix(path).values())  # a "directory": its objects


def _total(stats: Iterable[Stat]) -> Stat | None:
    """The total size and newest mtime of some objects, or None for none."""
    found = list(stats)
    return (sum(s[0] for s in found), max(s[1] for s in found)) if found else None


def read_text(path: str) -> str:
    """Read a text file (a cloud object in one request).

    Raises:
        StorageError: If it cannot be read.
    """
    with _storage_errors(path, "read"):
        if not is_cloud(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        return backend_for(path).get(path).decode("utf-8", errors="replace")


def write_text(path: str, text: str) -> None:
    """Write a text file (a cloud object in one request; it appears whole or not at all).

    Raises:
        StorageError: If it cannot be written.
    """
    with _storage_errors(path, "write"):
        if not is_cloud(path):
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            return
        backend_for(path).put(path, text.encode("utf-8"))


def atomic_write_text(path: str, text: str) -> None:
    """Write a text file so that readers see the old content or the new one, never half a file.

    Raises:
        StorageError: If it cannot be written.
    """
    if is_cloud(path):
        write_text(path, text)
        return
    tmp = f"{path}.pw-tmp-{uuid.uuid4().hex[:8]}"
    with _storage_errors(path, "write"):
        try:
            with open(tmp, "w", encoding="utf-8") as fh:
                fh.write(text)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)


def makedirs(path: str) -> None:
    """Create a directory and its parents (a no-op on object stores, which have no directories).

    Raises:
        StorageError: If it cannot be created.
    """
    if is_cloud(path):
        return
    with _storage_errors(path, "create directory"):
        os.makedirs(path, exist_ok=True)


def makedir(path: str) -> bool:
    """Create a directory and its parents; True when it did not exist before (it is then empty).

    On a bucket, which has no directories, nothing is made and the answer is False (not known empty).

    Raises:
        StorageError: If it cannot be created.
    """
    if is_cloud(path):
        return False
    with _storage_errors(path, "create directory"):
        try:
            os.mkdir(path)
        except FileExistsError:
            if not os.path.isdir(path):
                raise
            return False
        except FileNotFoundError:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            os.mkdir(path)
        return True


def remove(path: str) -> None:
    """Remove a file if it exists."""
    with _storage_errors(path, "remove"):
        backend_for(path).delete(path)


def create_if_absent(path: str, text: str) -> str | None:
    """Create a file only if there is none (on a bucket, one conditional request): the basis of a lock.

    Returns:
        A token of the version written, for :func:`delete_if_unchanged`; None when one already exists.

    Raises:
        StorageError: If it cannot be written.
    """
    with _storage_errors(path, "create"):
        return backend_for(path).create(path, text.encode("utf-8"))


def read_with_token(path: str) -> tuple[str, str]:
    """Read a text file and the token of the version read.

    Raises:
        StorageError: If it does not exist or cannot be read.
    """
    with _storage_errors(path, "read"):
        data, token = backend_for(path).get_with_token(path)
    return data.decode("utf-8", errors="replace"), token


def delete_if_unchanged(path: str, token: str) -> bool:
    """Remove a file only if it is still the version of ``token`` (never a newer one).

    Returns:
        True when it was removed; False when it changed or was already gone.

    Raises:
        StorageError: If the request fails.
    """
    with _storage_errors(path, "remove"):
        return backend_for(path).delete_if(path, token)


def rmtree(path: str) -> None:
    """Remove a file or a directory tree if it exists."""
    with _storage_errors(path, "remove"):
        if not is_cloud(path):
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path)
            else:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)
            return
        cp = cloud(path)  # cloudpathlib deletes a prefix in batches where the service allows it
        if cp.is_dir():
            cp.rmtree()
        elif cp.exists():
            cp.unlink()


def move_tree(src: str, dest: str) -> None:
    """Move a directory tree to a path that does not exist yet (locally one rename; on a bucket each
    object is copied on the service, then the originals are deleted).

    Raises:
        StorageError: If it cannot be moved.
    """
    if not is_cloud(src):
        with _storage_errors(src, "move"):
            os.rename(src, dest)
        return
    below, target = src.rstrip("/") + "/", dest.rstrip("/") + "/"
    backend = backend_for(src)
    with _storage_errors(src, "move"):
        objects = [url for url in backend.list(below) if url.startswith(below)]
        for url in objects:
            backend.copy(url, target + url[len(below) :])
        for url in objects:
            backend.delete(url)


def glob(pattern: str) -> list[str]:
    """Paths matching a glob pattern (``**`` recurses), local or cloud.

    Raises:
        StorageError: If a cloud prefix cannot be listed.
    """
    if not is_cloud(pattern):
        return _glob.glob(os.path.expanduser(pattern), recursive=True)
    scheme, bucket, key = split_url(pattern)
    root = f"{scheme}://{bucket}"
    with _storage_errors(root, "list"):
        return [str(p) for p in cloud(root).glob(key)] if key else [root]


def list_prefix(url: str) -> dict[str, Stat]:
    """Every object under a cloud prefix (every file under a local directory) with its size and update
    time: ONE listing (paged), no stat.

    Returns:
        ``{object URL: (size in bytes, mtime in seconds)}``; empty when nothing is there.

    Raises:
        StorageError: If the bucket cannot be listed (missing, no permission, no credentials).
    """
    with _storage_errors(url, "list"):
        return backend_for(url).list(url)


def stat_many(urls: list[str]) -> dict[str, Stat | None]:
    """Stat many paths with as few requests as possible: cloud URLs sharing a prefix are answered by one
    listing of that prefix (a directory's size is the total of its objects, its mtime the newest).

    Returns:
        ``{path: (size, mtime) or None when it does not exist}``.
    """
    out: dict[str, Stat | None] = {u: stat(u) for u in urls if not is_cloud(u)}
    cloud_urls = [u for u in urls if is_cloud(u)]
    if not cloud_urls:
        return out
    listed: dict[str, Stat] = {}
    for prefix in _common_prefixes(cloud_urls):
        listed.update(list_prefix(prefix))
    for url in cloud_urls:
        below = url.rstrip("/") + "/"
        out[url] = (
            listed[url] if url in listed else _total(v for k, v in listed.items() if k.startswith(below))
        )
    return out


def _common_prefixes(urls: list[str]) -> list[str]:
    """One prefix per bucket: the deepest directory all of that bucket's URLs are under."""
    by_bucket: dict[str, list[list[str]]] = {}
    for url in urls:
        scheme, bucket, key = split_url(url)
        by_bucket.setdefault(f"{scheme}://{bucket}", []).append(key.split("/")[:-1])
    prefixes = []
    for root, parts in by_bucket.items():
        common: list[str] = []
        for level in zip(*parts, strict=False):
            if len(set(level)) != 1:
                break
            common.append(level[0])
        prefixes.append(f"{root}/{'/'.join(common)}" if common else root)
    return prefixes


def download(url: str, dest: str) -> None:
    """Copy a cloud file (one request) or directory (one listing, one request per object) to a local path.

    Raises:
        StorageError: If it is missing or cannot be read.
    """
    _transfer.download(url, dest)


def upload(src: str, url: str) -> None:
    """Copy a local file or directory to a cloud URL (objects appear whole; they are verified).

    Raises:
        StorageError: If the upload fails or an object's size does not match.
    """
    _transfer.upload(src, url)


def is_exported(src: str, dest: str) -> bool:
    """True when ``dest`` already holds an export of ``src`` (same size and mtime), so it can be kept."""
    return _transfer.is_exported(src, dest)


def export(src: str, dest: str) -> None:
    """Copy a job's output file or directory to its export path, atomically.

    Locally the copy is written to a hidden sibling ``.<name>.pw-tmp-<rand>`` and renamed over ``dest`` in
    one step, so a crash leaves the previous export or the new one, never half of one. Job outputs are
    never rewritten in place (a rerun removes them first), so a hard link is a safe, instant copy. An
    output on a bucket exported to a local outdir is downloaded to that hidden sibling first. Exports to
    a bucket are uploaded and verified (objects between buckets of one cloud are copied by the service);
    an exported directory gets its ``.pipework-complete`` marker last, after the old one was removed.

    Raises:
        StorageError: If the source is missing or the destination cannot be written.
    """
    _transfer.export(src, dest)
