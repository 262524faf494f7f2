"""The one place pipework touches files: local paths and ``gs://``, ``s3://``, ``az://`` URLs alike.

Paths travel as plain strings. Local paths use :mod:`os` directly (fast); cloud URLs go through
cloudpathlib, imported only when a cloud URL is first used. Every function here is blocking: the engine
calls them from worker threads (``asyncio.to_thread``), batched per process or per job, never on the loop.
"""

from __future__ import annotations

import base64
import contextlib
import errno
import glob as _glob
import hashlib
import os
import shutil
import uuid
from collections.abc import Iterator
from typing import Any

from .errors import StorageError

__all__ = [
    "CLOUD_SCHEMES",
    "atomic_write_text",
    "exists",
    "export",
    "glob",
    "is_cloud",
    "is_dir",
    "join",
    "makedirs",
    "read_text",
    "remove",
    "resolve",
    "rmtree",
    "stat",
    "write_text",
]

CLOUD_SCHEMES = ("gs://", "s3://", "az://")


def is_cloud(path: str) -> bool:
    """True for ``gs://``, ``s3://`` and ``az://`` URLs."""
    return path.startswith(CLOUD_SCHEMES)


def cloud(path: str) -> Any:
    """Return the cloudpathlib object of a cloud URL.

    Raises:
        StorageError: If the SDK of that cloud is not installed.
    """
    try:
        from cloudpathlib import AnyPath, CloudPath
    except ImportError as exc:  # pragma: no cover - cloudpathlib is a core dependency
        raise StorageError(f"cannot use {path!r}: cloudpathlib is not installed") from exc
    try:
        # CloudPath(url) dispatches to the S3Path/GSPath/AzureBlobPath subclass of the URL's scheme
        return CloudPath(path) if is_cloud(path) else AnyPath(path)  # type: ignore[abstract]
    except Exception as exc:
        extra = {"gs": "gs", "s3": "s3", "az": "azure"}[path[:2]]
        raise StorageError(f"cannot use {path!r}: {exc}", hint=f"pip install 'pipework[{extra}]'") from exc


@contextlib.contextmanager
def _storage_errors(path: str, action: str) -> Iterator[None]:
    try:
        yield
    except StorageError:
        raise
    except FileNotFoundError as exc:
        raise StorageError(f"cannot {action} {path!r}: it does not exist") from exc
    except PermissionError as exc:
        raise StorageError(
            f"cannot {action} {path!r}: permission denied", hint="check its owner and mode"
        ) from exc
    except OSError as exc:
        raise StorageError(f"cannot {action} {path!r}: {exc.strerror or exc}") from exc
    except Exception as exc:  # cloud SDK errors carry their own class names
        raise _cloud_error(path, action, exc) from exc


_CREDENTIALS = {
    "gs": "GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login` "
    "(STORAGE_EMULATOR_HOST for an emulator)",
    "s3": "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (AWS_ENDPOINT_URL for another S3)",
    "az": "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL with a signed-in identity",
}


def _cloud_error(path: str, action: str, exc: Exception) -> StorageError:
    """Name what went wrong with a cloud request, and the fix: missing bucket, credentials, permission."""
    scheme = path.partition("://")[0]
    bucket = split_url(path)[1] if is_cloud(path) else ""
    text = f"{type(exc).__name__}: {exc}"
    lowered = text.lower()
    if any(
        s in lowered for s in ("nosuchbucket", "containernotfound", "the specified container does not exist")
    ) or ("notfound" in lowered.replace(" ", "") and "bucket" in lowered):
        return StorageError(
            f"cannot {action} {path!r}: the bucket {bucket!r} does not exist",
            hint="create it, or fix the URL",
        )
    if any(
        s in lowered
        for s in ("defaultcredentialserror", "nocredentialserror", "unable to locate credentials")
    ):
        return StorageError(
            f"cannot {action} {path!r}: no credentials for {scheme}://",
            hint=f"set {_CREDENTIALS.get(scheme)}",
        )
    if any(s in lowered for s in ("accessdenied", "forbidden", "403", "authenticationfailed", "authorization",
                                  "invalidaccesskeyid", "signaturedoesnotmatch")):  # fmt: skip
        return StorageError(
            f"cannot {action} {path!r}: permission denied ({text.splitlines()[0][:160]})",
            hint=f"check the credentials ({_CREDENTIALS.get(scheme)}) and their rights on bucket {bucket!r}",
        )
    return StorageError(f"cannot {action} {path!r}: {text.splitlines()[0][:300]}")


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
        return _head_object(path) is not None or bool(list_prefix(path))


