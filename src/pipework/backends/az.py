"""``az://container/blob`` URLs through azure-storage-blob (Azure, or Azurite by connection string)."""

from __future__ import annotations

import contextlib
import importlib
import os
import time
from collections.abc import Mapping
from typing import Any

from azure.storage.blob import BlobServiceClient

from ..errors import StorageError
from .base import (
    ONE_SHOT,
    CloudBackend,
    NoCredentialsError,
    Stat,
    download_to,
    is_not_found,
    is_precondition_failed,
    prefix_of,
    split_url,
)

#: Seconds between two looks at a server-side copy still pending, at most.
_COPY_POLL = 2.0


class AzureBackend(CloudBackend):
    """Blobs of Azure storage containers."""

    env_keys = ("AZURE_STORAGE_CONNECTION_STRING", "AZURE_STORAGE_ACCOUNT_URL")

    def make_client(self, env: Mapping[str, str | None]) -> BlobServiceClient:
        """A service client from the connection string, else from the account URL with the default
        Azure credential (azure-identity) when it is installed.

        Raises:
            NoCredentialsError: If neither variable is set.
        """
        if env["AZURE_STORAGE_CONNECTION_STRING"]:
            return BlobServiceClient.from_connection_string(env["AZURE_STORAGE_CONNECTION_STRING"])
        if env["AZURE_STORAGE_ACCOUNT_URL"]:
            credential: Any = None  # an account URL carrying a SAS token needs none
            with contextlib.suppress(ImportError):
                credential = importlib.import_module("azure.identity").DefaultAzureCredential()
            return BlobServiceClient(env["AZURE_STORAGE_ACCOUNT_URL"], credential=credential)
        raise NoCredentialsError(
            "neither AZURE_STORAGE_CONNECTION_STRING nor AZURE_STORAGE_ACCOUNT_URL is set"
        )

    def wrap_client(self, client: BlobServiceClient, cache_dir: str | None) -> Any:
        """A cloudpathlib ``AzureBlobClient`` on the same service client."""
        from cloudpathlib import AzureBlobClient

        return AzureBlobClient(blob_service_client=client, local_cache_dir=cache_dir)

    def _blob(self, url: str) -> Any:
        _, container, name = split_url(url)
        return self.client().get_blob_client(container=container, blob=name)

    def head(self, url: str) -> Stat | None:
        """``Get Blob Properties``: size and mtime, or None."""
        try:
            props = self._blob(url).get_blob_properties()
        except Exception as exc:
            if is_not_found(exc) or "404" in str(exc):
                return None
            raise
        return int(props.size), props.last_modified.timestamp()

    def get(self, url: str) -> bytes:
        """``Get Blob``."""
        try:
            return bytes(self._blob(url).download_blob().readall())
        except Exception as exc:
            if is_not_found(exc):
                raise FileNotFoundError(url) from exc
            raise

    def put(self, url: str, data: bytes) -> None:
        """``Put Blob``."""
        self._blob(url).upload_blob(data, overwrite=True)

    def delete(self, url: str) -> None:
        """``Delete Blob``; a missing blob is not an error."""
        try:
            self._blob(url).delete_blob()
        except Exception as exc:
            if not is_not_found(exc):
                raise

    def create(self, url: str, data: bytes) -> str | None:
        """``Put Blob`` with ``If-None-Match: *``; the ETag, or None when the blob exists."""
        try:
            return str(self._blob(url).upload_blob(data, overwrite=False)["etag"])
        except Exception as exc:
            if is_precondition_failed(exc):
                return None
            raise

    def get_with_token(self, url: str) -> tuple[bytes, str]:
        """``Get Blob``: the content and its ETag."""
        try:
            downloader = self._blob(url).download_blob()
        except Exception as exc:
            if is_not_found(exc):
                raise FileNotFoundError(url) from exc
            raise
        return bytes(downloader.readall()), str(downloader.properties.etag)

    def delete_if(self, url: str, token: str) -> bool:
        """``Delete Blob`` with ``If-Match`` the ETag."""
        from azure.core import MatchConditions

        try:
            self._blob(url).delete_blob(etag=token, match_condition=MatchConditions.IfNotModified)
        except Exception as exc:
            if is_precondition_failed(exc) or is_not_found(exc):
                return False
            raise
        return True

    def list(self, url: str) -> dict[str, Stat]:
        """``List Blobs``, paged."""
        _, container, name = split_url(url)
        blobs = self.client().get_container_client(container).list_blobs(name_starts_with=prefix_of(name))
        return {f"az://{container}/{b.name}": (int(b.size), b.last_modified.timestamp()) for b in blobs}

    def upload(self, src: str, url: str) -> None:
        """``Put Blob`` with the content's MD5 for a small file; blocks each with its MD5 for a large
        one, then its stored size is checked."""
        blob = self._blob(url)
        size = os.path.getsize(src)
        with open(src, "rb") as fh:
            blob.upload_blob(fh, overwrite=True, validate_content=True)
        if size <= ONE_SHOT:
            return
        got = int(blob.get_blob_properties().size)
        if got != size:
            raise StorageError(f"upload of {src!r} to {url!r} stored {got} bytes, expected {size}")

    def download(self, url: str, dest: str) -> None:
        """``Get Blob`` into a temporary sibling of ``dest``, renamed into place."""

        def fetch(tmp: str) -> None:
            with open(tmp, "wb") as fh:
                self._blob(url).download_blob().readinto(fh)

        download_to(url, dest, fetch)

    def copy(self, src: str, url: str) -> int:
        """``Copy Blob`` on the service, waiting while the service reports it pending.

        Raises:
            StorageError: If the service reports the copy failed or aborted.
        """
        target = self._blob(url)
        target.start_copy_from_url(self._blob(src).url)
        props = target.get_blob_properties()
        delay = 0.1
        while props.copy.status == "pending":
            time.sleep(delay)
            delay = min(delay * 2, _COPY_POLL)
            props = target.get_blob_properties()
        if props.copy.status not in (None, "success"):
            raise StorageError(
                f"copy of {src!r} to {url!r} ended {props.copy.status}: {props.copy.status_description}"
            )
        return int(props.size)
