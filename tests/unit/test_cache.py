"""Cache and resume: what reruns after a change, and the reason given."""

from __future__ import annotations

import os
from pathlib import Path

from pipework import Proc

from .helpers import make_pipeline, run, write


def _chain(src: str, middle_script: str = "tr a-z A-Z < {{in.f}} > {{out.o}}"):
    class First(Proc):
        input = "f:file"
        input_data = [src]
        output = "o:file:first.txt"
        script = "cat {{in.f}} > {{out.o}}"

    class Middle(Proc):
        requires = First
        input = "f:file"
        output = "o:file:middle.txt"
        script = middle_script

    class Last(Proc):
        requires = Middle
        input = "f:file"
        output = "o:file:last.txt"
        script = "cat {{in.f}} {{in.f}} > {{out.o}}"

    return First, Middle, Last


def test_rerun_is_fully_cached(isolated: Path):
    src = write("in.txt", "abc\n")
    first, _, _ = _chain(src)
    pipe = make_pipeline(first)
    assert run(pipe).counts == {"First": {"done": 1}, "Middle": {"done": 1}, "Last": {"done": 1}}
    assert run(pipe).counts == {
        "First": {"cached": 1},
        "Middle": {"cached": 1},
        "Last": {"cached": 1},
    }


def test_editing_a_script_reruns_that_process_and_downstream_only(isolated: Path):
    src = write("in.txt", "abc\n")
    first, _, _ = _chain(src)
    run(make_pipeline(first))
    first2, _, _ = _chain(src, middle_script="tr a-z A-Z < {{in.f}} > {{out.o}}; echo edited >> {{out.o}}")
    result = run(make_pipeline(first2))
    assert result.counts == {"First": {"cached": 1}, "Middle": {"done": 1}, "Last": {"done": 1}}
    assert Path("out/Last/last.txt").read_text() == "ABC\nedited\nABC\nedited\n"


def test_changed_input_file_and_deleted_output(isolated: Path):
    src = write("in.txt", "abc\n")
    first, _, _ = _chain(src)
    pipe = make_pipeline(first)
    run(pipe)
    os.remove("wd/P/Middle/0/output/middle.txt")
    assert run(pipe).counts == {"First": {"cached": 1}, "Middle": {"done": 1}, "Last": {"done": 1}}
    write("in.txt", "xyz!\n")
    assert run(pipe).counts == {"First": {"done": 1}, "Middle": {"done": 1}, "Last": {"done": 1}}
    assert Path("out/Last/last.txt").read_text() == "XYZ!\nXYZ!\n"


def test_content_mode_ignores_touch_but_not_edits(isolated: Path):
    src = write("in.txt", "abc\n")

    class Hash(Proc):
        input = "f:file"
        input_data = [src]
        output = "o:file:o.txt"
        script = "cat {{in.f}} > {{out.o}}"
        cache = "content"

    pipe = make_pipeline(Hash)
    run(pipe)
    st = os.stat(src)
    os.utime(src, (st.st_atime + 100, st.st_mtime + 100))
    assert run(pipe).counts == {"Hash": {"cached": 1}}
    write("in.txt", "abd\n")
    assert run(pipe).counts == {"Hash": {"done": 1}}


def test_mtime_mode_reruns_on_touch(isolated: Path):
    src = write("in.txt", "abc\n")
    first, _, _ = _chain(src)
    pipe = make_pipeline(first)
    run(pipe)
    st = os.stat(src)
    os.utime(src, (st.st_atime + 100, st.st_mtime + 100))
    assert run(pipe).counts["First"] == {"done": 1}


def test_cache_false_always_reruns(isolated: Path):
    src = write("in.txt", "abc\n")
    first, _, _ = _chain(src)
    pipe = make_pipeline(first, cache=False)
    run(pipe)
    assert run(pipe).counts["First"] == {"done": 1}


def test_why_and_dry_run_explain_each_job(isolated: Path):
    write("a.txt", "a\n")
    write("b.txt", "b\n")
    write(
        "pipeline.py",
        """
from pipework import Pipeline, Proc

class Copy(Proc):
    input = "f:file"
    input_data = ["a.txt", "b.txt"]
    output = "o:file:{{in.f | basename}}"
    script = "cp {{in.f}} {{out.o}}"

class Cat(Proc):
    requires = Copy
    input = "f:file"
    output = "o:file:cat-{{in.f | basename}}"
    script = "cat {{in.f}} > {{out.o}}"

class P(Pipeline):
    starts = Copy

if __name__ == "__main__":
    P.main()
""",
    )
    import subprocess
    import sys

    assert subprocess.run([sys.executable, "pipeline.py", "-q"], check=False).returncode == 0
    write("b.txt", "bb\n")
    plan = subprocess.run([sys.executable, "pipeline.py", "--dry-run"], capture_output=True, text=True)
    assert plan.returncode == 0
    assert "Copy  2 jobs: 1 cached, 1 to run" in plan.stdout
    assert "job 1: input 'f' changed: " in plan.stdout and "b.txt (size 2 -> 3 bytes)" in plan.stdout
    assert "Cat   2 jobs: 1 cached, 1 to run" in plan.stdout
    assert "job 1: its input comes from Copy job 1, which will run" in plan.stdout
    why = subprocess.run([sys.executable, "-m", "pipework", "why", "Copy"], capture_output=True, text=True)
    assert why.returncode == 0, why.stderr
    lines = why.stdout.strip().splitlines()
    assert lines[0] == "Copy job 0: cached"
    assert lines[1].startswith("Copy job 1: input 'f' changed: ") and lines[1].endswith("b.txt (size 2 -> 3 bytes)")
    one = subprocess.run(
        [sys.executable, "-m", "pipework", "why", "Copy", "0"], capture_output=True, text=True
    )
    assert one.stdout.strip() == "Copy job 0: cached"