def _head_object(url: str) -> tuple[int, float] | None:
    """Size and update time of one object (one request), or None when there is no such object."""
    scheme, bucket, key = split_url(url)
    client = cloud(url).client
    try:
        if scheme == "s3":
            head = client.client.head_object(Bucket=bucket, Key=key)
            return int(head["ContentLength"]), head["LastModified"].timestamp()
        if scheme == "gs":
            blob = client.client.bucket(bucket).get_blob(key)
            return None if blob is None else (int(blob.size or 0), blob.updated.timestamp())
        props = client.service_client.get_blob_client(container=bucket, blob=key).get_blob_properties()
        return int(props.size), props.last_modified.timestamp()
    except Exception as exc:
        if _is_not_found(exc) or "404" in str(exc):
            return None
        raise


def is_dir(path: str) -> bool:
    """True when ``path`` is a directory (or a non-empty cloud prefix)."""
    if not is_cloud(path):
        return os.path.isdir(path)
    with _storage_errors(path, "check"):
        return bool(cloud(path).is_dir())


def stat(path: str) -> tuple[int, float] | None:
    """Return ``(size in bytes, mtime in seconds)`` of a file, or None when it does not exist.

    For a local directory, the size is the total of its files and the mtime the newest of them and of
    the directories, so a change anywhere below counts.
    """
    if not is_cloud(path):
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return None
        if not os.path.isdir(path):
            return st.st_size, st.st_mtime
        size, mtime = 0, st.st_mtime
        for root, dirs, files in os.walk(path):
            for name in files + dirs:
                try:
                    sub = os.stat(os.path.join(root, name))
                except FileNotFoundError:
                    continue
                if name in files:
                    size += sub.st_size
                mtime = max(mtime, sub.st_mtime)
        return size, mtime
    with _storage_errors(path, "stat"):
        head = _head_object(path)
        if head is not None:
            return head
        below = list_prefix(path)  # a "directory": the total of its objects, the newest time
        if below:
            return sum(v[0] for v in below.values()), max(v[1] for v in below.values())
        return None


def read_text(path: str) -> str:
    """Read a text file (a cloud object in one request).

    Raises:
        StorageError: If it cannot be read.
    """
    with _storage_errors(path, "read"):
        if not is_cloud(path):
            with open(path, encoding="utf-8", errors="replace") as fh:
                return fh.read()
        return _get_object(path).decode("utf-8", errors="replace")


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
        _put_object(path, text.encode("utf-8"))


def _get_object(url: str) -> bytes:
    """One GET through the SDK of the URL's cloud (cloudpathlib's reads cost several requests).

    Raises:
        FileNotFoundError: If there is no such object.
    """
    scheme, bucket, key = split_url(url)
    client = cloud(url).client
    try:
        if scheme == "s3":
            return bytes(client.client.get_object(Bucket=bucket, Key=key)["Body"].read())
        if scheme == "gs":
            return bytes(client.client.bucket(bucket).blob(key).download_as_bytes())
        blob = client.service_client.get_blob_client(container=bucket, blob=key)
        return bytes(blob.download_blob().readall())
    except Exception as exc:
        if _is_not_found(exc):
            raise FileNotFoundError(url) from exc
        raise


def _put_object(url: str, data: bytes) -> None:
    """One PUT through the SDK of the URL's cloud."""
    scheme, bucket, key = split_url(url)
    client = cloud(url).client
    if scheme == "s3":
        client.client.put_object(Bucket=bucket, Key=key, Body=data)
    elif scheme == "gs":
        client.client.bucket(bucket).blob(key).upload_from_string(data)
    else:
        client.service_client.get_blob_client(container=bucket, blob=key).upload_blob(data, overwrite=True)


def _is_not_found(exc: Exception) -> bool:
    name = type(exc).__name__
    if name in ("NotFound", "NoSuchKey", "ResourceNotFoundError"):
        return True
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("404", "NoSuchKey", "NotFound")


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
        if not is_cloud(path):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            return
        scheme, bucket, key = split_url(path)
        client = cloud(path).client
        try:
            if scheme == "s3":
                client.client.delete_object(Bucket=bucket, Key=key)
            elif scheme == "gs":
                client.client.bucket(bucket).blob(key).delete()
            else:
                client.service_client.get_blob_client(container=bucket, blob=key).delete_blob()
        except Exception as exc:
            if not _is_not_found(exc):
                raise


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
        cp = cloud(path)
        if cp.is_dir():
            cp.rmtree()
        elif cp.exists():
            cp.unlink()


