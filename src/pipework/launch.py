"""The command line of one pipeline: ``python pipeline.py`` (``Pipeline.main``) and ``pipework run FILE``.

It parses the options, runs the pipeline (or prints its plan with ``--dry-run``), writes its HTML
report with ``--report FILE``, prints the outcome and returns the exit code: 0, or 1 after printing a
:class:`~pipework.errors.PipeworkError`'s message (a traceback only with ``--debug``). It knows the
pipeline only through :class:`Launchable`, so it sits below ``pipeline.py`` and :mod:`pipework.cli`
and imports neither.
"""

from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from .errors import PipelineFailed, PipeworkError

if TYPE_CHECKING:
    from .config import RunConfig
    from .plan import ProcPlan
    from .run import RunResult

__all__ = ["LAST_RUN", "Launchable", "last_run_source", "launch", "run_pipeline_main"]

#: The file in a local workdir that records how the last run was started (for ``pipework why``).
LAST_RUN = ".pipework-last.json"


class Launchable(Protocol):
    """What the command line needs of a pipeline: a :class:`~pipework.Pipeline` is one.

    Attributes:
        pipeline_name: The pipeline's name.
        config: Its resolved configuration (None until it was resolved).
    """

    pipeline_name: str
    config: RunConfig | None

    def __init__(self, *, quiet: bool = False, **overrides: Any) -> None: ...

    def run(self) -> RunResult:
        """Run the pipeline."""
        ...

    def plan(self) -> list[ProcPlan]:
        """What a run would do, without running anything."""
        ...


def run_pipeline_main(cls: type[Launchable], argv: Sequence[str] | None = None) -> int:
    """Parse options, run (or plan) the pipeline, print the outcome; return the exit code.

    Args:
        cls: The pipeline class.
        argv: The options (default: ``sys.argv[1:]``).

    Returns:
        0 when the run succeeded (or was planned), 1 when it failed.
    """
    prog = Path(sys.argv[0]).name if argv is None else cls.__name__
    return launch(cls, argv, prog=prog, source=_source_of(cls))


def launch(cls: type[Launchable], argv: Sequence[str] | None, *, prog: str, source: str | None) -> int:
    """Parse ``argv`` as the options of ``python pipeline.py`` and run (or plan) the pipeline.

    Args:
        cls: The pipeline class.
        argv: The options (None: ``sys.argv[1:]``).
        prog: The program name in ``--help`` and usage errors.
        source: ``FILE:Class`` of the pipeline, recorded in the workdir for ``pipework why`` (None:
            record nothing).

    Returns:
        The exit code: 0 or 1.
    """
    args = _parser(prog).parse_args(argv)
    try:
        pipeline = cls(quiet=args.quiet, **_overrides(args))
        if args.dry_run:
            from .plan import format_plan

            print(format_plan(pipeline.plan(), pipeline=pipeline.pipeline_name))
            return 0
        try:
            result = pipeline.run()
        finally:
            if pipeline.config is not None and source:
                _remember(pipeline.config, source, _overrides(args))
            if args.report and pipeline.config is not None:
                _report(pipeline, args.report)
    except PipelineFailed as exc:
        if args.debug:
            traceback.print_exc()
        print(str(exc), file=sys.stderr)
        return 1
    except PipeworkError as exc:
        if args.debug:
            traceback.print_exc()
        print(f"pipework: error: {exc}", file=sys.stderr)
        return 1
    _print_outcome(result, quiet=args.quiet)
    return 0


def _parser(prog: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Run the pipeline.")
    p.add_argument("--profile", help="apply a profile from ~/.pipework.toml or ./.pipework.toml")
    p.add_argument("--forks", type=int, help="jobs of one process running at once")
    p.add_argument("--workdir", help="where job directories live (path or cloud URL)")
    p.add_argument("--outdir", help="where outputs are exported (path or cloud URL)")
    p.add_argument("--scheduler", help="local, slurm, sge, gbatch or a plugin's name")
    p.add_argument("--no-cache", action="store_true", help="rerun every job")
    p.add_argument("--dry-run", action="store_true", help="print the plan (jobs, cached and why) and exit")
    p.add_argument("--report", metavar="FILE", help="write the run's HTML report to FILE (also if it fails)")
    p.add_argument("-q", "--quiet", action="store_true", help="show only warnings and failures")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    out: dict[str, Any] = {
        "forks": args.forks,
        "workdir": args.workdir,
        "outdir": args.outdir,
        "scheduler": args.scheduler,
        "profile": args.profile,
    }
    if args.no_cache:
        out["cache"] = False
    return {k: v for k, v in out.items() if v is not None}


def _source_of(cls: type) -> str | None:
    try:
        return str(Path(inspect.getfile(cls)).resolve()) + ":" + cls.__name__
    except (TypeError, OSError):
        return None


def _print_outcome(result: RunResult, *, quiet: bool) -> None:
    if not quiet:
        for name, counts in result.counts.items():
            summary = ", ".join(f"{n} {state}" for state, n in sorted(counts.items()))
            print(f"{name}: {summary}", file=sys.stderr)
        print(f"outputs: {result.outdir}", file=sys.stderr)
    for failure in result.failures:
        print(failure.report(), file=sys.stderr)


def _report(pipeline: Launchable, path: str) -> None:
    """Write the HTML report of the run that just ended (this driver's latest in the run store); a
    report that cannot be written is a warning, never the run's outcome."""
    from .store import RunStore, store_url
    from .store.meta import host_name

    assert pipeline.config is not None
    if store_url(pipeline.config.store) is None:
        print("pipework: warning: --report needs the run store (store is 'none')", file=sys.stderr)
        return
    try:
        db = RunStore(pipeline.config.store)
        try:
            run = db.latest(pipeline=pipeline.pipeline_name, project=os.getcwd())
            if run is None or run.pid != os.getpid() or run.host != host_name():
                print("pipework: warning: --report: this run is not in the run store", file=sys.stderr)
                return
            from .report import write_report

            size = write_report(db, run.id, path)
        finally:
            db.close()
    except (PipeworkError, OSError) as exc:
        print(f"pipework: warning: the report could not be written: {exc}", file=sys.stderr)
        return
    print(f"report: {path} ({size / 1e6:.1f} MB)", file=sys.stderr)


def _remember(config: RunConfig, source: str, overrides: dict[str, Any]) -> None:
    """Record how the last run was started, for ``pipework why`` without arguments."""
    from . import paths

    workdir = paths.resolve(config.workdir)
    if paths.is_cloud(workdir):
        return
    record = {"source": source, "overrides": overrides, "cwd": os.getcwd()}
    try:
        os.makedirs(workdir, exist_ok=True)
        paths.atomic_write_text(os.path.join(workdir, LAST_RUN), json.dumps(record))
    except (PipeworkError, OSError):
        pass  # only a convenience for `pipework why`; the run's own error is what matters


def last_run_source(workdir: str) -> str | None:
    """The ``FILE:Class`` of the last run started in a local workdir, or None if none was recorded."""
    record = Path(workdir).expanduser() / LAST_RUN
    try:
        return str(json.loads(record.read_text())["source"])
    except (OSError, ValueError, KeyError, TypeError):
        return None
