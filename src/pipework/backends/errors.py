"""Turn what a backend raises (OS errors, cloud SDK errors) into a :class:`~pipework.errors.StorageError`
naming the path and the fix: a missing file or bucket, missing credentials, a denied request."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from ..errors import StorageError
from .base import CLOUD_SCHEMES, split_url

__all__ = ["cloud_error", "storage_errors"]


@contextlib.contextmanager
def storage_errors(path: str, action: str) -> Iterator[None]:
    """Raise any error of the block as a StorageError ``cannot <action> <path>: <why>``.

    Raises:
        StorageError: For any error of the block (a StorageError passes unchanged).
    """
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
        raise cloud_error(path, action, exc) from exc


_CREDENTIALS = {
    "gs": "GOOGLE_APPLICATION_CREDENTIALS or `gcloud auth application-default login` "
    "(STORAGE_EMULATOR_HOST for an emulator)",
    "s3": "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE (AWS_ENDPOINT_URL for another S3)",
    "az": "AZURE_STORAGE_CONNECTION_STRING, or AZURE_STORAGE_ACCOUNT_URL with a signed-in identity",
}


def cloud_error(path: str, action: str, exc: Exception) -> StorageError:
    """Name what went wrong with a cloud request, and the fix: missing bucket, credentials, permission."""
    scheme = path.partition("://")[0]
    bucket = split_url(path)[1] if path.startswith(CLOUD_SCHEMES) else ""
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
