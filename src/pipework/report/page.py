"""The report's HTML page: one file with its style, its script and its data inline, so it opens from
a disk, a mail or a bucket with no network.

The summary, the DAG, the resource plots and the failed jobs are HTML and SVG written here (they show
without the script); the timeline and the job table are drawn by the page's script from the embedded
JSON (:mod:`pipework.report.data`).
"""

from __future__ import annotations

import string
import time
from html import escape
from importlib import resources
from typing import TYPE_CHECKING

from .._version import __version__
from .dag import COLOURS, dag_svg
from .data import ReportData, collect, to_json
from .plots import metrics, plot_svg

if TYPE_CHECKING:
    from ..store import RunStore

__all__ = ["build_report", "render", "write_report"]

_STATES = ("done", "cached", "failed", "killed", "lost", "running", "queued", "not run")
_TIMELINE_COLOURS = {
    "done": "#3c9d4e",
    "cached": "#9ccc65",
    "failed": "#d9534f",
    "killed": "#e08e0b",
    "lost": "#8e24aa",
    "running": "#2f7ed8",
}


def _asset(name: str) -> str:
    return resources.files("pipework.report").joinpath(name).read_text(encoding="utf-8")


def _when(stamp: float | None) -> str:
    return "-" if stamp is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(stamp))


def _secs(value: float | None) -> str:
    if value is None:
        return "-"
    if value < 60:
        return f"{value:.1f} s"
    if value < 3600:
        return f"{int(value // 60)} min {value % 60:.0f} s"
    return f"{int(value // 3600)} h {int(value % 3600 // 60)} min"


def _kib(value: float) -> str:
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "KiB" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TiB"  # pragma: no cover


def _summary(data: ReportData) -> str:
    run = data.run
    states = data.strings["state"]
    counts: dict[str, int] = {}
    for s in data.jobs["s"]:
        counts[states[s]] = counts.get(states[s], 0) + 1
    cpu = sum(v for v in data.jobs["c"] if v is not None)
    rss = max((v for v in data.jobs["m"] if v is not None), default=None)
    seconds = run.seconds if run.seconds is not None else (run.heartbeat or run.started) - run.started
    cards = [
        ("jobs", str(data.njobs)),
        *((s, str(counts[s])) for s in _STATES if counts.get(s)),
        ("wall time", _secs(seconds)),
        ("CPU time", _secs(cpu)),
        ("largest peak RSS", "-" if rss is None else _kib(rss)),
    ]
    meta = [
        ("started", _when(run.started)),
        ("ended", _when(run.ended)),
        ("project", run.project),
        ("source", run.source),
        ("workdir", run.workdir),
        ("outdir", run.outdir),
        ("scheduler", run.scheduler),
        ("profile", run.profile),
        ("driver", f"pid {run.pid} on {run.host}"),
        ("user", run.username),
        ("pipework", run.version),
        ("git commit", run.git_commit),
    ]
    return (
        '<div class="cards">'
        + "".join(
            f'<div class="card" data-card="{escape(k)}"><b>{escape(v)}</b><span>{escape(k)}</span></div>'
            for k, v in cards
        )
        + '</div><dl class="meta">'
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(str(v))}</dd>" for k, v in meta if v)
        + "</dl>"
    )


def _procs_table(data: ReportData) -> str:
    rows = []
    for p in data.procs:
        counts = ", ".join(f"{n} {s}" for s, n in sorted(p.counts.items()))
        req = ", ".join(
            x
            for x in (
                f"{p.req_cpus} CPU" if p.req_cpus else "",
                f"{p.req_mem_mib} MiB" if p.req_mem_mib else "",
                _secs(p.req_time_s) if p.req_time_s else "",
                f"{p.req_gpus} GPU" if p.req_gpus else "",
            )
            if x
        )
        secs = _secs(p.seconds) if p.ended else (p.state or "-")
        rows.append(
            f"<tr><td>{escape(p.name)}</td><td>{escape(p.state or '-')}</td>"
            f"<td>{escape(p.scheduler or '-')}</td><td class='num'>{p.njobs}</td>"
            f"<td>{escape(counts)}</td><td class='num'>{escape(secs)}</td><td>{escape(req or '-')}</td>"
            f"<td>{escape(str(p.cache))}</td></tr>"
        )
    head = "".join(
        f"<th>{h}</th>"
        for h in ("process", "state", "scheduler", "jobs", "outcome", "time", "requested per job", "cache")
    )
    body = "".join(rows)
    table = f'<table id="procs"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'
    return f'<div class="scroll">{table}</div>'


def _failed(data: ReportData) -> str:
    if not data.nfailed:
        return '<p class="muted" id="no-failures">No job failed.</p>'
    out = []
    for f in data.failed:
        rc = "" if f.rc is None else f", rc {f.rc}"
        stderr = f"<pre>{escape(f.stderr)}</pre>" if f.stderr else '<p class="muted">(stderr empty)</p>'
        out.append(
            f'<div class="failed-job" data-proc="{escape(f.proc)}" data-index="{f.index}">'
            f"<b>{escape(f.proc)} job {f.index}</b>: {escape(f.state)}{rc}"
            f"<div>{escape(f.failure or '')}</div><div class='muted'>{escape(f.dir)}</div>{stderr}</div>"
        )
    if data.nfailed > len(data.failed):
        more = data.nfailed - len(data.failed)
        out.append(f'<p class="muted">... and {more} more: filter the job table by state.</p>')
    return "".join(out)


def _legend(colours: dict[str, str]) -> str:
    swatch = '<span><span class="st" style="background:{}"></span>{}</span>'
    return "".join(swatch.format(c, s) for s, c in colours.items())


def render(data: ReportData) -> str:
    """The report page of a run's data."""
    run = data.run
    plots = "".join(f"<div><h3>{escape(m.title)}</h3>{plot_svg(m)}</div>" for m in metrics(data))
    page = string.Template(_asset("report.html"))
    return page.substitute(
        version=escape(__version__),
        pipeline=escape(run.pipeline),
        run_id=run.id,
        state=escape(run.state),
        started=escape(_when(run.started)),
        project=escape(run.project or ""),
        summary=_summary(data),
        dag_legend=_legend(COLOURS),
        dag=dag_svg(data.procs, data.edges),
        procs=_procs_table(data),
        timeline_legend=_legend({**_TIMELINE_COLOURS, "queued": "#e3e8ec"}),
        plots=plots,
        nfailed=data.nfailed,
        failed=_failed(data),
        generated=escape(_when(time.time())),
        css=_asset("report.css"),
        data=to_json(data),
        js=_asset("report.js").replace("</", "<\\/"),
    )


def build_report(db: RunStore, run_id: int, *, stderr: bool = True) -> str:
    """The report page of run ``run_id``.

    Args:
        db: The run store.
        run_id: The run.
        stderr: Read the failed jobs' stderr from their job directories.

    Raises:
        ConfigError: If there is no such run.
    """
    return render(collect(db, run_id, stderr=stderr))


def write_report(db: RunStore, run_id: int, path: str) -> int:
    """Write the report of run ``run_id`` to ``path`` (a local file); return its size in bytes.

    Raises:
        ConfigError: If there is no such run.
        OSError: If the file cannot be written.
    """
    text = build_report(db, run_id)
    data = text.encode("utf-8")
    with open(path, "wb") as fh:
        fh.write(data)
    return len(data)
