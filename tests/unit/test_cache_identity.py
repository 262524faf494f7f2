"""Cache identity is honest: a moved project and an interpreter named two ways rerun nothing."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

PIPELINE = """
import sys
from pipework import Pipeline, Proc

class Count(Proc):
    input = "infile:file"
    input_data = ["data/a.txt", "data/b.txt"]
    output = "count:file:{{in.infile | stem}}.count"
    script = "wc -l < {{in.infile | quote}} > {{out.count | quote}}"

class Py(Proc):
    requires = Count
    input = "c:file"
    lang = LANG
    output = "o:file:{{in.c | stem}}.py.txt"
    script = "open({{out.o | json}}, 'w').write(open({{in.c | json}}).read())"

class P(Pipeline):
    starts = Count
    workdir = "./.pipework"
    outdir = "./out"

if __name__ == "__main__":
    P.main()
"""


def _project(root: Path, lang: str = "sys.executable") -> Path:
    (root / "data").mkdir(parents=True)
    (root / "data/a.txt").write_text("1\n2\n")
    (root / "data/b.txt").write_text("1\n")
    (root / "pipeline.py").write_text(PIPELINE.replace("LANG", lang))
    return root


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPEWORK_")}
    return subprocess.run(
        [sys.executable, "pipeline.py", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=120
    )


def test_a_copied_project_reruns_nothing(isolated: Path):
    first = _project(isolated / "proj")
    assert _run(first, "-q").returncode == 0
    shutil.copytree(first, isolated / "proj2", symlinks=True, copy_function=shutil.copy2)  # like cp -a
    plan = _run(isolated / "proj2", "--dry-run")
    assert plan.returncode == 0, plan.stderr
    assert "Count  2 jobs: 2 cached, 0 to run" in plan.stdout, plan.stdout
    assert "Py     2 jobs: 2 cached, 0 to run" in plan.stdout, plan.stdout


def test_the_interpreter_is_the_binary_whatever_its_name(isolated: Path):
    real = os.path.realpath(sys.executable)
    project = _project(isolated / "proj", lang=repr(sys.executable))
    assert _run(project, "-q").returncode == 0
    (project / "pipeline.py").write_text(PIPELINE.replace("LANG", repr(real)))  # the same binary, named otherwise
    plan = _run(project, "--dry-run")
    assert "Py     2 jobs: 2 cached, 0 to run" in plan.stdout, plan.stdout
