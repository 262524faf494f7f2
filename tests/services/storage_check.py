"""Exercise cloudpathlib against the emulators of storage.sh (and seaweedfs.sh if SEAWEEDFS_S3_ENDPOINT=url).
Run: eval "$(tests/services/storage.sh start)"; $PW_STORAGE_VENV/bin/python tests/services/storage_check.py
"""

import os
import sys
import tempfile
import time
import uuid
from pathlib import Path

import boto3
from azure.storage.blob import BlobServiceClient
from cloudpathlib import AzureBlobClient, GSClient, S3Client
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage

bucket = "pw-" + uuid.uuid4().hex[:8]
results = []


# --- explicit clients: how each cloudpathlib client is pointed at its emulator ------------------
def s3_client(endpoint):
    boto3.client("s3", endpoint_url=endpoint).create_bucket(Bucket=bucket)
    return S3Client(endpoint_url=endpoint)  # keys/region come from AWS_* env vars


def gs_client():
    api = os.environ["STORAGE_EMULATOR_HOST"]
    sc = storage.Client(
        client_options={"api_endpoint": api}, credentials=AnonymousCredentials(), project="test"
    )
    sc.create_bucket(bucket)
    return GSClient(storage_client=sc)


def az_client():
    cs = os.environ["AZURE_STORAGE_CONNECTION_STRING"]
    BlobServiceClient.from_connection_string(cs).create_container(bucket)
    return AzureBlobClient(connection_string=cs)


def exercise(name, root):
    t0 = time.time()
    p = root / "dir" / "hello.txt"
    p.write_text("hello " + name)
    assert p.read_text() == "hello " + name
    (root / "dir" / "big.bin").write_bytes(os.urandom(10 * 1024 * 1024))  # multipart / resumable path
    assert len((root / "dir" / "big.bin").read_bytes()) == 10 * 1024 * 1024
    assert sorted(x.name for x in (root / "dir").iterdir()) == ["big.bin", "hello.txt"]
    assert [x.name for x in root.glob("dir/*.txt")] == ["hello.txt"]
    mtime = p.stat().st_mtime
    assert abs(mtime - time.time()) < 600, mtime
    with tempfile.TemporaryDirectory() as d:
        src = Path(d, "src")
        (src / "sub").mkdir(parents=True)
        (src / "a.txt").write_text("a")
        (src / "sub" / "b.txt").write_text("b")
        up = root / "up"
        up.upload_from(src)
        assert sorted(str(x.relative_to(up)) for x in up.rglob("*") if x.is_file()) == ["a.txt", "sub/b.txt"]
        dst = Path(d, "dst")
        up.download_to(dst)
        assert (dst / "sub" / "b.txt").read_text() == "b"
    (root / "dir").rmtree()
    up.rmtree()
    assert not list((root / "dir").rglob("*.*")), "files left after rmtree"
    left = [x.name for x in root.iterdir()]  # SeaweedFS keeps emptied "folders" as prefixes
    results.append(
        f"{name}: OK ({time.time() - t0:.1f} s, st_mtime={mtime:.0f}"
        + (f", empty prefixes left after rmtree: {left})" if left else ")")
    )


def env_only(name, make):
    """Do the plain env vars alone suffice (client built with no arguments)?"""
    try:
        root = make()
        (root / "envonly.txt").write_text("x")
        assert (root / "envonly.txt").read_text() == "x"
        (root / "envonly.txt").unlink()
        results.append(f"{name} env-only client: works")
    except Exception as e:  # report, don't fail
        results.append(f"{name} env-only client: FAILS ({type(e).__name__}: {str(e)[:150]})")


which = sys.argv[1:] or ["s3", "gs", "az"]
if "s3" in which:
    exercise("s3(moto)", s3_client(os.environ["AWS_ENDPOINT_URL"]).CloudPath(f"s3://{bucket}"))
    env_only("s3", lambda: S3Client().CloudPath(f"s3://{bucket}"))
if "gs" in which:
    exercise("gs(fake-gcs)", gs_client().CloudPath(f"gs://{bucket}"))
    env_only("gs", lambda: GSClient().CloudPath(f"gs://{bucket}"))
if "az" in which:
    exercise("az(azurite)", az_client().CloudPath(f"az://{bucket}"))
    env_only("az", lambda: AzureBlobClient().CloudPath(f"az://{bucket}"))
if "seaweed" in which:
    exercise("s3(seaweedfs)", s3_client(os.environ["SEAWEEDFS_S3_ENDPOINT"]).CloudPath(f"s3://{bucket}"))
print("\n".join(results))
