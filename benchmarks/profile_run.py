"""Where a large run's time and memory go: the W6 pipeline run in-process under one of four probes.

    python benchmarks/profile_run.py --jobs 100000 --dir /dev/shm probe     # wall, CPU, peak RSS, GC
    python benchmarks/profile_run.py --jobs 100000 --dir /dev/shm stages    # time of each step
    python benchmarks/profile_run.py --jobs 20000 --dir /dev/shm memory     # tracemalloc, top lines
    python benchmarks/profile_run.py --jobs 100000 --keep /dev/shm/w6 --runs 1 probe       # first run, kept
    py-spy record --subprocesses -r 100 -f raw -o rerun.txt -- \
        python benchmarks/profile_run.py --jobs 100000 --keep /dev/shm/w6 --runs 1 probe   # its rerun

Each probe runs the same pipeline twice in one fresh directory, a first run and a fully cached rerun
(``--runs`` changes that; ``--keep DIR`` runs in DIR and keeps it, so a later call finds it cached),
each run a driver process of its own, with a run store of its own. ``stages``
times the once-per-process steps of the data path (each handles all of a process's jobs at once) and,
with ``--per-job``, the per-job calls inside them (a wrapper costs ~0.3 us per call, so their totals
read high by that much). ``memory`` keeps the snapshot taken when traced memory was highest and
prints the lines that allocated most of it: divide by ``--jobs`` for what each job holds. Dict and
list objects are reused through free lists, so tracemalloc may charge them to the line that first
allocated the memory (jinja2's render, say) rather than to the one holding them now.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from bench_local import MANY_EXPORTED  # noqa: E402 - the W6 pipeline, one definition

#: Prepended to the pipeline file: the probe, set up before pipework is imported.
PROBES = {
    "probe": """
import atexit, gc, resource, sys, time
_t0, _gc = time.perf_counter(), [0.0, 0, 0.0]
def _gc_cb(phase, info):
    if phase == "start":
        _gc[2] = time.perf_counter()
    else:
        _gc[0] += time.perf_counter() - _gc[2]
        _gc[1] += info["generation"] == 2
gc.callbacks.append(_gc_cb)
def _report():
    use = resource.getrusage(resource.RUSAGE_SELF)
    print(f"wall {time.perf_counter() - _t0:.2f} s, driver CPU {use.ru_utime + use.ru_stime:.2f} s, "
          f"peak RSS {use.ru_maxrss / 1024:.0f} MB, GC {_gc[0]:.2f} s ({_gc[1]} full collections)",
          file=sys.stderr)
atexit.register(_report)
""",
    "stages": """
import atexit, collections, functools, importlib, inspect, os, sys, time
_acc = collections.defaultdict(float)
def _wrap(module, attr):
    owner_name, _, name = attr.rpartition(".")
    try:
        owner = importlib.import_module("pipework." + module)
        for part in filter(None, owner_name.split(".")):
            owner = getattr(owner, part)
        fn = getattr(owner, name)
    except (ImportError, AttributeError):
        return  # renamed since: skip it
    label = f"{module}.{attr}"
    if inspect.iscoroutinefunction(fn):
        async def timed(*a, **k):
            t = time.perf_counter()
            try:
                return await fn(*a, **k)
            finally:
                _acc[label] += time.perf_counter() - t
    else:
        def timed(*a, **k):
            t = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                _acc[label] += time.perf_counter() - t
    setattr(owner, name, functools.wraps(fn)(timed))
for _m, _a in [("runner", "ProcRunner.execute"), ("job", "JobBuilder.make_jobs"), ("export", "targets"),
               ("jobdir", "prepare"), ("cache", "check"), ("jobdir", "clean"), ("jobdir", "finish"),
               ("export", "export"), ("runner", "ProcRunner._record"), ("store", "RunStore.record_proc")]:
    _wrap(_m, _a)
if os.environ.get("PW_PER_JOB"):
    for _m, _a in [("signature", "make"), ("signature", "read"), ("signature", "compare"),
                   ("signature", "missing_outputs"), ("cache", "_read_rc"),
                   ("template", "CompiledTemplate.render"), ("wrapper", "render_wrapper")]:
        _wrap(_m, _a)
_t0 = time.perf_counter()
def _report():
    print(f"wall {time.perf_counter() - _t0:.2f} s", file=sys.stderr)
    for label, seconds in sorted(_acc.items(), key=lambda kv: -kv[1]):
        print(f"  {seconds:8.3f} s  {label}", file=sys.stderr)
atexit.register(_report)
""",
    "memory": """
import atexit, linecache, sys, threading, time, tracemalloc
tracemalloc.start(1)
_best = {"size": 0, "snap": None}
def _watch():
    while True:
        time.sleep(2)
        size, _ = tracemalloc.get_traced_memory()
        if size > _best["size"] * 1.02:
            _best.update(size=size, snap=tracemalloc.take_snapshot())
threading.Thread(target=_watch, daemon=True).start()
def _report():
    print(f"traced peak {tracemalloc.get_traced_memory()[1] / 1e6:.1f} MB; "
          f"largest snapshot {_best['size'] / 1e6:.1f} MB", file=sys.stderr)
    if _best["snap"] is not None:
        for stat in _best["snap"].statistics("lineno")[:30]:
            frame = stat.traceback[0]
            line = linecache.getline(frame.filename, frame.lineno).strip()[:80]
            where = f"{frame.filename}:{frame.lineno}"
            print(f"  {stat.size / 1e6:8.2f} MB {stat.count:8d} blocks  {where}  {line}", file=sys.stderr)
atexit.register(_report)
""",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("probe", choices=sorted(PROBES))
    ap.add_argument("--jobs", type=int, default=20000, help="jobs of the one process (default 20000)")
    ap.add_argument("--dir", default=None, help="where the temporary workload goes (default: $TMPDIR)")
    ap.add_argument("--keep", default=None, metavar="DIR", help="run in DIR and keep it (a rerun is cached)")
    ap.add_argument("--runs", type=int, default=2, help="runs in the same directory: 1 first, then reruns")
    ap.add_argument("--per-job", action="store_true", help="stages: also time per-job calls")
    args = ap.parse_args()
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=True)
        run(Path(args.keep), args)
    else:
        with tempfile.TemporaryDirectory(prefix="pw-profile-", dir=args.dir) as tmp:
            run(Path(tmp), args)


def run(root: Path, args: argparse.Namespace) -> None:
    """Write the probed pipeline into ``root`` and run it ``args.runs`` times there."""
    pipeline = PROBES[args.probe] + textwrap.dedent(MANY_EXPORTED.format(n=args.jobs))
    (root / "pipeline.py").write_text(pipeline)
    env = {"PIPEWORK_STORE": str(root / "runs.sqlite"), **({"PW_PER_JOB": "1"} if args.per_job else {})}
    for _ in range(args.runs):
        cached = (root / ".pipework").exists()
        print(f"{'cached rerun' if cached else 'first run'} of {args.jobs} jobs:", file=sys.stderr)
        argv = [sys.executable, "pipeline.py", "-q"]
        subprocess.run(argv, cwd=root, check=True, env={**os.environ, **env})


if __name__ == "__main__":
    main()
