"""Storage backends: one small class per URL scheme, behind the façade :mod:`pipework.paths`.

``local`` (paths), ``gs`` (google-cloud-storage), ``s3`` (boto3) and ``az`` (azure-storage-blob). A
backend's module, and so its SDK, is imported when a URL of its scheme is first used, never by
``import pipework``.
"""

from __future__ import annotations

import importlib
import threading

from ..errors import StorageError
from .base import CLOUD_SCHEMES, Backend

__all__ = ["Backend", "backend_for"]

#: scheme -> (module, class, the pipework extra that installs its SDK)
_CLASSES = {
    "local": ("local", "LocalBackend", ""),
    "gs": ("gs", "GSBackend", "gs"),
    "s3": ("s3", "S3Backend", "s3"),
    "az": ("az", "AzureBackend", "azure"),
}
_BACKENDS: dict[str, Backend] = {}
_LOCK = threading.Lock()


def backend_for(path: str) -> Backend:
    """The backend of a path's scheme (one instance per scheme, made on first use).

    Raises:
        StorageError: If the SDK of that cloud is not installed.
    """
    scheme = path[:2] if path.startswith(CLOUD_SCHEMES) else "local"
    backend = _BACKENDS.get(scheme)
    if backend is not None:
        return backend
    module, name, extra = _CLASSES[scheme]
    with _LOCK:
        if scheme not in _BACKENDS:
            try:
                cls = getattr(importlib.import_module(f"{__name__}.{module}"), name)
            except ImportError as exc:
                raise StorageError(
                    f"cannot use {path!r}: {exc}", hint=f"pip install 'pipework[{extra}]'"
                ) from exc
            _BACKENDS[scheme] = cls()
        return _BACKENDS[scheme]
