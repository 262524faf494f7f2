"""``s3://`` URLs through boto3 (AWS, or any S3 server at ``AWS_ENDPOINT_URL``)."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import boto3  # type: ignore[import-untyped]

from ..errors import StorageError
from .base import (
    ONE_SHOT,
    CloudBackend,
    Stat,
    download_to,
    is_not_found,
    is_precondition_failed,
    prefix_of,
    split_url,
)


@dataclass(frozen=True)
class _Clients:
    session: Any
    client: Any
    endpoint: str | None


class S3Backend(CloudBackend):
    """Objects of S3 buckets. Reads the ``AWS_*`` variables of boto3 (keys, profile, region, endpoint)."""

    env_keys = (
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ENDPOINT_URL",
    )

    def make_client(self, env: Mapping[str, str | None]) -> _Clients:
        """A boto3 session and S3 client: keys when given (they win over a profile, as in boto3)."""
        if env["AWS_ACCESS_KEY_ID"]:
            auth: dict[str, Any] = {
                "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
                "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
                "aws_session_token": env["AWS_SESSION_TOKEN"],
            }
        else:
            auth = {"profile_name": env["AWS_PROFILE"]}
        session = boto3.session.Session(region_name=env["AWS_REGION"] or env["AWS_DEFAULT_REGION"], **auth)
        endpoint = env["AWS_ENDPOINT_URL_S3"] or env["AWS_ENDPOINT_URL"] or None
        return _Clients(session, session.client("s3", endpoint_url=endpoint), endpoint)

    def wrap_client(self, client: _Clients, cache_dir: str | None) -> Any:
        """A cloudpathlib ``S3Client`` on the same session and endpoint."""
        from cloudpathlib import S3Client

        return S3Client(boto3_session=client.session, endpoint_url=client.endpoint, local_cache_dir=cache_dir)

    def _s3(self) -> Any:
        return self.client().client

    def head(self, url: str) -> Stat | None:
        """``HeadObject``: size and mtime, or None."""
        _, bucket, key = split_url(url)
        try:
            head = self._s3().head_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if is_not_found(exc) or "404" in str(exc):
                return None
            raise
        return int(head["ContentLength"]), head["LastModified"].timestamp()

    def get(self, url: str) -> bytes:
        """``GetObject``."""
        _, bucket, key = split_url(url)
        try:
            return bytes(self._s3().get_object(Bucket=bucket, Key=key)["Body"].read())
        except Exception as exc:
            if is_not_found(exc):
                raise FileNotFoundError(url) from exc
            raise

    def put(self, url: str, data: bytes) -> None:
        """``PutObject``."""
        _, bucket, key = split_url(url)
        self._s3().put_object(Bucket=bucket, Key=key, Body=data)

    def delete(self, url: str) -> None:
        """``DeleteObject`` (S3 answers a missing key with success)."""
        _, bucket, key = split_url(url)
        try:
            self._s3().delete_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if not is_not_found(exc):
                raise

    def create(self, url: str, data: bytes) -> str | None:
        """``PutObject`` with ``If-None-Match: *``; the ETag, or None when the key exists."""
        _, bucket, key = split_url(url)
        try:
            return str(self._s3().put_object(Bucket=bucket, Key=key, Body=data, IfNoneMatch="*")["ETag"])
        except Exception as exc:
            if is_precondition_failed(exc):
                return None
            raise

    def get_with_token(self, url: str) -> tuple[bytes, str]:
        """``GetObject``: the content and its ETag."""
        _, bucket, key = split_url(url)
        try:
            answer = self._s3().get_object(Bucket=bucket, Key=key)
        except Exception as exc:
            if is_not_found(exc):
                raise FileNotFoundError(url) from exc
            raise
        return bytes(answer["Body"].read()), str(answer["ETag"])

    def delete_if(self, url: str, token: str) -> bool:
        """``DeleteObject`` with ``If-Match`` the ETag."""
        _, bucket, key = split_url(url)
        try:
            self._s3().delete_object(Bucket=bucket, Key=key, IfMatch=token)
        except Exception as exc:
            if is_precondition_failed(exc) or is_not_found(exc):
                return False
            raise
        return True

    def list(self, url: str) -> dict[str, Stat]:
        """``ListObjectsV2``, paged."""
        _, bucket, key = split_url(url)
        pages = self._s3().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix_of(key))
        return {
            f"s3://{bucket}/{obj['Key']}": (int(obj["Size"]), obj["LastModified"].timestamp())
            for page in pages
            for obj in page.get("Contents", [])
        }

    def upload(self, src: str, url: str) -> None:
        """One ``PutObject`` with ``Content-MD5`` for a small file; a multipart upload and a
        ``HeadObject`` size check for a large one."""
        _, bucket, key = split_url(url)
        s3 = self._s3()
        size = os.path.getsize(src)
        if size <= ONE_SHOT:
            with open(src, "rb") as fh:
                data = fh.read()
            digest = base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()
            s3.put_object(Bucket=bucket, Key=key, Body=data, ContentMD5=digest)
            return
        s3.upload_file(src, bucket, key)
        got = int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
        if got != size:
            raise StorageError(f"upload of {src!r} to {url!r} stored {got} bytes, expected {size}")

    def download(self, url: str, dest: str) -> None:
        """boto3's managed download to a temporary sibling of ``dest``, renamed into place."""
        _, bucket, key = split_url(url)
        download_to(url, dest, lambda tmp: self._s3().download_file(bucket, key, tmp))

    def copy(self, src: str, url: str) -> int:
        """boto3's managed copy (``CopyObject``, in parts above 5 GiB), then ``HeadObject`` of the copy."""
        _, src_bucket, src_key = split_url(src)
        _, bucket, key = split_url(url)
        s3 = self._s3()
        s3.copy({"Bucket": src_bucket, "Key": src_key}, bucket, key)
        return int(s3.head_object(Bucket=bucket, Key=key)["ContentLength"])
