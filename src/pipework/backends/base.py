"""What a storage backend does, and the environment its SDK clients are built from.

A backend is one small class per URL scheme with the verbs of an object store, each one request (or
one paged listing): :meth:`~Backend.head`, :meth:`~Backend.get`, :meth:`~Backend.put`,
:meth:`~Backend.delete`, :meth:`~Backend.list`, :meth:`~Backend.upload`, :meth:`~Backend.download`
and :meth:`~Backend.copy`. A missing object is a :class:`FileNotFoundError`; the SDK's own errors pass
through, and :mod:`pipework.paths` (the façade) turns all of them into :class:`~pipework.errors.StorageError`.

Cloud clients are built from ``os.environ`` overlaid with :data:`ENVIRONMENT`, a context variable set by
:func:`pipework.paths.environment`, so two runs in one interpreter can use two endpoints without
touching ``os.environ``. Clients are cached per scheme and per value of the variables they read.
"""

from __future__ import annotations

import os
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar

__all__ = [
    "CLOUD_SCHEMES",
    "ENVIRONMENT",
    "ONE_SHOT",
    "Backend",
    "CloudBackend",
    "NoCredentialsError",
    "NoSuchBucket",
    "Stat",
    "getenv",
    "split_url",
]

CLOUD_SCHEMES = ("gs://", "s3://", "az://")

#: ``(size in bytes, mtime in seconds since the epoch)`` of a file or an object.
Stat = tuple[int, float]

#: Files up to this size (bytes) go up in one request whose checksum the service verifies.
ONE_SHOT = 8 * 1024 * 1024

#: Variables that override ``os.environ`` for the cloud clients built in this context (None: none).
ENVIRONMENT: ContextVar[Mapping[str, str] | None] = ContextVar("pipework_storage_environment", default=None)


def getenv(key: str) -> str | None:
    """The value of an environment variable for the cloud clients: the overlay first, then ``os.environ``."""
    overlay = ENVIRONMENT.get()
    if overlay is not None and key in overlay:
        return overlay[key]
    return os.environ.get(key)


def split_url(url: str) -> tuple[str, str, str]:
    """``gs://bucket/a/b`` -> ``("gs", "bucket", "a/b")``."""
    scheme, _, rest = url.partition("://")
    bucket, _, key = rest.partition("/")
    return scheme, bucket, key


def prefix_of(key: str) -> str:
    """The listing prefix of a key: everything below it as a directory (``""`` for a bucket's root)."""
    return key.rstrip("/") + "/" if key else ""


def is_not_found(exc: Exception) -> bool:
    """True when an SDK error says the object (not necessarily the bucket) does not exist."""
    name = type(exc).__name__
    if name in ("NotFound", "NoSuchKey", "ResourceNotFoundError"):
        return True
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("404", "NoSuchKey", "NotFound")


def is_precondition_failed(exc: Exception) -> bool:
    """True when an SDK error says a conditional request's condition did not hold (HTTP 409/412)."""
    if type(exc).__name__ in ("PreconditionFailed", "ResourceExistsError", "ResourceModifiedError"):
        return True
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    return code in ("412", "PreconditionFailed", "ConditionalRequestConflict")


class NoSuchBucket(Exception):
    """The bucket of a URL does not exist (raised where a 404 can mean nothing else: a listing, a write)."""


class NoCredentialsError(Exception):
    """No credentials are configured for a cloud (the façade names the variables to set)."""


