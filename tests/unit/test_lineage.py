"""``pipework lineage``: where an output came from (run, process, job, script hash), and its inputs
with their own producers, from the run store alone -- by its path in the job dir, by its export in
the outdir, or by a file inside a directory output."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipework import Proc
from pipework.cli import cli

from .helpers import make_pipeline, run, write


def _procs(source: str) -> tuple[type[Proc], ...]:
    """The processes (all returned, so all stay referenced while the pipeline is built)."""

    class Cut(Proc):
        input = "src:file"
        input_data = [source]
        output = ["parts:dir:parts", "n:var:2"]
        script = "mkdir -p {{out.parts}}; head -1 {{in.src}} > {{out.parts}}/a; tail -1 {{in.src}} > {{out.parts}}/b"

    class Words(Proc):
        requires = Cut
        input = "parts:dir"
        output = "w:file:w.txt"
        script = "cat {{in.parts}}/* | wc -w > {{out.w}}"

    class Report(Proc):
        requires = Words
        input = ["w:file", "label"]
        input_data = lambda ch: [[ch.column("w")[0], "total"]]
        output = "r:file:report.txt"
        script = "echo {{in.label}} $(cat {{in.w}}) > {{out.r}}"

    return Cut, Words, Report


def _lineage(*args: str) -> tuple[int, str]:
    out = CliRunner().invoke(cli, ["lineage", *args, "--store", "runs.db"])
    return out.exit_code, out.output


def test_an_export_is_traced_to_its_job_and_its_inputs_to_theirs(isolated: Path):
    source = str(Path(write("data/in.txt", "one two\nthree\n")).absolute())
    procs = _procs(source)
    run(make_pipeline(procs[0], store="runs.db"))
    code, text = _lineage("out/Report/report.txt")
    assert code == 0, text
    lines = text.splitlines()
    assert lines[0] == "out/Report/report.txt"
    assert lines[1].startswith(
        f"  exported from {isolated}/wd/P/Report/0/output/report.txt (file output 'r', "
    )
    assert lines[2].startswith("  made by run 1 of P (") and lines[2].endswith(
        f", {isolated}), process Report job 0: done"
    )
    assert lines[3].startswith("  script sha256 ") and len(lines[3].split()[2].rstrip(",")) == 64
    assert '  input label = "total"' in lines and "  input w:" in lines
    words = lines.index("  input w:")
    assert lines[words + 1] == f"    {isolated}/wd/P/Words/0/output/w.txt"
    assert "      made by run 1 of P" in text and "process Words job 0: done" in text
    assert f"        {isolated}/wd/P/Cut/0/output/parts" in lines
    assert "process Cut job 0: done" in text
    assert f"            {source}: a source (no job in the run store made it)" in lines


def test_json_gives_the_tree_and_depth_stops_it(isolated: Path):
    source = str(Path(write("data/in.txt", "one two\nthree\n")).absolute())
    procs = _procs(source)
    run(make_pipeline(procs[0], store="runs.db"))
    code, text = _lineage(str(isolated / "wd/P/Words/0/output/w.txt"), "--json")
    assert code == 0, text
    tree = json.loads(text)
    assert tree["match"] == "output" and tree["job"]["proc"] == "Words" and tree["run"]["id"] == 1
    assert tree["output"]["nbytes"] == 2 and tree["job"]["script_hash"]
    (parts,) = tree["inputs"]
    assert parts["input"] == "parts" and parts["output"]["kind"] == "dir" and parts["job"]["proc"] == "Cut"
    assert parts["inputs"][0]["source"] is True and parts["inputs"][0]["path"] == source
    shallow = json.loads(_lineage(str(isolated / "wd/P/Words/0/output/w.txt"), "--json", "--depth", "0")[1])
    assert shallow["inputs"] == [] and shallow["truncated"] is True


def test_a_file_inside_a_directory_output_is_found_by_its_directory(isolated: Path):
    source = str(Path(write("data/in.txt", "one two\nthree\n")).absolute())
    procs = _procs(source)
    run(make_pipeline(procs[0], store="runs.db"))
    code, text = _lineage(str(isolated / "wd/P/Cut/0/output/parts/a"), "--depth", "1")
    assert code == 0, text
    assert text.splitlines()[1] == f"  inside dir output 'parts' ({isolated}/wd/P/Cut/0/output/parts)"
    assert "process Cut job 0: done" in text


def test_a_cached_output_is_traced_to_the_run_that_made_it(isolated: Path):
    source = str(Path(write("data/in.txt", "one two\nthree\n")).absolute())
    procs = _procs(source)
    pipe = make_pipeline(procs[0], store="runs.db")
    run(pipe)
    run(pipe)  # every job cached: run 2 records the outputs again
    tree = json.loads(_lineage("out/Report/report.txt", "--json")[1])
    assert tree["run"]["id"] == 1 and tree["job"]["state"] == "done" and tree["cached_in"] == 2
    _, text = _lineage("out/Report/report.txt", "--depth", "0")
    assert "made by run 1 of P" in text and "found cached by run 2" in text


def test_a_path_no_job_made_is_an_error_naming_the_fix(isolated: Path):
    write("data/in.txt", "x\n")
    code, text = _lineage("data/in.txt")
    assert code == 1
    assert "no run in the run store" in text and "made 'data/in.txt'" in text and "pipework show" in text
    tree = json.loads(_lineage("data/in.txt", "--json")[1])
    assert tree == {"path": "data/in.txt", "source": True, "inputs": []}
