"""The run store's cost: W1 (one process x 1,000 jobs, local) without a store, with the default SQLite
store and with PostgreSQL, each row measured beside the others in the same run; the rows stored per
job; and ``pipework report`` on a 100,000-job run beside the time to write that run's rows.

    python benchmarks/bench_store.py                 # SQLite vs none (about a minute), then the report
    python benchmarks/bench_store.py --report-only --report-jobs 100000
    python benchmarks/bench_store.py --pg postgresql+psycopg://pipework:pipework@127.0.0.1:5433/pipework
    eval "$(tests/services/postgres.sh start)"; python benchmarks/bench_store.py   # PIPEWORK_TEST_PG_URL

Every run is a real driver (``python pipeline.py -q``) in a fresh directory; the variants alternate,
``--repeat`` times, and their medians are compared (a neighbour that is slow for a few seconds weighs
on all of them). The SQLite store and the PostgreSQL database are created before the timed runs, as a
user's already are; the first run on a new SQLite store also creates its schema (SQLAlchemy is then
imported once: shown on its own row). Wall time and the driver's own CPU time (``RUSAGE_SELF``) are
printed: on a shared machine the CPU time varies much less.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

PY = sys.executable

PIPELINE = """
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

#: Runs the pipeline and writes the driver's own CPU seconds at exit.
CPU = """
import atexit, resource, runpy, sys

def _write(path=sys.argv[1]):
    use = resource.getrusage(resource.RUSAGE_SELF)
    with open(path, "w") as fh:
        fh.write(str(use.ru_utime + use.ru_stime))

atexit.register(_write)
sys.argv = sys.argv[2:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

TABLES = ("jobs", "attempts", "artifacts", "consumers", "procs", "runs")


def driver(root: Path, name: str, n: int, store: str) -> tuple[float, float]:
    """Wall and driver CPU seconds of one first run of W1 in a fresh directory."""
    d = root / name
    d.mkdir()
    (d / "pipeline.py").write_text(textwrap.dedent(PIPELINE.format(n=n)))
    (d / "_cpu.py").write_text(CPU)
    env = {**os.environ, "PIPEWORK_STORE": store}
    start = time.perf_counter()
    subprocess.run([PY, "_cpu.py", "_cpu.txt", "pipeline.py", "-q"], cwd=d, env=env, check=True)
    return time.perf_counter() - start, float((d / "_cpu.txt").read_text())


def rows_per_job(store: str, n: int) -> str:
    """The rows the last run stored, per job, by table."""
    import sqlalchemy as sa

    from pipework.store import RunStore

    db = RunStore(store)
    run_id = db.runs(limit=1)[0].id
    counts = []
    with db.engine().connect() as conn:
        for table in TABLES:
            key = "id" if table == "runs" else "run_id"
            found = conn.execute(
                sa.text(f"SELECT count(*) FROM {table} WHERE {key} = :r"), {"r": run_id}
            ).scalar()
            counts.append(f"{table} {int(found or 0) / n:.3g}")
    db.close()
    return ", ".join(counts)


def synthetic_run(store: str, n: int, workdir: Path) -> tuple[int, float, float]:
    """Record a run of four processes and ``n`` jobs through the engine's recorder, as a real driver
    would (planned jobs, their attempts with measured times, CPU and memory; 1 % failed, 2 % retried),
    without running any job. Returns its id, the wall and the CPU seconds the recorder took to write it.
    """
    from pipework import Proc
    from pipework.errors import JobFailed
    from pipework.plan import builders_for, expand
    from pipework.state import JobState
    from pipework.store import Recorder, RunStore
    from pipework.store.usage import Usage

    sizes = {"Align": n * 4 // 10, "Sort": n * 4 // 10, "Call": n * 19 // 100}
    sizes["Merge"] = n - sum(sizes.values())
    classes: list[type[Proc]] = []
    for name, count in sizes.items():
        attrs = {
            "input": "i",
            "input_data": list(range(count)),
            "output": "o:file:o.txt",
            "script": "true",
            "export": False,
            "resources": {"cpus": 2, "mem": "2G", "time": "10m"},
            "__module__": __name__,
        }
        if classes:
            attrs["requires"] = classes[-1]
            attrs["input_data"] = list(range(count))
        classes.append(type(name, (Proc,), attrs))
    from pipework import Pipeline

    pipe = type(
        "Synthetic", (Pipeline,), {"starts": classes[0], "__module__": __name__, "workdir": str(workdir)}
    )()
    config = pipe.resolve_config()
    specs = pipe.specs(config, pipe.build_dag())
    builders = builders_for(specs, pipeline_dir=str(workdir / "Synthetic"), run_tag="bench")
    planned = expand(specs, builders, outdir=str(workdir / "out"))
    db = RunStore(store)
    run_id = db.start_run(
        pipeline="Synthetic",
        workdir=str(workdir / "Synthetic"),
        outdir=str(workdir / "out"),
        scheduler="slurm",
        project=os.getcwd(),
    )
    rng = random.Random(7)
    wall0, cpu0 = time.perf_counter(), time.process_time()
    recorder = Recorder(db.backend(), run_id, warn=print)
    recorder.start()
    recorder.procs_planned(list(specs.values()), {k: len(v.jobs) for k, v in planned.items()})
    clock = time.time()
    for k, (name, proc) in enumerate(planned.items()):
        jobs = proc.jobs
        recorder.proc_started(specs[name], jobs, {})
        for job in jobs:
            job.attempts, job.jid, job.state = 1, str(100000 + job.index), JobState.QUEUED
        recorder.submitted(jobs, queued=clock)
        for job in jobs:
            attempt = recorder._current[job]  # a benchmark: what a wrapper would have measured
            start = clock + rng.uniform(0, 600) + k * 600
            wall = rng.lognormvariate(3.5 + k / 2, 0.5)
            attempt.take(
                Usage(
                    start=start,
                    end=start + wall,
                    host=f"node{job.index % 64:02d}",
                    cpu=wall * rng.uniform(0.3, 1.9),
                    peak_rss=int(rng.lognormvariate(20 + k, 0.4)),
                )
            )
            failed = rng.random() < 0.01
            job.state, job.rc = (JobState.FAILED, 1) if failed else (JobState.DONE, 0)
            if failed:
                recorder.job_failed(job, JobFailed("failed with return code 1", proc=name, job=job.index))
            recorder.job_state(job, job.state)
        counts = {
            "done": sum(j.state is JobState.DONE for j in jobs),
            "failed": sum(j.state is JobState.FAILED for j in jobs),
        }
        recorder.proc_ended(name, state="done", seconds=600.0, counts=counts, njobs=len(jobs))
    recorder.close(state="failed")
    return run_id, time.perf_counter() - wall0, time.process_time() - cpu0


def bench_report(root: Path, n: int) -> None:
    """Time ``pipework report`` (a fresh process, as a user runs it) on an ``n``-job run; print a table."""
    store = str(root / "report.sqlite")
    run_id, write_wall, write_cpu = synthetic_run(store, n, root / "wd")
    out = root / "report.html"
    env = {**os.environ, "PIPEWORK_STORE": store}
    cpu = root / "_cpu_report.txt"
    (root / "_cpu.py").write_text(CPU)
    (root / "_pipework.py").write_text("from pipework.cli import main\nmain()\n")
    walls = []
    for _ in range(3):
        start = time.perf_counter()
        subprocess.run(
            [
                PY,
                str(root / "_cpu.py"),
                str(cpu),
                str(root / "_pipework.py"),
                "report",
                str(run_id),
                "-o",
                str(out),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        walls.append(time.perf_counter() - start)
    size = out.stat().st_size
    data = out.read_text()
    start = data.index('id="pw-data">') + len('id="pw-data">')
    embedded = len(data[start : data.index("</script>", start)].encode())
    jobs = len(json.loads(data[start : data.index("</script>", start)].replace("<\\/", "</"))["jobs"]["i"])
    print(f"\n`pipework report` on a run of {n:,} jobs (4 processes, SQLite; median of 3 fresh processes)\n")
    print("| step | wall | CPU | size | target |")
    print("|---|---|---|---|---|")
    print(
        f"| write the run's rows (the recorder: jobs, attempts, artifacts) | {write_wall:.2f} s | "
        f"{write_cpu:.2f} s | {Path(store).stat().st_size / 1e6:.1f} MB store | |"
    )
    print(
        f"| `pipework report` (whole command: start-up, queries, page) | {statistics.median(walls):.2f} s | "
        f"{float(cpu.read_text()):.2f} s | {size / 1e6:.1f} MB file ({embedded / 1e6:.1f} MB of it the jobs' "
        f"JSON, {jobs:,} jobs) | < 10 s, < 20 MB |"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000, help="jobs of W1")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each variant (medians compared)")
    ap.add_argument("--dir", default=None, help="where the workloads go (default: $TMPDIR)")
    ap.add_argument("--pg", default=os.environ.get("PIPEWORK_TEST_PG_URL"), help="a PostgreSQL URL to add")
    ap.add_argument(
        "--report-jobs", type=int, default=100_000, help="jobs of the run `pipework report` reads"
    )
    ap.add_argument("--report-only", action="store_true", help="only the report benchmark")
    args = ap.parse_args()
    if args.report_only:
        with tempfile.TemporaryDirectory(prefix="pw-bench-report-", dir=args.dir) as tmp:
            bench_report(Path(tmp), args.report_jobs)
        return
    n = args.jobs
    with tempfile.TemporaryDirectory(prefix="pw-bench-store-", dir=args.dir) as tmp:
        root = Path(tmp)
        sqlite = str(root / "runs.sqlite")
        variants = {"none": "none", "sqlite": sqlite}
        if args.pg:
            variants["postgresql"] = args.pg
        first = driver(root, "first", n, sqlite)  # creates the SQLite store: not part of the medians
        for store in variants.values():
            if "://" in store:
                driver(root, f"warm-{len(store)}", 10, store)  # creates the schema on the server
        times: dict[str, list[tuple[float, float]]] = {k: [] for k in variants}
        for k in range(args.repeat):
            for name, store in variants.items():
                times[name].append(driver(root, f"{name}-{k}", n, store))
        rows = {name: rows_per_job(store, n) for name, store in variants.items() if store != "none"}

    base_wall = statistics.median(w for w, _ in times["none"])
    base_cpu = statistics.median(c for _, c in times["none"])
    print(f"W1: one process x {n} jobs, forks 8, local; medians of {args.repeat} alternating runs\n")
    print("| store | wall | vs none | driver CPU | vs none | rows stored per job | target |")
    print("|---|---|---|---|---|---|---|")
    for name in variants:
        wall = statistics.median(w for w, _ in times[name])
        cpu = statistics.median(c for _, c in times[name])
        target = "baseline" if name == "none" else ("<= 5 % slower" if name == "sqlite" else "")
        print(
            f"| {name} | {wall:.2f} s | {100 * (wall / base_wall - 1):+.1f} % | {cpu:.2f} s | "
            f"{100 * (cpu / base_cpu - 1):+.1f} % | {rows.get(name, '-')} | {target} |"
        )
    print(
        f"| sqlite, first run on a new store (schema created) | {first[0]:.2f} s | | {first[1]:.2f} s | | | |"
    )
    print(
        "\nall runs (wall s / CPU s): "
        + "; ".join(
            f"{name}: " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs) for name, runs in times.items()
        )
    )
    with tempfile.TemporaryDirectory(prefix="pw-bench-report-", dir=args.dir) as tmp:
        bench_report(Path(tmp), args.report_jobs)


if __name__ == "__main__":
    main()
