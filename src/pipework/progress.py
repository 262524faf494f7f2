"""Showing a run: a live table per process in a terminal, plain log lines elsewhere, or nothing.

The engine reports every state change of every job; a display aggregates them into counts per process
(queued, running, cached, done, failed, killed, not run) and redraws at most a few times a second, so
its cost does not grow with the number of jobs. Both displays show the whole run too: the run id, jobs
finished of the total, elapsed time and an estimate of the time left. The plain display (logs, cluster
drivers) writes a progress line at every 10 % and at least every 30 s while jobs run, so a long run's
log never stays silent.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from typing import IO, Any

from .state import JobState

__all__ = ["PlainProgress", "Progress", "QuietProgress", "RichProgress", "make_progress"]

_COLUMNS = (
    ("queued", (JobState.QUEUED,)),
    ("running", (JobState.RUNNING,)),
    ("cached", (JobState.CACHED,)),
    ("done", (JobState.DONE,)),
    ("failed", (JobState.FAILED, JobState.LOST)),
    ("killed", (JobState.KILLED,)),
    ("not run", (JobState.NOT_RUN,)),
)
_WHEN_STOPPED = ("killed", "not run")
_FINAL = tuple(s for s in JobState if s.is_final)

#: The plain display writes a progress line at every this fraction of the jobs finished ...
STEP = 0.10
#: ... and at least this often (seconds) while the run goes on.
QUIET_MAX = 30.0


class Progress:
    """The display interface, with the bookkeeping every display shares; it shows nothing itself.

    Args:
        stream: Where to write (default ``sys.stderr``).
    """

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stderr
        self.totals: dict[str, int] = {}
        self.counts: dict[str, Counter[JobState]] = {}
        self.started: dict[str, float] = {}
        self.ended: dict[str, float] = {}
        self.t0 = time.monotonic()
        self.run_id: int | None = None
        #: Jobs of the whole run in a final state, and those of them cached.
        self.finished = 0
        self.cached = 0
        self._planned: dict[str, int] = {}

    def run_start(
        self,
        name: str,
        procs: list[str],
        *,
        planned: dict[str, int | None] | None = None,
        run_id: int | None = None,
    ) -> None:
        """A run of pipeline ``name`` with these processes begins.

        Args:
            name: The pipeline.
            procs: Its processes.
            planned: Each process's number of jobs as planned (None: known once its upstream ran).
            run_id: The run's id in the run store.
        """
        self.run_id = run_id
        self._planned = {p: n for p, n in (planned or {}).items() if n is not None}
        for proc in procs:
            self.counts.setdefault(proc, Counter())

    @property
    def total(self) -> int:
        """Jobs of the whole run, as far as known (planned, or counted once a process started)."""
        return sum(self.totals.get(p, n) for p, n in self._planned.items()) + sum(
            n for p, n in self.totals.items() if p not in self._planned
        )

    def overall(self) -> str:
        """The run in one line: ``run 12: 450/1000 jobs (45%), 12.3s, about 15s left``."""
        total = max(self.total, self.finished)
        elapsed = time.monotonic() - self.t0
        head = f"run {self.run_id}: " if self.run_id is not None else ""
        share = f" ({100 * self.finished // total}%)" if total else ""
        text = f"{head}{self.finished}/{total} jobs{share}, {_seconds(elapsed)}"
        ran = self.finished - self.cached
        if ran > 0 and self.finished < total:
            text += f", about {_seconds(elapsed * (total - self.finished) / ran)} left"
        return text

    def tick(self) -> None:
        """Called every few seconds while the run goes on (a display may show the time passing)."""

    def proc_start(self, proc: str, total: int) -> None:
        """A process starts with ``total`` jobs."""
        self.totals[proc] = total
        self.counts.setdefault(proc, Counter())[JobState.PENDING] = total
        self.started[proc] = time.monotonic()

    def job_state(self, proc: str, old: JobState, new: JobState) -> None:
        """One job of ``proc`` went from ``old`` to ``new``."""
        counts = self.counts[proc]
        counts[old] -= 1
        counts[new] += 1
        if new in _FINAL and old not in _FINAL:
            self.finished += 1
            if new is JobState.CACHED:
                self.cached += 1
            self._finished()

    def _finished(self) -> None:
        """One more job of the run is final (a display may say so)."""

    def proc_done(self, proc: str) -> None:
        """A process finished."""
        self.ended[proc] = time.monotonic()

    def proc_stopped(self, proc: str) -> None:
        """A process was stopped by the run's end (a failure elsewhere, an interrupt): its counts say
        which jobs were killed and which never ran."""
        self.ended[proc] = time.monotonic()

    def proc_not_run(self, proc: str, total: int) -> None:
        """A process never started (the run stopped before its upstream ended); ``total`` jobs."""
        self.totals[proc] = total
        self.counts.setdefault(proc, Counter())[JobState.NOT_RUN] = total
        self.finished += total

    def warn(self, message: str) -> None:
        """Show a warning."""
        print(f"pipework: warning: {message}", file=self.stream, flush=True)

    def run_done(self, ok: bool) -> None:
        """The run ended."""

    def summary(self, proc: str) -> str:
        """One line of counts for a process, e.g. ``4 jobs: 1 cached, 3 done``."""
        counts = self.counts.get(proc, Counter())
        parts = []
        for label, states in _COLUMNS:
            n = sum(counts[s] for s in states)
            if n:
                parts.append(f"{n} {label}")
        total = self.totals.get(proc, 0)
        return f"{total} job{'s' if total != 1 else ''}" + (f": {', '.join(parts)}" if parts else "")


class QuietProgress(Progress):
    """Shows warnings only (``--quiet``)."""


class PlainProgress(Progress):
    """One log line when a process starts and one when it ends; for logs and non-terminals."""

    def _log(self, text: str) -> None:
        stamp = time.strftime("%H:%M:%S")
        print(f"{stamp} {text}", file=self.stream, flush=True)

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._next_share = STEP
        self._said_at = time.monotonic()

    def run_start(
        self,
        name: str,
        procs: list[str],
        *,
        planned: dict[str, int | None] | None = None,
        run_id: int | None = None,
    ) -> None:
        super().run_start(name, procs, planned=planned, run_id=run_id)
        head = f"run {run_id}: " if run_id is not None else ""
        total = f", {self.total} jobs" if self.total else ""
        self._log(f"{head}pipeline {name}: {len(procs)} process{'es' if len(procs) != 1 else ''}{total}")

    def _finished(self) -> None:
        total = self.total
        if total and self.finished < total and self.finished >= self._next_share * total:
            while self._next_share * total <= self.finished:
                self._next_share += STEP
            self._say()

    def tick(self) -> None:
        if time.monotonic() - self._said_at >= QUIET_MAX:
            self._say()

    def _say(self) -> None:
        self._said_at = time.monotonic()
        self._log(f"progress: {self.overall()}")

    def proc_start(self, proc: str, total: int) -> None:
        super().proc_start(proc, total)
        self._log(f"[{proc}] started, {total} job{'s' if total != 1 else ''}")

    def proc_done(self, proc: str) -> None:
        super().proc_done(proc)
        took = self.ended[proc] - self.started.get(proc, self.t0)
        self._log(f"[{proc}] finished in {took:.1f}s: {self.summary(proc)}")

    def proc_stopped(self, proc: str) -> None:
        super().proc_stopped(proc)
        took = self.ended[proc] - self.started.get(proc, self.t0)
        self._log(f"[{proc}] stopped after {took:.1f}s: {self.summary(proc)}")

    def proc_not_run(self, proc: str, total: int) -> None:
        super().proc_not_run(proc, total)
        self._log(f"[{proc}] not run: {self.summary(proc)}")

    def run_done(self, ok: bool) -> None:
        head = f"run {self.run_id} " if self.run_id is not None else "run "
        self._log(
            f"{head}{'finished' if ok else 'FAILED'} in {time.monotonic() - self.t0:.1f}s: "
            f"{self.finished}/{max(self.total, self.finished)} jobs final"
        )


class RichProgress(Progress):
    """A live table, one row per process, redrawn four times a second (terminals)."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        super().__init__(stream)
        self._live: Any = None
        self._name = ""

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(
            title=f"pipeline {self._name} -- {self._bar()} {self.overall()}",
            title_justify="left",
            expand=False,
        )
        table.add_column("process")
        # "killed" and "not run" only once a run stopped: the table fits 80 columns
        columns = [
            (label, states)
            for label, states in _COLUMNS
            if label not in _WHEN_STOPPED or any(c[s] for c in self.counts.values() for s in states)
        ]
        for label, _ in columns:
            table.add_column(label, justify="right")
        table.add_column("time", justify="right")
        now = time.monotonic()
        for proc, counts in self.counts.items():
            cells = [str(sum(counts[s] for s in states) or "") for _, states in columns]
            if proc in self.started:
                took = self.ended.get(proc, now) - self.started[proc]
                status = f"{took:.1f}s"
            else:
                status = "waiting"
            failed = counts[JobState.FAILED] + counts[JobState.LOST] + counts[JobState.KILLED]
            name = f"[red]{proc}[/]" if failed else (f"[green]{proc}[/]" if proc in self.ended else proc)
            table.add_row(name, *cells, status)
        return table

    def _bar(self, width: int = 20) -> str:
        total = max(self.total, self.finished)
        full = width * self.finished // total if total else 0
        return "[" + "#" * full + "." * (width - full) + "]"

    def run_start(
        self,
        name: str,
        procs: list[str],
        *,
        planned: dict[str, int | None] | None = None,
        run_id: int | None = None,
    ) -> None:
        super().run_start(name, procs, planned=planned, run_id=run_id)
        from rich.console import Console
        from rich.live import Live

        self._name = name
        console = Console(file=self.stream)
        self._live = Live(get_renderable=self._table, console=console, refresh_per_second=4, transient=False)
        self._live.start()

    def warn(self, message: str) -> None:
        if self._live is not None:
            self._live.console.print(f"[yellow]warning:[/] {message}", markup=True, highlight=False)
        else:
            super().warn(message)

    def run_done(self, ok: bool) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.stop()
            self._live = None


def _seconds(value: float) -> str:
    """``12.3s``, ``4m05s``, ``2h03m``."""
    if value < 60:
        return f"{value:.1f}s"
    if value < 3600:
        return f"{int(value // 60)}m{int(value % 60):02d}s"
    return f"{int(value // 3600)}h{int(value % 3600 // 60):02d}m"


def make_progress(*, quiet: bool = False, stream: IO[str] | None = None) -> Progress:
    """The display for this run: quiet, a live table in a terminal, plain lines otherwise."""
    stream = stream or sys.stderr
    if quiet:
        return QuietProgress(stream)
    if stream.isatty():
        return RichProgress(stream)
    return PlainProgress(stream)
