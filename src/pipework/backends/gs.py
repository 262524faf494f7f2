"""``gs://`` URLs through google-cloud-storage (Google Cloud, or an emulator at ``STORAGE_EMULATOR_HOST``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from typing import Any

from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

from ..errors import StorageError
from .base import (
    ONE_SHOT,
    CloudBackend,
    NoSuchBucket,
    Stat,
    download_to,
    is_not_found,
    is_precondition_failed,
    prefix_of,
    split_url,
)


@contextlib.contextmanager
def _in_bucket(bucket: str) -> Iterator[None]:
    """A 404 to a listing or a write means the bucket is missing (an emulator's answer may not say so)."""
    try:
        yield
    except Exception as exc:
        if is_not_found(exc):
            raise NoSuchBucket(f"bucket {bucket!r} ({exc})") from exc
        raise


class GSBackend(CloudBackend):
    """Objects of Cloud Storage buckets."""

    env_keys = (
        "STORAGE_EMULATOR_HOST",
        "GOOGLE_APPLICATION_CREDENTIALS",
        "GOOGLE_CLOUD_PROJECT",
        "GCLOUD_PROJECT",
    )

    def make_client(self, env: Mapping[str, str | None]) -> Any:
        """A storage client: anonymous on the emulator's endpoint when ``STORAGE_EMULATOR_HOST`` is set
        (as the library does for that variable), else with the credentials file or the default
        credentials, else anonymous (public buckets only), as cloudpathlib does."""
        project = env["GOOGLE_CLOUD_PROJECT"] or env["GCLOUD_PROJECT"]
        emulator = env["STORAGE_EMULATOR_HOST"]
        if emulator:
            return storage.Client(
                project=project or "pipework",
                credentials=AnonymousCredentials(),  # type: ignore[no-untyped-call]
                client_options={"api_endpoint": emulator},
            )
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            if env["GOOGLE_APPLICATION_CREDENTIALS"]:
                credentials, found = google.auth.load_credentials_from_file(  # type: ignore[no-untyped-call]
                    env["GOOGLE_APPLICATION_CREDENTIALS"], scopes=storage.Client.SCOPE
                )
            else:
                credentials, found = google.auth.default(scopes=storage.Client.SCOPE)
        except DefaultCredentialsError:
            return storage.Client.create_anonymous_client()
        return storage.Client(project=project or found, credentials=credentials)

    def wrap_client(self, client: Any, cache_dir: str | None) -> Any:
        """A cloudpathlib ``GSClient`` on the same storage client."""
        from cloudpathlib import GSClient

        return GSClient(storage_client=client, local_cache_dir=cache_dir)

    def _blob(self, url: str) -> Any:
        _, bucket, key = split_url(url)
        return self.client().bucket(bucket).blob(key)

    def head(self, url: str) -> Stat | None:
        """One metadata GET: size and update time, or None."""
        _, bucket, key = split_url(url)
        try:
            blob = self.client().bucket(bucket).get_blob(key)
        except Exception as exc:
            if is_not_found(exc) or "404" in str(exc):
                return None
            raise
        return None if blob is None else (int(blob.size or 0), blob.updated.timestamp())

    def get(self, url: str) -> bytes:
        """One media GET."""
        try:
            return bytes(self._blob(url).download_as_bytes())
        except Exception as exc:
            if is_not_found(exc):
                raise FileNotFoundError(url) from exc
            raise

    def put(self, url: str, data: bytes) -> None:
        """One upload request."""
        with _in_bucket(split_url(url)[1]):
            self._blob(url).upload_from_string(data)

    def delete(self, url: str) -> None:
        """One DELETE; a missing object is not an error."""
        try:
            self._blob(url).delete()
        except Exception as exc:
            if not is_not_found(exc):
                raise

    def create(self, url: str, data: bytes) -> str | None:
        """One upload with ``ifGenerationMatch=0``; the generation, or None when the object exists."""
        blob = self._blob(url)
        try:
            with _in_bucket(split_url(url)[1]):
                blob.upload_from_string(data, if_generation_match=0)
        except Exception as exc:
            if is_precondition_failed(exc):
                return None
            raise
        return str(blob.generation)

    def get_with_token(self, url: str) -> tuple[bytes, str]:
        """The metadata (its generation), then the media of that generation."""
        _, bucket, key = split_url(url)
        blob = self.client().bucket(bucket).get_blob(key)
        if blob is None:
            raise FileNotFoundError(url)
        try:
            return bytes(blob.download_as_bytes(if_generation_match=blob.generation)), str(blob.generation)
        except Exception as exc:
            if is_not_found(exc) or is_precondition_failed(exc):  # replaced or removed meanwhile
                raise FileNotFoundError(url) from exc
            raise

    def delete_if(self, url: str, token: str) -> bool:
        """One DELETE with ``ifGenerationMatch``."""
        try:
            self._blob(url).delete(if_generation_match=int(token))
        except Exception as exc:
            if is_precondition_failed(exc) or is_not_found(exc):
                return False
            raise
        return True

    def list(self, url: str) -> dict[str, Stat]:
        """``objects.list``, paged."""
        _, bucket, key = split_url(url)
        with _in_bucket(bucket):
            return {
                f"gs://{bucket}/{blob.name}": (int(blob.size or 0), blob.updated.timestamp())
                for blob in self.client().list_blobs(bucket, prefix=prefix_of(key))
            }

    def upload(self, src: str, url: str) -> None:
        """One request carrying the file's CRC32C for a small file, a resumable upload for a large one;
        the size the service answers is checked."""
        blob = self._blob(url)
        size = os.path.getsize(src)
        with _in_bucket(split_url(url)[1]):
            blob.upload_from_filename(src, checksum="crc32c" if size <= ONE_SHOT else None)
        got = int(blob.size if blob.size is not None else size)
        if got != size:
            raise StorageError(f"upload of {src!r} to {url!r} stored {got} bytes, expected {size}")

    def download(self, url: str, dest: str) -> None:
        """One media GET to a temporary sibling of ``dest``, renamed into place."""
        download_to(url, dest, self._blob(url).download_to_filename)

    def copy(self, src: str, url: str) -> int:
        """One ``copyTo`` request on the service; the copy's size comes with its answer."""
        _, src_bucket, src_key = split_url(src)
        _, bucket, key = split_url(url)
        client = self.client()
        source = client.bucket(src_bucket)
        copied = source.copy_blob(source.blob(src_key), client.bucket(bucket), key)
        return int(copied.size or 0)
