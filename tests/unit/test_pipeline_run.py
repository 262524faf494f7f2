"""End-to-end runs on the local scheduler: data flow, job layout, inputs of every form, exports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pipework import Channel, Pipeline, Proc
from pipework.progress import QuietProgress

from .helpers import make_pipeline, run, write


def test_fan_out_fan_in_and_job_layout(isolated: Path):
    a = write("a.txt", "1\n2\n3\n")
    b = write("b.txt", "1\n2\n")

    class Count(Proc):
        """Count lines."""

        input = "infile:file"
        input_data = [a, b]
        output = "count:file:{{in.infile | stem}}.count"
        script = "wc -l < {{in.infile | quote}} > {{out.count | quote}}"

    class Total(Proc):
        requires = Count
        input = "counts:files"
        input_data = lambda ch: [[ch.column("count")]]
        output = "total:file:total.txt"
        script = "cat {{in.counts | quote}} | awk '{s+=$1} END {print s}' > {{out.total | quote}}"

    result = run(make_pipeline(Count))
    assert Path("out/Total/total.txt").read_text().strip() == "5"
    assert not Path("out/Count").exists()  # only processes nothing requires are exported
    assert result.counts == {"Count": {"done": 2}, "Total": {"done": 1}}
    assert [Path(p).name for p in result.output("Count").column("count")] == ["a.count", "b.count"]
    jobdir = Path("wd/P/Count/0")
    for name in (
        "job.script",
        "job.wrapper",
        "job.rc",
        "job.stdout",
        "job.stderr",
        "job.signature.json",
    ):
        assert (jobdir / name).is_file(), name
    assert (jobdir / "job.rc").read_text().strip() == "0"
    assert (jobdir / "output/a.count").read_text().strip() == "3"
    assert "wc -l <" in (jobdir / "job.script").read_text()


def test_input_data_forms_and_multi_column(isolated: Path):
    pd = pytest.importorskip("pandas")

    class FromTuples(Proc):
        input = "x, y"
        input_data = [(1, "a"), (2, "b")]
        output = "s:{{in.x}}{{in.y}}"
        script = "true"

    class FromDict(Proc):
        input = "y, x"
        input_data = {"x": [1, 2], "y": ["a", "b"]}  # matched by name
        output = "s:{{in.y}}{{in.x}}"
        script = "true"

    class FromFrame(Proc):
        input = "x"
        input_data = pd.DataFrame({"x": [7, 8, 9]})
        output = "s:{{in.x}}"
        script = "true"

    class FromChannel(Proc):
        input = "x"
        input_data = Channel(["x"], [("c",)])
        output = "s:{{in.x}}"
        script = "true"

    class Join(Proc):
        """Fan-in from two processes, combined by a callable."""

        requires = [FromTuples, FromDict]
        input = "left, right"
        input_data = lambda a, b: list(zip(a.column("s"), b.column("s"), strict=True))
        output = "joined:{{in.left}}-{{in.right}}"
        script = "true"

    pipe = make_pipeline([FromTuples, FromDict, FromFrame, FromChannel])
    result = run(pipe)
    assert result.output("FromTuples").column("s") == ["1a", "2b"]
    assert result.output("FromDict").column("s") == ["a1", "b2"]
    assert result.output("FromFrame").column("s") == ["7", "8", "9"]
    assert result.output("FromChannel").column("s") == ["c"]
    assert result.output("Join").column("joined") == ["1a-a1", "2b-b2"]


def test_default_input_joins_upstreams_side_by_side(isolated: Path):
    class A(Proc):
        input = "n"
        input_data = [1, 2]
        output = "a:{{in.n}}"
        script = "true"

    class B(Proc):
        input = "n"
        input_data = [10, 20]
        output = "b:{{in.n}}"
        script = "true"

    class C(Proc):
        requires = [A, B]
        input = "a, b"
        output = "sum:file:sum{{in.a}}.txt"
        script = "echo $(( {{in.a}} + {{in.b}} )) > {{out.sum}}"

    result = run(make_pipeline([A, B]))
    assert [Path(p).read_text().strip() for p in result.output("C").column("sum")] == ["11", "22"]


def test_python_lang_envs_var_outputs_and_derive(isolated: Path):
    class Gen(Proc):
        input = "n"
        input_data = [3]
        envs = {"greeting": "hi"}
        lang = "python3"
        output = ["text:file:out.txt", "label:{{envs.greeting}}-{{in.n}}"]
        script = """
with open({{out.text | json}}, "w") as fh:
    fh.write("{{envs.greeting}} " * {{in.n}})
"""

    Gen2 = Gen.derive("Gen2", input_data=[1], envs={"greeting": "yo"})

    class Read(Proc):
        requires = Gen2
        input = "text:file, label"
        output = "copy:file:copy.txt"
        script = "cat {{in.text}} > {{out.copy}}; echo ' {{in.label}}' >> {{out.copy}}"

    result = run(make_pipeline([Gen, Gen2]))
    assert Path(result.output("Gen").column("text")[0]).read_text() == "hi hi hi "
    assert result.output("Gen").column("label") == ["hi-3"]
    assert Path("out/Read/copy.txt").read_text() == "yo  yo-1\n"
    assert Gen.input_data == [3] and Gen.envs == {"greeting": "hi"}  # derive did not touch the original


def test_script_from_file_next_to_the_module(isolated: Path):
    write("pl/scripts/hello.sh", "echo hello {{in.who}} > {{out.f}}\n")
    write(
        "pl/pipeline.py",
        """