def glob(pattern: str) -> list[str]:
    """Paths matching a glob pattern (``**`` recurses), local or cloud.

    Raises:
        StorageError: If a cloud prefix cannot be listed.
    """
    if not is_cloud(pattern):
        return _glob.glob(os.path.expanduser(pattern), recursive=True)
    scheme, _, rest = pattern.partition("://")
    bucket, _, key = rest.partition("/")
    root = f"{scheme}://{bucket}"
    with _storage_errors(root, "list"):
        return [str(p) for p in cloud(root).glob(key)] if key else [root]


def split_url(url: str) -> tuple[str, str, str]:
    """``gs://bucket/a/b`` -> ``("gs", "bucket", "a/b")``."""
    scheme, _, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


def list_prefix(url: str) -> dict[str, tuple[int, float]]:
    """Every object under a cloud prefix with its size and update time: ONE listing (paged), no stat.

    Returns:
        ``{object URL: (size in bytes, mtime in seconds)}``; empty when nothing is there.

    Raises:
        StorageError: If the bucket cannot be listed (missing, no permission, no credentials).
    """
    scheme, bucket, key = split_url(url)
    prefix = key.rstrip("/") + "/" if key else ""
    out: dict[str, tuple[int, float]] = {}
    with _storage_errors(url, "list"):
        client = cloud(url).client
        if scheme == "s3":
            pages = client.client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
            for page in pages:
                for obj in page.get("Contents", []):
                    out[f"s3://{bucket}/{obj['Key']}"] = (int(obj["Size"]), obj["LastModified"].timestamp())
        elif scheme == "gs":
            for blob in client.client.list_blobs(bucket, prefix=prefix):
                out[f"gs://{bucket}/{blob.name}"] = (int(blob.size or 0), blob.updated.timestamp())
        else:
            container = client.service_client.get_container_client(bucket)
            for blob in container.list_blobs(name_starts_with=prefix):
                out[f"az://{bucket}/{blob.name}"] = (int(blob.size), blob.last_modified.timestamp())
    return out


def stat_many(urls: list[str]) -> dict[str, tuple[int, float] | None]:
    """Stat many paths with as few requests as possible: cloud URLs sharing a prefix are answered by one
    listing of that prefix (a directory's size is the total of its objects, its mtime the newest).

    Returns:
        ``{path: (size, mtime) or None when it does not exist}``.
    """
    out: dict[str, tuple[int, float] | None] = {u: stat(u) for u in urls if not is_cloud(u)}
    cloud_urls = [u for u in urls if is_cloud(u)]
    if not cloud_urls:
        return out
    listed: dict[str, tuple[int, float]] = {}
    for prefix in _common_prefixes(cloud_urls):
        listed.update(list_prefix(prefix))
    for url in cloud_urls:
        if url in listed:
            out[url] = listed[url]
            continue
        below = [v for k, v in listed.items() if k.startswith(url.rstrip("/") + "/")]
        out[url] = (sum(v[0] for v in below), max(v[1] for v in below)) if below else None
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
    with _storage_errors(url, "download"):
        try:
            _download_file(url, dest)
            return
        except FileNotFoundError:
            objects = list_prefix(url)
            if not objects:
                raise
        for obj in objects:
            _download_file(obj, os.path.join(dest, obj[len(url.rstrip("/")) + 1 :]))


def _download_file(url: str, dest: str) -> None:
    scheme, bucket, key = split_url(url)
    client = cloud(url).client
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    tmp = f"{dest}.pw-tmp-{uuid.uuid4().hex[:8]}"
    try:
        if scheme == "s3":
            client.client.download_file(bucket, key, tmp)
        elif scheme == "gs":
            client.client.bucket(bucket).blob(key).download_to_filename(tmp)
        else:
            with open(tmp, "wb") as fh:
                client.service_client.get_blob_client(container=bucket, blob=key).download_blob().readinto(fh)
        os.replace(tmp, dest)
    except Exception as exc:
        if _is_not_found(exc) or "404" in str(exc):
            raise FileNotFoundError(url) from exc
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


#: Files up to this size go up in one request whose checksum the service verifies.
_ONE_SHOT = 8 * 1024 * 1024