class Backend(ABC):
    """The operations pipework needs from one kind of storage. Every method is blocking."""

    @abstractmethod
    def head(self, url: str) -> Stat | None:
        """Size and mtime of one object (one request), or None when there is no such object."""

    @abstractmethod
    def get(self, url: str) -> bytes:
        """The content of one object (one request).

        Raises:
            FileNotFoundError: If there is no such object.
        """

    @abstractmethod
    def put(self, url: str, data: bytes) -> None:
        """Write one object in one request: it appears whole or not at all."""

    @abstractmethod
    def delete(self, url: str) -> None:
        """Delete one object; a missing one is not an error."""

    @abstractmethod
    def list(self, url: str) -> dict[str, Stat]:
        """Every object under a prefix (the URL as a directory): ONE paged listing, no stat.

        Returns:
            ``{object URL: (size, mtime)}``; empty when nothing is there.
        """

    @abstractmethod
    def upload(self, src: str, url: str) -> None:
        """Copy a local file to an object and make sure the service stored it whole.

        A file up to :data:`ONE_SHOT` bytes goes up in one request carrying its checksum, which the
        service verifies before it stores the object; a larger one goes in parts and its stored size
        is checked.

        Raises:
            pipework.errors.StorageError: If the stored size is not the file's.
        """

    @abstractmethod
    def download(self, url: str, dest: str) -> None:
        """Copy one object to a local file, through a temporary name renamed into place.

        Raises:
            FileNotFoundError: If there is no such object.
        """

    @abstractmethod
    def copy(self, src: str, url: str) -> int:
        """Copy one object to another URL of the same scheme (on the service, not through this host).

        Returns:
            The size of the copy as stored, in bytes, for the caller to verify.
        """

    @abstractmethod
    def create(self, url: str, data: bytes) -> str | None:
        """Write an object only if there is none (one conditional request).

        Returns:
            A token of the version written (an ETag, a generation), or None when one already exists.
        """

    @abstractmethod
    def get_with_token(self, url: str) -> tuple[bytes, str]:
        """The content of an object and the token of that version.

        Raises:
            FileNotFoundError: If there is no such object.
        """

    @abstractmethod
    def delete_if(self, url: str, token: str) -> bool:
        """Delete an object only if it is still the version of ``token`` (one conditional request).

        Returns:
            True when it was deleted; False when it changed or is gone.
        """

    @abstractmethod
    def cloudpath(self, url: str) -> Any:
        """The cloudpathlib path of a URL, on a client of this context's environment (glob, rmtree)."""


class CloudBackend(Backend):
    """A backend whose SDK client is built from the environment: one client per distinct value of the
    variables in :attr:`env_keys`, made on first use and shared by all threads."""

    #: The environment variables :meth:`make_client` reads.
    env_keys: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self._clients: dict[tuple[str | None, ...], Any] = {}
        self._cloudpathlib: dict[tuple[str | None, ...], Any] = {}
        self._lock = threading.Lock()

    def _key(self) -> tuple[str | None, ...]:
        return tuple(getenv(k) for k in self.env_keys)

    def client(self) -> Any:
        """The SDK client for the current environment (built once per environment)."""
        key = self._key()
        client = self._clients.get(key)
        if client is None:
            with self._lock:  # SDK sessions are not safe to build from several threads at once
                client = self._clients.get(key)
                if client is None:
                    client = self._clients[key] = self.make_client(dict(zip(self.env_keys, key, strict=True)))
        return client

    def cloudpath(self, url: str) -> Any:
        """The cloudpathlib path of a URL, on a cloudpathlib client wrapping :meth:`client`."""
        key = self._key()
        wrapper = self._cloudpathlib.get(key)
        if wrapper is None:
            client = self.client()
            with self._lock:
                wrapper = self._cloudpathlib.get(key)
                if wrapper is None:
                    cache_dir = getenv("CLOUDPATHLIB_LOCAL_CACHE_DIR") or None
                    wrapper = self._cloudpathlib[key] = self.wrap_client(client, cache_dir)
        return wrapper.CloudPath(url)

    @abstractmethod
    def make_client(self, env: Mapping[str, str | None]) -> Any:
        """Build the SDK client from the values of :attr:`env_keys` (None where unset).

        Raises:
            NoCredentialsError: If the environment configures no way to reach the service.
        """

    @abstractmethod
    def wrap_client(self, client: Any, cache_dir: str | None) -> Any:
        """A cloudpathlib client using ``client`` (and ``cache_dir`` for its file cache)."""


def download_to(url: str, dest: str, fetch: Callable[[str], None]) -> None:
    """Download through ``fetch(tmp)`` into a temporary sibling of ``dest``, then rename it into place:
    ``dest`` is whole or absent, never half written.

    Raises:
        FileNotFoundError: If there is no such object.
    """
    os.makedirs(os.path.dirname(dest) or ".", exist_ok=True)
    tmp = f"{dest}.pw-tmp-{uuid.uuid4().hex[:8]}"
    try:
        fetch(tmp)
        os.replace(tmp, dest)
    except Exception as exc:
        if is_not_found(exc) or "404" in str(exc):
            raise FileNotFoundError(url) from exc
        raise
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