from pipework import Pipeline, Proc

class Hello(Proc):
    input = "who"
    input_data = ["world"]
    output = "f:file:hello.txt"
    script = "file:scripts/hello.sh"

class P(Pipeline):
    starts = Hello
    workdir = "./wd"
    outdir = "./out"
""",
    )
    from pipework.cli import load_pipeline

    cls = load_pipeline("pl/pipeline.py")
    cls(progress=QuietProgress()).run()
    assert Path("out/Hello/hello.txt").read_text() == "hello world\n"


def test_dir_outputs_and_dir_inputs(isolated: Path):
    class MakeDir(Proc):
        input = "n"
        input_data = [2]
        output = "d:dir:parts"
        script = "for i in $(seq {{in.n}}); do echo $i > {{out.d}}/$i.txt; done"

    class ListDir(Proc):
        requires = MakeDir
        input = "d:dir"
        output = "listing:file:listing.txt"
        script = "ls {{in.d}} > {{out.listing}}"

    run(make_pipeline(MakeDir))
    assert Path("out/ListDir/listing.txt").read_text().split() == ["1.txt", "2.txt"]


def test_two_pipelines_sharing_a_proc_do_not_interfere(isolated: Path):
    class Shared(Proc):
        input = "x"
        input_data = ["a", "b"]
        output = "o:file:{{in.x}}.txt"
        script = "echo {{in.x}} > {{out.o}}"

    class First(Pipeline):
        starts = Shared
        workdir = "./wd1"
        outdir = "./out1"
        forks = 1

    class Second(Pipeline):
        starts = Shared
        workdir = "./wd2"
        outdir = "./out2"
        forks = 4
        cache = False

    before = dict(vars(Shared))
    for _ in range(2):
        r1 = First(progress=QuietProgress()).run()
        r2 = Second(progress=QuietProgress()).run()
    assert r1.counts == {"Shared": {"cached": 2}}
    assert r2.counts == {"Shared": {"done": 2}}  # cache disabled only for the second pipeline
    assert Path("out1/Shared/a.txt").is_file() and Path("out2/Shared/b.txt").is_file()
    assert dict(vars(Shared)) == before
    assert First.forks == 1 and Second.forks == 4


def test_export_collision_is_an_error_before_anything_runs(isolated: Path):
    class Same(Proc):
        input = "x"
        input_data = ["a", "b"]
        output = "o:file:result.txt"
        script = "echo {{in.x}} > {{out.o}}"

    from pipework import PipelineFailed, SpecError

    with pytest.raises((SpecError, PipelineFailed), match=r"jobs 0 and 1 would both export .*result.txt"):
        run(make_pipeline(Same))
    assert not Path("wd/P/Same/0/job.rc").exists()


def test_export_is_atomic_and_keeps_the_previous_export_on_failure(isolated: Path):
    from pipework import PipelineFailed

    flag = write("flag", "good")

    class Out(Proc):
        input = "x:file"
        input_data = [flag]
        output = "o:file:o.txt"
        script = "v=$(cat {{in.x}}); [ $v = good ] || exit 3; echo $v > {{out.o}}"

    pipe = make_pipeline(Out)
    run(pipe)
    assert Path("out/Out/o.txt").read_text() == "good\n"
    write("flag", "bad")
    with pytest.raises(PipelineFailed):
        run(pipe)
    assert Path("out/Out/o.txt").read_text() == "good\n"
    assert not [p for p in Path("out/Out").iterdir() if p.name.startswith(".")]  # no temp leftovers


def test_zero_jobs_and_no_input_process(isolated: Path):
    class Once(Proc):
        output = "f:file:once.txt"
        script = "echo once > {{out.f}}"

    class Nothing(Proc):
        input = "x"
        input_data = []
        script = "exit 1"

    result = run(make_pipeline([Once, Nothing]))
    assert Path("out/Once/once.txt").read_text() == "once\n"
    assert result.counts["Nothing"] == {}


def test_signature_records_inputs_and_outputs(isolated: Path):
    src = write("in.txt", "x")

    class Sig(Proc):
        input = "f:file"
        input_data = [src]
        output = "o:file:o.txt"
        script = "cp {{in.f}} {{out.o}}"

    run(make_pipeline(Sig))
    sig = json.loads(Path("wd/P/Sig/0/job.signature.json").read_text())
    # paths under the project dir and the workdir are stored relative to them (a moved project is cached)
    assert sig["inputs"] == {"f": "{project}/in.txt"} and Path(src).resolve() == Path("in.txt").resolve()
    assert sig["files"]["f"][0][1] == 1  # size in bytes
    assert sig["outputs"]["o"] == "{jobdir}/output/o.txt"  # no row index: rows may move


def test_run_works_inside_a_running_event_loop(isolated: Path):
    """As in a Jupyter notebook, where a loop is already running."""
    import asyncio

    class Nb(Proc):
        output = "o:file:o.txt"
        script = "echo nb > {{out.o}}"

    async def notebook_cell():
        return make_pipeline(Nb)(progress=QuietProgress()).run()

    result = asyncio.run(notebook_cell())
    assert result.ok and Path("out/Nb/o.txt").read_text() == "nb\n"
