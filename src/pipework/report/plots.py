"""Resource plots as inline SVG: for each process, a box plot of what its jobs used (wall time, CPU
as cores busy, peak RSS) with what they asked for (time limit, CPUs, memory) marked on the same axis."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from ..store.records import ProcRecord
from .data import ReportData

__all__ = ["Box", "Metric", "boxes", "metrics", "plot_svg", "quantiles"]

ROW_H = 26
LABEL_W = 150
PLOT_W = 330
RIGHT = 90


def quantiles(values: Sequence[float]) -> tuple[float, float, float, float, float]:
    """Minimum, lower quartile, median, upper quartile and maximum (linear interpolation)."""
    data = sorted(values)
    n = len(data)

    def q(p: float) -> float:
        k = (n - 1) * p
        lo = int(k)
        hi = min(lo + 1, n - 1)
        return data[lo] + (data[hi] - data[lo]) * (k - lo)

    return data[0], q(0.25), q(0.5), q(0.75), data[-1]


@dataclass(frozen=True)
class Box:
    """One process's jobs in one metric: their quantiles, how many, and what each asked for."""

    proc: str
    stats: tuple[float, float, float, float, float] | None
    n: int
    requested: float | None


@dataclass(frozen=True)
class Metric:
    """One plot: its title, how to show a value, and each process's box."""

    key: str
    title: str
    fmt: Callable[[float], str]
    boxes: list[Box]


def _seconds(v: float) -> str:
    if v < 60:
        return f"{v:.1f}s"
    if v < 3600:
        return f"{v / 60:.1f}m"
    return f"{v / 3600:.1f}h"


def _bytes(v: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if v < 1024 or unit == "TiB":
            return f"{v:.0f} {unit}" if unit == "B" else f"{v:.1f} {unit}"
        v /= 1024
    return f"{v:.1f} TiB"  # pragma: no cover


def boxes(data: ReportData, key: str) -> list[Box]:
    """Each process's box in metric ``key``: ``wall``, ``cores`` (CPU time / wall time) or ``rss``."""
    jobs = data.jobs
    values: dict[int, list[float]] = {}
    for n, p in enumerate(jobs["p"]):
        wall, cpu, kib = jobs["w"][n], jobs["c"][n], jobs["m"][n]
        if key == "wall":
            v = wall
        elif key == "cores":
            v = cpu / wall if cpu is not None and wall else None
        else:
            v = kib * 1024.0 if kib is not None else None
        if v is not None:
            values.setdefault(p, []).append(float(v))
    index = {name: i for i, name in enumerate(data.strings["proc"])}
    out = []
    for proc in data.procs:
        found = values.get(index.get(proc.name, -1), [])
        out.append(Box(proc.name, quantiles(found) if found else None, len(found), _requested(proc, key)))
    return out


def _requested(proc: ProcRecord, key: str) -> float | None:
    if key == "wall":
        return float(proc.req_time_s) if proc.req_time_s else None
    if key == "cores":
        return float(proc.req_cpus) if proc.req_cpus else None
    return float(proc.req_mem_mib) * 2**20 if proc.req_mem_mib else None


def metrics(data: ReportData) -> list[Metric]:
    """The three plots of a report."""
    return [
        Metric("wall", "Wall time per job (requested: the time limit)", _seconds, boxes(data, "wall")),
        Metric(
            "cores",
            "CPU per job in cores (CPU time / wall time; requested: CPUs)",
            lambda v: f"{v:.2f}",
            boxes(data, "cores"),
        ),
        Metric("rss", "Peak memory (RSS) per job (requested: memory)", _bytes, boxes(data, "rss")),
    ]


def plot_svg(metric: Metric) -> str:
    """One metric's SVG: a row per process, its box (whiskers min-max, box quartiles, median), the
    requested value as a red tick, a shared axis from 0."""
    top = max([b.stats[4] for b in metric.boxes if b.stats] + [b.requested or 0 for b in metric.boxes])
    if top <= 0:
        top = 1.0
    scale = PLOT_W / (top * 1.05)
    height = 24 + ROW_H * len(metric.boxes) + 22
    width = LABEL_W + PLOT_W + RIGHT
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="plot" data-metric="{metric.key}" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}">'
    ]
    axis_y = 24 + ROW_H * len(metric.boxes)
    for i in range(5):
        v = top * 1.05 * i / 4
        x = LABEL_W + v * scale
        out.append(
            f'<line class="grid" x1="{x:.1f}" y1="18" x2="{x:.1f}" y2="{axis_y}"/>'
            f'<text class="tick" x="{x:.1f}" y="{axis_y + 15}">{escape(metric.fmt(v))}</text>'
        )
    for row, box in enumerate(metric.boxes):
        y = 24 + row * ROW_H + ROW_H / 2
        out.append(f'<text class="label" x="{LABEL_W - 8}" y="{y + 4:.1f}">{escape(box.proc[:22])}</text>')
        if box.stats is not None:
            lo, q1, med, q3, hi = (LABEL_W + v * scale for v in box.stats)
            title = " ".join(
                f"{k} {metric.fmt(v)}"
                for k, v in zip(("min", "q1", "median", "q3", "max"), box.stats, strict=True)
            )
            out.append(
                f'<g class="box"><title>{escape(box.proc)}: {box.n} jobs; {escape(title)}</title>'
                f'<line x1="{lo:.1f}" y1="{y:.1f}" x2="{hi:.1f}" y2="{y:.1f}" class="whisker"/>'
                f'<rect x="{q1:.1f}" y="{y - 7:.1f}" width="{max(q3 - q1, 1.5):.1f}" height="14"/>'
                f'<line x1="{med:.1f}" y1="{y - 8:.1f}" x2="{med:.1f}" y2="{y + 8:.1f}" class="median"/></g>'
            )
        if box.requested is not None:
            x = LABEL_W + box.requested * scale
            out.append(
                f'<line class="requested" x1="{x:.1f}" y1="{y - 10:.1f}" x2="{x:.1f}" y2="{y + 10:.1f}">'
                f"<title>requested {escape(metric.fmt(box.requested))}</title></line>"
            )
        note = f"n={box.n}" if box.stats else "not measured"
        out.append(f'<text class="n" x="{LABEL_W + PLOT_W + 8}" y="{y + 4:.1f}">{note}</text>')
    out.append("</svg>")
    return "".join(out)