def _upload_file(src: str, url: str) -> None:
    """Upload one file and make sure the service stored it whole.

    A small file goes up in one request carrying its MD5 (S3, Azure) or CRC32C (GCS), which the service
    checks before it stores the object; a large one is uploaded in parts and its stored size is checked.
    """
    scheme, bucket, key = split_url(url)
    client = cloud(url).client
    size = os.path.getsize(src)
    if scheme == "s3":
        if size <= _ONE_SHOT:
            with open(src, "rb") as fh:
                data = fh.read()
            digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
            client.client.put_object(Bucket=bucket, Key=key, Body=data, ContentMD5=digest)
            return
        client.client.upload_file(src, bucket, key)
        got = int(client.client.head_object(Bucket=bucket, Key=key)["ContentLength"])
    elif scheme == "gs":
        blob = client.client.bucket(bucket).blob(key)
        blob.upload_from_filename(src, checksum="crc32c" if size <= _ONE_SHOT else None)
        got = int(blob.size if blob.size is not None else size)
    else:
        blob_client = client.service_client.get_blob_client(container=bucket, blob=key)
        with open(src, "rb") as fh:
            blob_client.upload_blob(fh, overwrite=True, validate_content=True)
        if size <= _ONE_SHOT:
            return
        got = int(blob_client.get_blob_properties().size)
    if got != size:
        raise StorageError(f"upload of {src!r} to {url!r} stored {got} bytes, expected {size}")


def upload(src: str, url: str) -> None:
    """Copy a local file or directory to a cloud URL (objects appear whole; sizes are verified).

    Raises:
        StorageError: If the upload fails or an object's size does not match.
    """
    if os.path.isdir(src):
        for root, _, files in os.walk(src):
            for name in files:
                full = os.path.join(root, name)
                dest = f"{url.rstrip('/')}/{os.path.relpath(full, src)}"
                with _storage_errors(full, f"upload to {dest!r} the file"):
                    _upload_file(full, dest)
    else:
        with _storage_errors(src, f"upload to {url!r} the file"):
            _upload_file(src, url)


class _LocalFile:
    """A local file as ``_copy_verify`` sees it (it uploads what is not a cloud path)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def stat(self) -> os.stat_result:
        return os.stat(self.path)

    def __fspath__(self) -> str:
        return self.path


def _link_or_copy(src: str, dst: str) -> None:
    """Hard-link when possible (instant, no extra space), else copy with metadata."""
    try:
        os.link(src, dst)
    except OSError as exc:
        if exc.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK, errno.ENOTSUP, errno.EACCES):
            raise
        shutil.copy2(src, dst)


def is_exported(src: str, dest: str) -> bool:
    """True when ``dest`` already holds an export of ``src`` (same size and mtime), so it can be kept."""
    if is_cloud(dest) or is_cloud(src):
        return False
    a, b = stat(src), stat(dest)
    return a is not None and b is not None and a[0] == b[0] and abs(a[1] - b[1]) < 1e-3


def export(src: str, dest: str) -> None:
    """Copy a job's output file or directory to its export path, atomically.

    Locally the copy is written to a hidden sibling ``.<name>.pw-tmp-<rand>`` and renamed over ``dest`` in
    one step, so a crash leaves the previous export or the new one, never half of one. Job outputs are
    never rewritten in place (a rerun removes them first), so a hard link is a safe, instant copy. An
    output on a bucket exported to a local outdir is downloaded to that hidden sibling first. Exports to
    a bucket are uploaded and verified (see :func:`_export_cloud`).

    Raises:
        StorageError: If the source is missing or the destination cannot be written.
    """
    if is_cloud(dest):
        _export_cloud(src, dest)
        return
    parent, name = os.path.split(dest)
    tmp = os.path.join(parent, f".{name}.pw-tmp-{uuid.uuid4().hex[:8]}")
    with _storage_errors(dest, "export to"):
        os.makedirs(parent, exist_ok=True)
        try:
            if is_cloud(src):
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
            if os.path.lexists(tmp):
                rmtree(tmp)


def _export_cloud(src: str, dest: str) -> None:
    """Upload (or copy between buckets) then verify the size; directories get a completion marker."""
    with _storage_errors(dest, "export to"):
        target = cloud(dest)
        if not is_cloud(src):
            if os.path.isdir(src):
                marker = target / ".pipework-complete"
                if marker.exists():
                    marker.unlink()  # the old export is no longer complete while it is replaced
                upload(src, dest)
                marker.write_text("")
            else:
                _copy_verify(_LocalFile(src), target)
            return
        source = cloud(src)
        if source.is_dir():
            marker = target / ".pipework-complete"
            if marker.exists():
                marker.unlink()
            for sub in source.rglob("*"):
                if sub.is_file():
                    _copy_verify(sub, target / str(sub.relative_to(source)))
            marker.write_text("")
        else:
            _copy_verify(source, target)


def _copy_verify(source: Any, target: Any) -> None:
    if isinstance(source, os.PathLike) or not hasattr(source, "copy"):
        target.upload_from(os.fspath(source), force_overwrite_to_cloud=True)
    else:
        source.copy(target, force_overwrite_to_cloud=True)
    want = source.stat().st_size
    got = target.stat().st_size
    if want != got:
        raise StorageError(f"export of {source} to {target} is {got} bytes, expected {want}")
