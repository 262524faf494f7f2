"""The run's DAG as inline SVG: processes in columns by their depth (the longest chain of processes
they require), ordered in each column by where their upstream processes are, edges as curves."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from ..store.records import ProcRecord

__all__ = ["dag_svg", "layers"]

NODE_W, NODE_H = 190, 54
GAP_X, GAP_Y = 70, 18
PAD = 12
#: A process's colour by its state (its jobs' worst state first).
COLOURS = {
    "failed": "#d9534f",
    "stopped": "#e08e0b",
    "not run": "#9e9e9e",
    "running": "#2f7ed8",
    "pending": "#b0bec5",
    "done": "#3c9d4e",
}


def layers(names: Sequence[str], edges: Sequence[tuple[str, str]]) -> list[list[str]]:
    """Processes by depth: those requiring none first, each after every process it requires; within a
    column, ordered by the mean row of their upstream processes (then by run order)."""
    ups: dict[str, list[str]] = {n: [] for n in names}
    for up, down in edges:
        if up in ups and down in ups:
            ups[down].append(up)
    depth: dict[str, int] = {}

    def level(name: str, trail: frozenset[str]) -> int:
        if name not in depth:
            parents = [u for u in ups[name] if u not in trail]  # a cycle cannot happen; stay safe
            depth[name] = 1 + max((level(u, trail | {name}) for u in parents), default=-1)
        return depth[name]

    for name in names:
        level(name, frozenset())
    columns: list[list[str]] = [[] for _ in range(max(depth.values(), default=-1) + 1)]
    for name in names:
        columns[depth[name]].append(name)
    row: dict[str, float] = {}
    for column in columns:
        order = {n: i for i, n in enumerate(column)}
        column.sort(key=lambda n: (sum(row[u] for u in ups[n]) / len(ups[n]) if ups[n] else -1, order[n]))
        row.update((n, float(i)) for i, n in enumerate(column))
    return columns


def _state(proc: ProcRecord) -> str:
    counts = proc.counts
    if counts.get("failed") or counts.get("lost") or proc.state == "failed":
        return "failed"
    return proc.state or "done"


def _label(proc: ProcRecord) -> str:
    c = proc.counts
    parts = [f"{c[s]} {s}" for s in ("done", "cached", "failed", "killed", "running") if c.get(s)]
    return ", ".join(parts) or f"{proc.njobs} jobs"


def dag_svg(procs: Sequence[ProcRecord], edges: Sequence[tuple[str, str]]) -> str:
    """The SVG element of the DAG (sized to fit; each node titled with its counts)."""
    by_name: Mapping[str, ProcRecord] = {p.name: p for p in procs}
    columns = layers([p.name for p in procs], edges)
    rows = max((len(c) for c in columns), default=0)
    width = PAD * 2 + len(columns) * NODE_W + max(0, len(columns) - 1) * GAP_X
    height = PAD * 2 + rows * NODE_H + max(0, rows - 1) * GAP_Y
    at: dict[str, tuple[float, float]] = {}
    for col, column in enumerate(columns):
        offset = (rows - len(column)) * (NODE_H + GAP_Y) / 2
        for row, name in enumerate(column):
            at[name] = (PAD + col * (NODE_W + GAP_X), PAD + offset + row * (NODE_H + GAP_Y))
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dag" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="the pipeline\'s processes">',
        '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#78909c"/></marker></defs>',
    ]
    for up, down in edges:
        if up in at and down in at:
            (x1, y1), (x2, y2) = at[up], at[down]
            sx, sy, ex, ey = x1 + NODE_W, y1 + NODE_H / 2, float(x2), y2 + NODE_H / 2
            mid = (sx + ex) / 2
            out.append(
                f'<path class="edge" d="M{sx:.0f},{sy:.0f} C{mid:.0f},{sy:.0f} {mid:.0f},{ey:.0f} '
                f'{ex - 2:.0f},{ey:.0f}" marker-end="url(#arrow)"/>'
            )
    for name, (x, y) in at.items():
        proc = by_name[name]
        state = _state(proc)
        colour = COLOURS.get(state, "#607d8b")
        done = sum(proc.counts.get(s, 0) for s in ("done", "cached"))
        frac = done / proc.njobs if proc.njobs else 0.0
        short = name if len(name) <= 24 else name[:23] + "\u2026"
        out.append(
            f'<g class="node" data-proc="{escape(name)}" data-state="{escape(state)}">'
            f"<title>{escape(name)}: {escape(_label(proc))} ({escape(state)})</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{NODE_W}" height="{NODE_H}" rx="6" '
            f'fill="#fff" stroke="{colour}" stroke-width="2"/>'
            f'<rect x="{x + 1:.0f}" y="{y + NODE_H - 6:.0f}" width="{(NODE_W - 2) * frac:.0f}" height="5" '
            f'fill="{colour}" opacity="0.6"/>'
            f'<text x="{x + 10:.0f}" y="{y + 21:.0f}" class="name">{escape(short)}</text>'
            f'<text x="{x + 10:.0f}" y="{y + 39:.0f}" class="counts">{escape(_label(proc))}</text></g>'
        )
    out.append("</svg>")
    return "".join(out)
