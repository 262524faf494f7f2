"""Cluster schedulers: pipework vs the same jobs submitted directly as one array, with call counts.

    eval "$(tests/services/slurm.sh start)"; eval "$(tests/services/sge.sh start)"
    python benchmarks/bench_cluster.py [--jobs 500] [--only slurm|sge]

A PATH shim in front of sbatch/squeue/scancel/qsub/qstat/qdel counts every call pipework makes. The
direct baseline submits one array with the tool itself and waits with the same tool, polling every 0.5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

TOOLS = {"slurm": ("sbatch", "squeue", "scancel"), "sge": ("qsub", "qstat", "qdel")}

PIPELINE = """
from pipework import Pipeline, Proc

class Tiny(Proc):
    input = "i"
    input_data = list(range({n}))
    output = "o:file:o.txt"
    script = "echo {{{{in.i}}}} > {{{{out.o}}}}"
    export = False

class P(Pipeline):
    starts = Tiny
    scheduler = "{scheduler}"
    forks = {n}

if __name__ == "__main__":
    P.main()
"""


def make_shim(root: Path, tools: tuple[str, ...]) -> tuple[Path, Path]:
    """A directory of wrappers that log each call to a file, then run the real tool."""
    shim, log = root / "shim", root / "calls.log"
    shim.mkdir()
    for tool in tools:
        real = shutil.which(tool)
        if real is None:
            raise SystemExit(f"{tool} not found: start the service first (tests/services/)")
        path = shim / tool
        path.write_text(f'#!/bin/sh\necho "{tool} $(date +%s.%N)" >> {log}\nexec {real} "$@"\n')
        path.chmod(path.stat().st_mode | stat.S_IEXEC)
    return shim, log


def direct(scheduler: str, n: int, work: Path) -> float:
    """Submit n tiny jobs as one array with the tool itself and wait for the queue to empty."""
    work.mkdir()
    script = work / "task.sh"
    env_id = "SLURM_ARRAY_TASK_ID" if scheduler == "slurm" else "SGE_TASK_ID"
    script.write_text(f"#!/bin/bash\necho ${env_id} > {work}/out.${env_id}\n")
    start = time.perf_counter()
    if scheduler == "slurm":
        jid = subprocess.run(
            ["sbatch", "--parsable", "--job-name=direct-bench", f"--array=0-{n - 1}", "--output=/dev/null",
             f"--chdir={work}", str(script)],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        while subprocess.run(
            ["squeue", "--noheader", "-j", jid], capture_output=True, text=True
        ).stdout.strip():
            time.sleep(0.5)
    else:
        subprocess.run(
            ["qsub", "-terse", "-N", "direct-bench", "-t", f"1-{n}", "-o", "/dev/null", "-e", "/dev/null",
             "-S", "/bin/bash", "-wd", str(work), str(script)],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        while "direct-be" in subprocess.run(["qstat"], capture_output=True, text=True).stdout:
            time.sleep(0.5)
    wall = time.perf_counter() - start
    done = len(list(work.glob("out.*")))
    if done != n:
        raise SystemExit(f"direct {scheduler}: {done} of {n} outputs")
    return wall


def through_pipework(scheduler: str, n: int, work: Path) -> tuple[float, dict[str, int]]:
    work.mkdir()
    (work / "pipeline.py").write_text(textwrap.dedent(PIPELINE.format(n=n, scheduler=scheduler)))
    shim, log = make_shim(work, TOOLS[scheduler])
    env = {**os.environ, "PATH": f"{shim}:{os.environ['PATH']}"}
    start = time.perf_counter()
    subprocess.run([sys.executable, "pipeline.py", "-q"], cwd=work, env=env, check=True)
    wall = time.perf_counter() - start
    counts = {tool: 0 for tool in TOOLS[scheduler]}
    for line in log.read_text().splitlines():
        counts[line.split()[0]] += 1
    return wall, counts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=500)
    ap.add_argument("--only", choices=sorted(TOOLS))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pw-bench-cluster-", dir=os.environ.get("TMPDIR", "/tmp")) as tmp:
        root = Path(tmp)
        for scheduler in [args.only] if args.only else sorted(TOOLS):
            if shutil.which(TOOLS[scheduler][0]) is None:
                print(f"skipping {scheduler}: {TOOLS[scheduler][0]} not on PATH", file=sys.stderr)
                continue
            base = direct(scheduler, args.jobs, root / f"{scheduler}-direct")
            wall, counts = through_pipework(scheduler, args.jobs, root / f"{scheduler}-pw")
            submit, status, kill = TOOLS[scheduler]
            per_min = counts[status] / (wall / 60)
            rows.append(
                f"| {scheduler} | {args.jobs} | {base:.1f} s | {wall:.1f} s | {wall / base:.2f}x | "
                f"{counts[submit]} | {counts[status]} ({per_min:.0f}/min) | {counts[kill]} |"
            )
    print(f"| scheduler | jobs | direct array | pipework | ratio | {'/'.join(t[0] for t in TOOLS.values())} "
          "calls | status queries | cancel calls |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|")
    print("\n".join(rows))
    print("\ntargets: ratio <= 1.3x; status queries per minute independent of the number of jobs")


if __name__ == "__main__":
    main()
