"""``pipework compare RUN_A RUN_B``: the processes and jobs that differ between two runs (signatures,
why the second ran them, jobs only in one) and how their times changed."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipework import Proc
from pipework.cli import cli

from .helpers import make_pipeline, run


def _pipeline(items: list[int], suffix: str) -> tuple[type, ...]:
    """The pipeline, and its processes (kept referenced: a process no one holds may be collected
    before the DAG is built)."""

    class Make(Proc):
        input = "n"
        input_data = items
        output = "f:file:{{in.n}}.txt"
        script = f"echo {{{{in.n}}}}{suffix} > {{{{out.f}}}}"

    class Use(Proc):
        requires = Make
        input = "f:file"
        output = "g:file:{{in.f | stem}}.g"
        script = "cat {{in.f}} > {{out.g}}"

    return make_pipeline(Make, store="runs.db"), Make, Use


def test_compare_names_the_jobs_that_differ_and_why_the_second_run_ran_them(isolated: Path):
    pipe, *_procs = _pipeline([1, 2, 3], "")
    run(pipe)
    pipe, *_procs = _pipeline([1, 2, 3, 4], "")  # one more input: Make 3 and Use 3 are new, the others cached
    run(pipe)
    out = CliRunner().invoke(cli, ["compare", "1", "2", "--store", "runs.db"])
    assert out.exit_code == 0, out.output
    lines = out.output.splitlines()
    assert lines[0].startswith("A: run 1 of P, done, ") and lines[1].startswith("B: run 2 of P, done, ")
    table = {line.split()[0]: line.split() for line in lines[4:6]}
    # process, jobs A, jobs B, same, differ, only A, only B, cached B
    assert table["Make"][:8] == ["Make", "3", "4", "3", "0", "0", "1", "3"]
    assert table["Use"][:8] == ["Use", "3", "4", "3", "0", "0", "1", "3"]
    assert "jobs that differ (2):" in lines
    assert any(line.startswith("  Make job 3: new job, done; B ran it: ") for line in lines), out.output


def test_a_changed_script_shows_as_changed_signatures_with_the_reason(isolated: Path):
    pipe, *_procs = _pipeline([1, 2], "")
    run(pipe)
    pipe, *_procs = _pipeline([1, 2], "!")
    run(pipe)
    found = json.loads(CliRunner().invoke(cli, ["compare", "1", "2", "--store", "runs.db", "--json"]).output)
    assert found["a"]["id"] == 1 and found["b"]["id"] == 2
    procs = {p["name"]: p for p in found["procs"]}
    assert procs["Make"]["same"] == 0 and procs["Make"]["differ"] == 2 and procs["Make"]["cached"] == [0, 0]
    assert procs["Make"]["seconds"][0] is not None and procs["Make"]["job_wall"][1] >= 0
    make = [j for j in found["jobs"] if j["proc"] == "Make"]
    assert [(j["a"], j["b"], j["what"]) for j in make] == [(0, 0, "signature"), (1, 1, "signature")]
    assert "(script changed)" in make[0]["detail"] and make[0]["reason"].startswith("script changed")
    use = [j for j in found["jobs"] if j["proc"] == "Use"]
    assert use and all("same script" in j["detail"] and "input 'f' changed" in j["reason"] for j in use)


def test_the_same_run_twice_has_no_differences_and_an_unknown_run_is_an_error(isolated: Path):
    pipe, *_procs = _pipeline([1], "")
    run(pipe)
    out = CliRunner().invoke(cli, ["compare", "1", "1", "--store", "runs.db"])
    assert out.exit_code == 0 and "no job differs: the same signatures and outcomes" in out.output
    bad = CliRunner().invoke(cli, ["compare", "1", "7", "--store", "runs.db"])
    assert bad.exit_code == 1 and "no run 7 in the run store" in bad.output
