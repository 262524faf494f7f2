"""A gs:// work directory on the GCS emulator: requests per job and wall time against a local workdir.

    eval "$(tests/services/storage.sh start)"      # fake-gcs-server on 127.0.0.1:4443, logging requests
    python benchmarks/bench_cloud.py [--jobs 200] [--repeat 3] [--dir /dev/shm]

Requests are counted in the emulator's request log (PW_STORAGE_LOG_DIR/gcs.log), so every request of
the driver and of the jobs' stage runners counts.
"""

from __future__ import annotations

import argparse
import os
import statistics
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


def timed_run(cwd: Path, stage: Path) -> tuple[float, int]:
    before = requests()
    start = time.perf_counter()
    env = {**os.environ, "PIPEWORK_STAGE_DIR": str(stage)}  # on the same filesystem as the local run
    subprocess.run([sys.executable, "pipeline.py", "-q"], cwd=cwd, check=True, env=env)
    return time.perf_counter() - start, requests() - before


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3, help="first runs of each (medians compared)")
    ap.add_argument(
        "--dir", default=None, help="where the local workdir and stage dirs go (default: $TMPDIR)"
    )
    args = ap.parse_args()
    if not os.environ.get("STORAGE_EMULATOR_HOST"):
        raise SystemExit('start the emulator first: eval "$(tests/services/storage.sh start)"')
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        client_options={"api_endpoint": os.environ["STORAGE_EMULATOR_HOST"]},
        credentials=AnonymousCredentials(),
        project="bench",
    )
    n = args.jobs
    jobs = 2 * n + 1
    local_firsts, cloud_firsts, first_requests = [], [], 0
    with tempfile.TemporaryDirectory(prefix="pw-bench-cloud-", dir=args.dir) as tmp:
        for k in range(args.repeat):
            # local and cloud alternate, each on a fresh directory and bucket
            bucket = f"pw-bench-{uuid.uuid4().hex[:8]}"
            client.create_bucket(bucket)
            local, cloud = Path(tmp, f"local-{k}"), Path(tmp, f"cloud-{k}")
            local.mkdir()
            cloud.mkdir()
            (local / "pipeline.py").write_text(PIPELINE.format(n=n, workdir="./wd", outdir="./out"))
            (cloud / "pipeline.py").write_text(
                PIPELINE.format(n=n, workdir=f"gs://{bucket}/work", outdir=f"gs://{bucket}/out")
            )
            local_firsts.append(timed_run(local, Path(tmp, "stage"))[0])
            wall, first_requests = timed_run(cloud, Path(tmp, "stage"))
            cloud_firsts.append(wall)
        local_cached, _ = timed_run(local, Path(tmp, "stage"))
        cloud_cached, cached_requests = timed_run(cloud, Path(tmp, "stage"))
    local_first, cloud_first = statistics.median(local_firsts), statistics.median(cloud_firsts)
    print(
        f"3 processes, {jobs} jobs ({n} + {n} + 1), forks 8, GCS emulator; median of {args.repeat} first runs"
    )
    print("  local: " + ", ".join(f"{t:.2f}" for t in local_firsts) + " s")
    print("  gs://: " + ", ".join(f"{t:.2f}" for t in cloud_firsts) + " s\n")
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
