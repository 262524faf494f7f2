"""Engine overhead on the local scheduler, each row measured beside its baseline in the same run.

    python benchmarks/bench_local.py            # full (about 1-2 minutes)
    python benchmarks/bench_local.py --quick    # smaller workloads (seconds)
    python benchmarks/bench_local.py --dir /dev/shm   # run the workloads on another filesystem
    python benchmarks/bench_local.py --dir /dev/shm --jobs-w6 100000 --w6-only   # W6 (about 5 minutes)

Every workload is a generated pipeline file run as a real driver (``python pipeline.py -q``) in a
temporary directory, so the numbers include interpreter start-up, imports, file I/O and process spawns.
A job writes about ten files (script, wrapper, pid, stdout, stderr, rc, signature, output) where the
floor writes one, so a slow filesystem weighs on pipework's rows more than on the floor's: ext4 right
after mass deletions (the previous run's clean-up) allocates inodes slowly for a few minutes.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PY = sys.executable

W0 = """
import asyncio, os, sys
N, FORKS = int(sys.argv[1]), 8

async def main():
    sem = asyncio.Semaphore(FORKS)
    os.makedirs("w0", exist_ok=True)
    async def one(i):
        async with sem:
            proc = await asyncio.create_subprocess_exec("bash", "-c", f"echo {i} > w0/{i}.txt")
            await proc.wait()
    await asyncio.gather(*(one(i) for i in range(N)))

asyncio.run(main())
"""

ONE_PROC = """
from pipework import Pipeline, Proc

class Many(Proc):
    input = "i"
    input_data = list(range({n}))
    output = "o:file:o.txt"
    script = "echo {{{{in.i}}}} > {{{{out.o}}}}"
    export = False

class P(Pipeline):
    starts = Many
    forks = 8

if __name__ == "__main__":
    P.main()
"""

CHAIN = """
from pipework import Pipeline, Proc

class Step0(Proc):
    input = "i"
    input_data = list(range({n}))
    output = "o:file:o.txt"
    script = "echo {{{{in.i}}}} > {{{{out.o}}}}"
    export = False
{steps}

class P(Pipeline):
    starts = Step0
    forks = 8

if __name__ == "__main__":
    P.main()
"""

STEP = """
class Step{k}(Proc):
    requires = Step{prev}
    input = "f:file"
    output = "o:file:o.txt"
    script = "cat {{{{in.f}}}} > {{{{out.o}}}}"
    export = {export}
"""


#: W6: one output file per job, named after the job's input, exported (the default for a last process),
#: so the run goes through every per-job step of the data path: render, cache check, run, verify,
#: signature, export.
MANY_EXPORTED = """
from pipework import Pipeline, Proc

class Many(Proc):
    input = "i"
    input_data = list(range({n}))
    output = "o:file:{{{{in.i}}}}.txt"
    script = "echo {{{{in.i}}}} > {{{{out.o}}}}"

class P(Pipeline):
    starts = Many
    forks = 8

if __name__ == "__main__":
    P.main()
"""

#: Runs a pipeline file as ``__main__`` and writes, at exit, the peak RSS (KiB) and the CPU seconds of
#: this process alone: ``RUSAGE_SELF`` counts neither the jobs nor any other process, unlike
#: ``RUSAGE_CHILDREN``, which keeps the largest process the benchmark ever waited for.
PEAK_RSS = """
import atexit, resource, runpy, sys

def _write_peak(path=sys.argv[1]):
    use = resource.getrusage(resource.RUSAGE_SELF)
    with open(path, "w") as fh:
        fh.write(f"{use.ru_maxrss} {use.ru_utime + use.ru_stime}")

atexit.register(_write_peak)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


def chain(n_procs: int, n_jobs: int) -> str:
    steps = "".join(STEP.format(k=k, prev=k - 1, export=False) for k in range(1, n_procs))
    return CHAIN.format(n=n_jobs, steps=steps)


