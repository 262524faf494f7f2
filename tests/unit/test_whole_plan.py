"""The whole DAG is expanded before anything runs: errors anywhere stop the run before the first job."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipework import Proc
from pipework.errors import SpecError, TemplateError

from .helpers import make_pipeline, run


def _first() -> type[Proc]:
    class First(Proc):
        input = "n"
        input_data = [1, 2, 3]
        output = "o:file:{{in.n}}.txt"
        script = "touch ../ran-{{in.n}}; echo {{in.n}} > {{out.o | quote}}"

    return First


def test_a_misspelt_variable_downstream_stops_the_run_before_upstream_runs(isolated: Path):
    First = _first()

    class Last(Proc):
        requires = First
        input = "fs:files"
        input_data = lambda ch: [[ch.column("o")]]
        output = "all:file:all.txt"
        script = "cat {{in.fz | quote}} > {{out.all | quote}}"

    with pytest.raises(TemplateError) as err:
        run(make_pipeline(First))
    assert "Last" in str(err.value) and "fz" in str(err.value)
    assert not list(Path(".").glob("wd/P/First/ran-*"))  # nothing ran


def test_a_missing_input_downstream_stops_the_run_before_upstream_runs(isolated: Path):
    First = _first()

    class Join(Proc):
        requires = First
        input = "o:file, ref:file"
        input_data = lambda ch: [(o, "missing-reference.fa") for o in ch.column("o")]
        script = "cat {{in.o | quote}} {{in.ref | quote}}"

    with pytest.raises(SpecError) as err:
        run(make_pipeline(First))
    assert "[Join job 0] input 'ref' file" in str(err.value) and "missing-reference.fa" in str(err.value)
    assert not list(Path(".").glob("wd/P/First/ran-*"))


def test_an_export_collision_downstream_stops_the_run_before_upstream_runs(isolated: Path):
    First = _first()

    class Same(Proc):
        requires = First
        input = "o:file"
        output = "x:file:same.txt"
        script = "cp {{in.o | quote}} {{out.x | quote}}"

    with pytest.raises(SpecError, match=r"\[Same\] jobs 0 and 1 would both export"):
        run(make_pipeline(First))
    assert not list(Path(".").glob("wd/P/First/ran-*"))


def test_dry_run_counts_the_jobs_of_a_process_fed_by_a_callable(isolated: Path):
    First = _first()

    class Pairs(Proc):
        requires = First
        input = "a:file, b:file"
        input_data = lambda ch: [(x, y) for x in ch.column("o") for y in ch.column("o") if x < y]
        script = "cat {{in.a | quote}} {{in.b | quote}} > /dev/null"

    plans = {p.name: p for p in make_pipeline(First)().plan()}
    assert plans["Pairs"].njobs == 3 and plans["Pairs"].to_run == 3
    result = run(make_pipeline(First))
    assert result.counts == {"First": {"done": 3}, "Pairs": {"done": 3}}
