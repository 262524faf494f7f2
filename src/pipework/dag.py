"""The process graph of a pipeline: found, validated and ordered before anything runs.

Processes are found from the pipeline's ``starts`` by following ``requires`` backwards: every ``Proc``
subclass defined in the module of the pipeline or of a start process that (transitively) requires a
process in the graph joins it. ``Pipeline.procs`` lists them explicitly instead. A ``requires`` of the
wrong kind (a class's name, None) on any of those subclasses, or a misspelt ``require = A`` pointing
into the graph, is an error naming the process, never a process left out without a word.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from dataclasses import dataclass

from .errors import DagError
from .proc import PROC_ATTRIBUTES, Proc

__all__ = ["Dag", "build"]


@dataclass(frozen=True)
class Dag:
    """A validated graph of processes.

    Attributes:
        order: The processes in a topological order (requirements first).
        requires: For each process name, the names of the processes it requires.
        starts: The names of the start processes.
    """

    order: tuple[type[Proc], ...]
    requires: dict[str, tuple[str, ...]]
    starts: tuple[str, ...]

    def downstream(self, name: str) -> list[str]:
        """Names of the processes that require ``name``, directly."""
        return [n for n, reqs in self.requires.items() if name in reqs]

    @property
    def ends(self) -> list[str]:
        """Names of the processes nothing requires."""
        required = {r for reqs in self.requires.values() for r in reqs}
        return [p.__name__ for p in self.order if p.__name__ not in required]


def _as_list(value: object, what: str) -> list[type[Proc]]:
    if value is None:
        return []
    if isinstance(value, type):
        items: list[object] = [value]
    elif isinstance(value, (list, tuple)):
        items = list(value)
    else:
        items = [value]
    for item in items:
        if not (isinstance(item, type) and issubclass(item, Proc)) or item is Proc:
            raise DagError(
                f"{what} must be Proc subclasses, got {item!r}",
                hint="give the classes themselves, e.g. starts = Count or starts = [Count, Sum]",
            )
    return items  # type: ignore[return-value]


def _all_subclasses(cls: type[Proc]) -> list[type[Proc]]:
    """Every live subclass, breadth first, each level in definition order."""
    out: list[type[Proc]] = []
    level = list(cls.__subclasses__())
    while level:
        out.extend(level)
        level = [sub for klass in level for sub in klass.__subclasses__()]
    return out


def _candidates(modules: set[str]) -> list[type[Proc]]:
    """The Proc subclasses defined in ``modules``.

    When a class was defined again under the same name (a re-run notebook cell, a reloaded module),
    only the newest definition is a candidate.
    """
    newest: dict[tuple[str, str], type[Proc]] = {}
    for klass in _all_subclasses(Proc):
        if klass.__module__ in modules:
            newest.pop((klass.__module__, klass.__qualname__), None)
            newest[(klass.__module__, klass.__qualname__)] = klass
    return list(newest.values())


def _pointers(cand: type[Proc]) -> list[object]:
    """What a candidate points at: its ``requires`` (checked: a wrong one is an error, whatever it
    names), and the values of attributes it sets by mistake (``require = A``), so that a process meant
    to be in the graph joins it and its misspelt attribute is reported, instead of being left out.
    """
    out: list[object] = list(cand.requirements())
    for attr in cand.unknown_attributes():
        value = getattr(cand, attr, None)
        out.extend(value if isinstance(value, (list, tuple)) else [value])
    return out


def _discover(starts: list[type[Proc]], candidates: list[type[Proc]]) -> list[type[Proc]]:
    """Processes downstream of the starts, among the candidates."""
    found = list(dict.fromkeys(starts))
    changed = True
    while changed:
        changed = False
        for cand in candidates:
            if cand in found:
                continue
            if any(p in found for p in _pointers(cand)):
                found.append(cand)
                changed = True
    # requirements of found processes join too (a process requiring a start and another branch)
    todo = list(found)
    while todo:
        for req in todo.pop().requirements():
            if req not in found:
                found.append(req)
                todo.append(req)
    return found


def build(
    starts: object, procs: object = None, *, pipeline: str = "pipeline", module: str | None = None
) -> Dag:
    """Find, validate and order the processes of a pipeline.

    Args:
        starts: The start process(es).
        procs: An explicit list of all processes (optional).
        pipeline: The pipeline name, for messages.
        module: The module of the pipeline class (processes defined there are found).

    Raises:
        DagError: For no starts, a cycle, a requirement outside the pipeline, two processes with one name,
            a start that requires something, or unknown attributes on a process.
    """
    start_list = _as_list(starts, f"{pipeline}.starts")
    if not start_list:
        raise DagError(
            f"pipeline {pipeline!r} has no start process", hint="set starts = FirstProc (or a list)"
        )
    explicit = _as_list(procs, f"{pipeline}.procs")
    if explicit:
        members = list(dict.fromkeys(start_list + explicit))
    else:
        modules = {p.__module__ for p in start_list}
        if module:
            modules.add(module)
        members = _discover(start_list, _candidates(modules))
    for proc in members:
        _check_attributes(proc)

    by_name: dict[str, type[Proc]] = {}
    for proc in members:
        other = by_name.get(proc.__name__)
        if other is not None and other is not proc:
            raise DagError(
                f"two processes are named {proc.__name__!r} ({other.__module__} and {proc.__module__})",
                hint="give one a new name with Proc.derive('NewName')",
            )
        by_name[proc.__name__] = proc

    for proc in members:
        for req in proc.requirements():
            if req.__name__ not in by_name or by_name[req.__name__] is not req:
                raise DagError(
                    f"process {proc.__name__!r} requires {req.__name__!r}, which is not in pipeline "
                    f"{pipeline!r}",
                    hint="add it to the pipeline's starts or procs",
                )
    for start in start_list:
        if start.requirements():
            raise DagError(
                f"start process {start.__name__!r} requires {[r.__name__ for r in start.requirements()]}",
                hint="a start process takes its input from input_data; start from its requirements",
            )

    requires = {p.__name__: tuple(r.__name__ for r in p.requirements()) for p in members}
    order = _toposort(requires, pipeline)
    return Dag(
        order=tuple(by_name[n] for n in order),
        requires=requires,
        starts=tuple(p.__name__ for p in start_list),
    )


def _check_attributes(proc: type[Proc]) -> None:
    """Fail for a misspelt attribute on a process of the pipeline.

    Raises:
        DagError: Naming the process, the attribute and the nearest valid name.
    """
    unknown = proc.unknown_attributes()
    if not unknown:
        return
    close = difflib.get_close_matches(unknown[0], sorted(PROC_ATTRIBUTES), n=1)
    raise DagError(
        f"process {proc.__name__!r} sets unknown attribute(s) {unknown}",
        hint=(f"did you mean {close[0]!r}? " if close else "")
        + "use a leading underscore for your own helpers",
    )


def _toposort(requires: dict[str, tuple[str, ...]], pipeline: str) -> list[str]:
    state: dict[str, int] = {}  # 1 visiting, 2 done
    order: list[str] = []

    def visit(name: str, path: Sequence[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise DagError(
                f"pipeline {pipeline!r} has a cycle: {' -> '.join(cycle)}",
                hint="a process cannot (indirectly) require itself",
            )
        state[name] = 1
        for req in requires[name]:
            visit(req, [*path, name])
        state[name] = 2
        order.append(name)

    for name in requires:
        visit(name, [])
    return order