def timed(argv: list[str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KiB) of the largest process of a command."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(argv, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    return wall, max(before, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def driver(cwd: Path, *args: str) -> tuple[float, int, float]:
    """Wall seconds, the driver's own peak RSS (KiB) and its own CPU seconds of ``python pipeline.py -q
    <args>`` in ``cwd``."""
    (cwd / "_peak_rss.py").write_text(PEAK_RSS)
    wall, _ = timed([PY, "_peak_rss.py", "_peak_rss.txt", "pipeline.py", "-q", *args], cwd)
    rss, cpu = (cwd / "_peak_rss.txt").read_text().split()
    return wall, int(rss), float(cpu)


def fresh_dir(root: Path, name: str, pipeline: str) -> Path:
    d = root / name
    d.mkdir()
    (d / "pipeline.py").write_text(textwrap.dedent(pipeline))
    return d


def median_of(times: int, fn) -> float:  # type: ignore[no-untyped-def]
    return statistics.median(fn() for _ in range(times))


def import_time(repeat: int = 7) -> tuple[float, float, list[tuple[int, str]]]:
    def wall(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([PY, "-c", code], check=True)
        return time.perf_counter() - start

    bare = median_of(repeat, lambda: wall("pass"))
    full = median_of(repeat, lambda: wall("import pipework"))
    trace = subprocess.run([PY, "-X", "importtime", "-c", "import pipework"], capture_output=True, text=True)
    rows = []
    for line in trace.stderr.splitlines()[1:]:
        parts = line.split("|")
        if len(parts) == 3:
            rows.append((int(parts[1]), parts[2].rstrip()))
    top = sorted((r for r in rows if r[1].strip() != "pipework"), reverse=True)[:5]
    return full - bare, bare, top


def filesystem(path: str) -> str:
    """The type of the filesystem holding ``path`` (from /proc/mounts; "unknown" elsewhere)."""
    best, kind = "", "unknown"
    try:
        with open("/proc/mounts") as fh:
            for line in fh:
                _, mount, fstype, *_ = line.split()
                if os.path.realpath(path).startswith(mount) and len(mount) > len(best):
                    best, kind = mount, fstype
    except OSError:
        pass
    return kind


Row = tuple[str, str, str, str, str]


def w0_w1(root: Path, n1: int, repeat: int) -> tuple[list[Row], float]:
    """W0, W1 and W3; returns their rows and the median wall time of W1."""
    # W0 and W1 alternate, each in a fresh directory, and the medians are compared: a filesystem or
    # a neighbour that is slow for a few seconds then weighs on both, not on one
    w0s, w1s = [], []
    for k in range(repeat):
        w0s.append(timed([PY, "pipeline.py", str(n1)], fresh_dir(root, f"w0-{k}", W0))[0])
        w1dir = fresh_dir(root, f"w1-{k}", ONE_PROC.format(n=n1))
        w1s.append(timed([PY, "pipeline.py", "-q"], w1dir)[0])
    w0, w1 = statistics.median(w0s), statistics.median(w1s)
    per_job = (w1 - w0) / n1 * 1000
    w3, _ = timed([PY, "pipeline.py", "-q"], w1dir)
    rows = [
        (
            f"W0 floor: plain asyncio, {n1} bash commands, 8 at a time",
            f"{w0:.2f} s",
            "",
            f"median of {repeat}: " + ", ".join(f"{t:.2f}" for t in w0s),
            "baseline",
        ),
        (
            f"W1 one process x {n1} jobs, forks 8",
            f"{w1:.2f} s",
            f"{w1 / w0:.2f}x W0",
            f"{per_job:.2f} ms/job over W0; median of " + ", ".join(f"{t:.2f}" for t in w1s),
            "<= 1.5x W0; < 5 ms/job",
        ),
        (f"W3 fully cached rerun of W1 ({n1} jobs), whole driver", f"{w3:.2f} s", "", "", "<= 1 s"),
    ]
    return rows, w1


def chains_and_rss(root: Path, n2: int, n5: int) -> list[Row]:
    """W2, W4 and W5."""
    w2, _ = timed([PY, "pipeline.py", "-q"], fresh_dir(root, "w2", chain(5, n2)))
    w2_floor, _ = timed([PY, "pipeline.py", str(5 * n2)], fresh_dir(root, "w2floor", W0))
    w4, _ = timed([PY, "pipeline.py", "-q"], fresh_dir(root, "w4", chain(50, 4)))
    w4_floor, _ = timed([PY, "pipeline.py", "4"], fresh_dir(root, "w4floor", W0))
    step = (w4 - w4_floor) / 50 * 1000
    w5, rss, _ = driver(fresh_dir(root, "w5", ONE_PROC.format(n=n5)))
    return [
        (
            f"W2 5-process chain x {n2} jobs",
            f"{w2:.2f} s",
            f"{w2 / w2_floor:.2f}x floor",
            f"floor {w2_floor:.2f} s ({5 * n2} commands)",
            "",
        ),
        (
            "W4 50-process chain x 4 jobs",
            f"{w4:.2f} s",
            f"{step:.0f} ms per process step",
            "no fixed sleeps between steps",
            "steps << 1 s",
        ),
        (
            f"W5 one process x {n5} jobs: driver peak RSS",
            f"{rss / 1024:.0f} MB",
            f"wall {w5:.1f} s",
            f"{(w5 / n5) * 1000:.2f} ms/job",
            "< 300 MB",
        ),
    ]


def w6(root: Path, n6: int, n1: int, w1: float) -> list[Row]:
    """W6: one process of ``n6`` exported jobs, first run and cached rerun, beside W1 per job.

    Per-job times are whole-driver wall time over the number of jobs, for W6 and for W1 alike; the
    same pipeline at W1's size is run too, to tell the export's share from what grows with the jobs.
    """
    small, _, cpu_small = driver(fresh_dir(root, "w6-small", MANY_EXPORTED.format(n=n1)))
    w6dir = fresh_dir(root, "w6", MANY_EXPORTED.format(n=n6))
    first, rss_first, cpu_first = driver(w6dir)
    rerun, rss_rerun, cpu_rerun = driver(w6dir)
    ms6, ms1, ms_small = first / n6 * 1000, w1 / n1 * 1000, small / n1 * 1000
    return [
        (
            f"W6 one process x {n6} exported jobs, forks 8: first run",
            f"{first:.1f} s",
            f"{ms6:.2f} ms/job = {ms6 / ms1:.2f}x W1's {ms1:.2f}",
            f"same pipeline at {n1} jobs: {ms_small:.2f} ms/job ({ms6 / ms_small:.2f}x); driver CPU "
            f"{cpu_first / n6 * 1000:.2f} ms/job (at {n1}: {cpu_small / n1 * 1000:.2f})",
            "<= 1.2x W1 per job",
        ),
        (
            "W6 driver peak RSS (the driver alone), first run",
            f"{rss_first / 1024:.0f} MB",
            "",
            f"cached rerun {rss_rerun / 1024:.0f} MB",
            "<= 300 MB",
        ),
        (
            f"W6 fully cached rerun ({n6} jobs), whole driver",
            f"{rerun:.2f} s",
            "",
            f"driver CPU {cpu_rerun:.2f} s",
            "<= 5 s",
        ),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="smaller workloads")
    ap.add_argument("--repeat", type=int, default=3, help="runs of W0 and W1 (medians compared)")
    ap.add_argument("--dir", default=None, help="where the temporary workloads go (default: $TMPDIR)")
    ap.add_argument("--jobs-w6", type=int, default=0, metavar="N", help="run W6 with N jobs (default: skip)")
    ap.add_argument("--w6-only", action="store_true", help="only W0, W1, W3 and W6 (100,000 jobs by default)")
    args = ap.parse_args()
    n1 = 200 if args.quick else 1000
    n2 = 50 if args.quick else 200
    n5 = 2000 if args.quick else 10000
    n6 = args.jobs_w6 or (100_000 if args.w6_only else 0)

    with tempfile.TemporaryDirectory(prefix="pw-bench-", dir=args.dir) as tmp:
        root = Path(tmp)
        print(f"workloads in {tmp} ({filesystem(tmp)})\n")
        # a run store of the benchmark's own: the user's keeps no benchmark runs, and every run of
        # the benchmark starts from the same (empty) store
        os.environ.setdefault("PIPEWORK_STORE", str(root / "runs.sqlite"))
        rows, w1 = w0_w1(root, n1, args.repeat)
        if not args.w6_only:
            rows += chains_and_rss(root, n2, n5)
        if n6:
            rows += w6(root, n6, n1, w1)
    top: list[tuple[int, str]] = []
    if not args.w6_only:
        imp, bare, top = import_time()
        rows.append(
            (
                "import pipework (minus bare interpreter start)",
                f"{imp:.3f} s",
                f"bare python {bare:.3f} s",
                "",
                "< 0.3 s",
            )
        )

    print("| workload | pipework | vs baseline | detail | target |")
    print("|---|---|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    if top:
        print("\nheaviest imports under pipework (self+children, us):")
        for us, name in top:
            print(f"  {us:>8}  {name.strip()}")


if __name__ == "__main__":
    main()
