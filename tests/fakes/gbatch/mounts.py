"""GCS volumes of the fake Batch API: ``/mnt/disks/<bucket>`` as a real directory, synced with the GCS
emulator before a task (new and changed objects down) and after it (new and changed files up)."""

from __future__ import annotations

import os
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any


class Mounts:
    """The fake VM's GCS mounts under ``root`` (``/mnt/disks``)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._lock = threading.Lock()
        self._seen: dict[str, tuple[int, int]] = {}  # local path -> (size, mtime_ns) as last synced
        self._client: Any = None

    def client(self) -> Any:
        if self._client is None:
            from google.auth.credentials import AnonymousCredentials
            from google.cloud import storage

            self._client = storage.Client(
                client_options={"api_endpoint": os.environ["STORAGE_EMULATOR_HOST"]},
                credentials=AnonymousCredentials(),
                project="fake-batch",
            )
        return self._client

    @staticmethod
    def _split(volume: Any) -> tuple[str, str, Path]:
        bucket, _, prefix = volume.gcs.remote_path.partition("/")
        return bucket, prefix.strip("/"), Path(volume.mount_path)

    def sync_in(self, volumes: Sequence[Any]) -> None:
        """Download the objects that are new or changed since the last sync."""
        with self._lock:
            for volume in volumes:
                if not volume.gcs.remote_path:
                    continue
                bucket, prefix, mount = self._split(volume)
                mount.mkdir(parents=True, exist_ok=True)
                for blob in self.client().list_blobs(bucket, prefix=prefix + "/" if prefix else None):
                    rel = blob.name[len(prefix) + 1 :] if prefix else blob.name
                    if not rel or rel.endswith("/"):
                        continue
                    local = mount / rel
                    if (
                        local.exists()
                        and self._seen.get(str(local)) == self._stamp(local)
                        and local.stat().st_size == blob.size
                    ):
                        continue
                    local.parent.mkdir(parents=True, exist_ok=True)
                    blob.download_to_filename(str(local))
                    self._seen[str(local)] = self._stamp(local)

    def sync_out(self, volumes: Sequence[Any]) -> None:
        """Upload the files that are new or changed since the last sync."""
        with self._lock:
            for volume in volumes:
                if not volume.gcs.remote_path:
                    continue
                bucket, prefix, mount = self._split(volume)
                if not mount.exists():
                    continue
                target = self.client().bucket(bucket)
                for path in mount.rglob("*"):
                    if not path.is_file() or self._seen.get(str(path)) == self._stamp(path):
                        continue
                    rel = str(path.relative_to(mount))
                    target.blob(f"{prefix}/{rel}" if prefix else rel).upload_from_filename(str(path))
                    self._seen[str(path)] = self._stamp(path)

    @staticmethod
    def _stamp(path: Path) -> tuple[int, int]:
        st = path.stat()
        return st.st_size, st.st_mtime_ns
