"""A gs:// work directory on the GCS emulator: requests per job and wall time against a local workdir.

    eval "$(tests/services/storage.sh start)"      # fake-gcs-server on 127.0.0.1:4443, logging requests
    python benchmarks/bench_cloud.py [--jobs 200]

Requests are counted in the emulator's request log (PW_STORAGE_LOG_DIR/gcs.log), so every request of
the driver and of the jobs' stage runners counts.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

PIPELINE = """
from pipework import Pipeline, Proc

class Echo(Proc):
    input = "i"
    input_data = list(range({n}))
    output = "f:file:{{{{in.i}}}}.txt"
    script = "echo {{{{in.i}}}} > {{{{out.f}}}}"

class Double(Proc):
    requires = Echo
    input = "f:file"
    output = "g:file:{{{{in.f | stem}}}}.double"
    script = "echo $(( $(cat {{{{in.f}}}}) * 2 )) > {{{{out.g}}}}"

class Sum(Proc):
    requires = Double
    input = "gs:files"
    input_data = lambda ch: [[ch.column("g")]]
    output = "total:file:total.txt"
    script = "cat {{{{in.gs | quote}}}} | awk '{{s += $1}} END {{print s}}' > {{{{out.total}}}}"

class P(Pipeline):
    starts = Echo
    workdir = "{workdir}"
    outdir = "{outdir}"
    forks = 8

if __name__ == "__main__":
    P.main()
"""


def requests() -> int:
    log = Path(os.environ.get("PW_STORAGE_LOG_DIR", "/tmp/pw-services/storage"), "gcs.log")
    return log.read_text(errors="replace").count(" HTTP/1.1") if log.exists() else -1


def timed_run(cwd: Path) -> tuple[float, int]:
    before = requests()
    start = time.perf_counter()
    subprocess.run([sys.executable, "pipeline.py", "-q"], cwd=cwd, check=True)
    return time.perf_counter() - start, requests() - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=200)
    args = ap.parse_args()
    if not os.environ.get("STORAGE_EMULATOR_HOST"):
        raise SystemExit('start the emulator first: eval "$(tests/services/storage.sh start)"')
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    bucket = f"pw-bench-{uuid.uuid4().hex[:8]}"
    storage.Client(
        client_options={"api_endpoint": os.environ["STORAGE_EMULATOR_HOST"]},
        credentials=AnonymousCredentials(),
        project="bench",
    ).create_bucket(bucket)
    n = args.jobs
    jobs = 2 * n + 1
    with tempfile.TemporaryDirectory(prefix="pw-bench-cloud-") as tmp:
        local, cloud = Path(tmp, "local"), Path(tmp, "cloud")
        local.mkdir()
        cloud.mkdir()
        (local / "pipeline.py").write_text(PIPELINE.format(n=n, workdir="./wd", outdir="./out"))
        (cloud / "pipeline.py").write_text(
            PIPELINE.format(n=n, workdir=f"gs://{bucket}/work", outdir=f"gs://{bucket}/out")
        )
        local_first, _ = timed_run(local)
        local_cached, _ = timed_run(local)
        cloud_first, first_requests = timed_run(cloud)
        cloud_cached, cached_requests = timed_run(cloud)
    print(f"3 processes, {jobs} jobs ({n} + {n} + 1), forks 8, GCS emulator\n")
    print("| run | local workdir | gs:// workdir | ratio | requests | requests per job |")
    print("|---|---|---|---|---|---|")
    print(
        f"| first | {local_first:.1f} s | {cloud_first:.1f} s | {cloud_first / local_first:.2f}x | "
        f"{first_requests} | {first_requests / jobs:.1f} |"
    )
    print(
        f"| fully cached | {local_cached:.2f} s | {cloud_cached:.2f} s | "
        f"{cloud_cached / local_cached:.2f}x | {cached_requests} | {cached_requests / jobs:.2f} |"
    )
    print("\ntargets: first run <= 3x local; a cached rerun makes O(processes) requests, not O(jobs)")


if __name__ == "__main__":
    main()
