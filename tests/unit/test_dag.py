"""The process graph: discovery, order, and invalid graphs."""

from __future__ import annotations

import pytest

from pipework import DagError, Proc
from pipework.dag import build


def test_discovery_and_topological_order():
    class A(Proc):
        script = "true"

    class B(Proc):
        requires = A
        script = "true"

    class C(Proc):
        requires = A
        script = "true"

    class D(Proc):
        requires = [B, C]
        script = "true"

    dag = build(A)
    names = [p.__name__ for p in dag.order]
    assert names[0] == "A" and names[-1] == "D" and set(names) == {"A", "B", "C", "D"}
    assert dag.ends == ["D"] and dag.downstream("A") == ["B", "C"]


def test_cycle_names_the_processes():
    class Start(Proc):
        script = "true"

    class X(Proc):
        script = "true"

    class Y(Proc):
        requires = X
        script = "true"

    X.requires = [Start, Y]
    with pytest.raises(DagError, match=r"has a cycle: (X -> Y -> X|Y -> X -> Y)"):
        build(Start)


def test_requirement_outside_the_pipeline():
    class Outside(Proc):
        script = "true"

    class S(Proc):
        script = "true"

    class N(Proc):
        requires = [S, Outside]
        script = "true"

    with pytest.raises(DagError, match="'N' requires 'Outside', which is not in pipeline"):
        build(S, [S, N])


def test_duplicate_names():
    class Same(Proc):
        script = "true"

    other = type("Same", (Proc,), {"script": "true", "__module__": "elsewhere"})
    with pytest.raises(DagError, match="two processes are named 'Same'"):
        build([Same, other])


def test_unknown_attribute_suggests():
    class Typo(Proc):
        inputs = "x"
        script = "true"

    with pytest.raises(
        DagError, match=r"'Typo' sets unknown attribute\(s\) \['inputs'\] -- did you mean 'input'"
    ):
        build(Typo)


def test_no_starts_and_non_proc():
    with pytest.raises(DagError, match="has no start process"):
        build(None)
    with pytest.raises(DagError, match="must be Proc subclasses"):
        build([int])


def test_redefined_class_newest_wins():
    class Base(Proc):
        script = "true"

    first = type("Down", (Proc,), {"requires": Base, "script": "echo 1", "__module__": Base.__module__})
    second = type("Down", (Proc,), {"requires": Base, "script": "echo 2", "__module__": Base.__module__})
    dag = build(Base)
    assert second in dag.order and first not in dag.order
