"""The run store's cost: W1 (one process x 1,000 jobs, local) without a store, with the default SQLite
store and with PostgreSQL, each row measured beside the others in the same run; and the rows stored
per job.

    python benchmarks/bench_store.py                 # SQLite vs none (about a minute)
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
import os
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--jobs", type=int, default=1000, help="jobs of W1")
    ap.add_argument("--repeat", type=int, default=5, help="runs of each variant (medians compared)")
    ap.add_argument("--dir", default=None, help="where the workloads go (default: $TMPDIR)")
    ap.add_argument("--pg", default=os.environ.get("PIPEWORK_TEST_PG_URL"), help="a PostgreSQL URL to add")
    args = ap.parse_args()
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
    print("\nall runs (wall s / CPU s): " + "; ".join(
        f"{name}: " + ", ".join(f"{w:.2f}/{c:.2f}" for w, c in runs) for name, runs in times.items()
    ))  # fmt: skip


if __name__ == "__main__":
    main()
