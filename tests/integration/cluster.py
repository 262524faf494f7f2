"""Shared scenarios for the cluster schedulers (run against the real SLURM and SGE services)."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

PIPELINE = """
from pipework import Pipeline, Proc

class Split(Proc):
    input = "n"
    input_data = list(range(6))
    output = "part:file:part{{{{in.n}}}}.txt"
    resources = {{"cpus": 1, "mem": "200M", "time": "10m"}}
    script = "echo $(( {{{{in.n}}}} * {{{{in.n}}}} )) > {{{{out.part}}}}; hostname > host.txt"

class Sum(Proc):
    requires = Split
    input = "parts:files"
    input_data = lambda ch: [[ch.column("part")]]
    output = "total:file:total.txt"
    script = "cat {{{{in.parts | quote}}}} | awk '{{s+=$1}} END {{print s}}' > {{{{out.total}}}}"

class Cluster(Pipeline):
    starts = Split
    scheduler = "{scheduler}"
    workdir = "./wd"
    outdir = "./out"
    forks = 4

if __name__ == "__main__":
    Cluster.main()
"""


def write_pipeline(scheduler: str, body: str | None = None) -> Path:
    path = Path("pipeline.py")
    path.write_text(body if body is not None else PIPELINE.format(scheduler=scheduler))
    return path


def run_driver(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "pipeline.py", *args], capture_output=True, text=True, timeout=timeout
    )


def wait_for(predicate, timeout: float = 120.0, step: float = 0.2) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return False


def kill_driver_hard(proc: subprocess.Popen[str]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait()
