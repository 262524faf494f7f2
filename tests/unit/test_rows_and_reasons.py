"""Cache identity by input values, not row index; directories signed file by file; reasons that say
what changed; a job that writes into another process's output is named."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PIPELINE = """
from pipework import Channel, Pipeline, Proc

class Count(Proc):
    input = "infile:file"
    input_data = lambda: Channel.from_glob("data/*.txt")
    output = "count:file:{{in.infile | stem}}.count"
    script = '''
echo {{in.infile | basename}} >> ../../../../ran.log
wc -l < {{in.infile | quote}} > {{out.count | quote}}
'''

class Total(Proc):
    requires = Count
    input = "c:file"
    output = "t:file:{{in.c | stem}}.total"
    script = '''
echo total-{{in.c | basename}} >> ../../../../ran.log
cat {{in.c | quote}} > {{out.t | quote}}
'''

class P(Pipeline):
    starts = Count
    workdir = "./.pipework"
    outdir = "./out"

if __name__ == "__main__":
    P.main()
"""


def _run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PIPEWORK_")}
    return subprocess.run(
        [sys.executable, "pipeline.py", *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=300
    )


def _ran(root: Path) -> list[str]:
    log = root / "ran.log"
    lines = log.read_text().split() if log.exists() else []
    log.unlink(missing_ok=True)
    return lines


def _project(root: Path, names: list[str]) -> Path:
    (root / "data").mkdir(parents=True)
    for name in names:
        (root / "data" / f"{name}.txt").write_text(f"{name}\n")
    (root / "pipeline.py").write_text(PIPELINE)
    return root


def test_adding_a_file_to_a_glob_runs_only_its_row_and_what_depends_on_it(isolated: Path):
    root = _project(isolated / "proj", [f"s{i:03d}" for i in range(0, 100, 2)])  # 50 files
    assert _run(root, "-q").returncode == 0
    assert len(_ran(root)) == 100
    (root / "data/s011.txt").write_text("new\n")  # sorts in the middle: rows 6.. shift by one
    plan = _run(root, "--dry-run")
    assert "Count  51 jobs: 50 cached, 1 to run" in plan.stdout, plan.stdout
    assert "Total  51 jobs: 50 cached, 1 to run" in plan.stdout, plan.stdout
    res = _run(root, "-q")
    assert res.returncode == 0, res.stderr
    assert sorted(_ran(root)) == ["s011.txt", "total-s011.count"]
    # each job's directory now holds the job of its row, and the outputs are all there
    counts = sorted(p.name for p in (root / ".pipework/P/Count").glob("*/output/*.count"))
    assert len(counts) == 51 and (root / ".pipework/P/Count/6/output/s011.count").exists()
    assert (root / ".pipework/P/Count/7/output/s012.count").read_text().strip() == "1"
    assert sorted(p.name for p in (root / "out/Total").glob("*.total")) == sorted(
        p.name.replace(".txt", ".total") for p in (root / "data").glob("*.txt")
    )
    # and the next run is fully cached
    assert _run(root, "-q").returncode == 0 and _ran(root) == []


def test_removing_a_row_reruns_nothing(isolated: Path):
    root = _project(isolated / "proj", ["a", "b", "c", "d"])
    assert _run(root, "-q").returncode == 0 and len(_ran(root)) == 8
    (root / "data/b.txt").unlink()
    res = _run(root, "-q")
    assert res.returncode == 0, res.stderr
    assert _ran(root) == []
    assert (root / ".pipework/P/Total/1/output/c.total").exists()
    assert _run(root, "--dry-run").stdout.count("cached, 0 to run") == 2


def test_reasons_name_the_line_the_file_and_the_failure(isolated: Path):
    root = _project(isolated / "proj", ["a", "b"])
    assert _run(root, "-q").returncode == 0
    text = (root / "pipeline.py").read_text()
    (root / "pipeline.py").write_text(text.replace("wc -l <", "wc -lc <"))
    plan = _run(root, "--dry-run").stdout
    assert "job 0: script changed at line 3: wc -lc <" in plan, plan
    (root / "pipeline.py").write_text(text)
    (root / "data/a.txt").write_text("a\nmore\n")
    plan = _run(root, "--dry-run").stdout
    assert "job 0: input 'infile' changed: " in plan and "a.txt (size 2 -> 7 bytes)" in plan, plan
    (root / "pipeline.py").write_text(text.replace("cat {{in.c", "false; cat {{in.c"))
    assert _run(root, "-q").returncode == 1
    why = subprocess.run(
        [sys.executable, "-m", "pipework", "why", "Total"], cwd=root, capture_output=True, text=True
    )
    assert why.stdout.splitlines()[0] == "Total job 0: failed last time (rc 1)", why.stdout + why.stderr


DIRS = """
from pipework import Pipeline, Proc

class Ref(Proc):
    input = "name:var"
    input_data = ["genome"]
    output = "ref:dir:ref"
    script = "echo ACGT > {{out.ref}}/{{in.name}}.fa; echo ref >> ../../../../ran.log"

class Use(Proc):
    requires = Ref
    input = "ref:dir"
    output = "o:file:o.txt"
    script = '''
test -e {{in.ref}}/genome.fa.fai || echo 4 > {{in.ref}}/genome.fa.fai
cat {{in.ref}}/genome.fa > {{out.o}}
echo use >> ../../../../ran.log
'''

class P(Pipeline):
    starts = Ref
    workdir = "./.pipework"
    outdir = "./out"

if __name__ == "__main__":
    P.main()
"""


def test_a_job_writing_into_an_upstream_output_dir_is_named_and_not_rerun(isolated: Path):
    root = isolated / "proj"
    root.mkdir()
    (root / "pipeline.py").write_text(DIRS)
    first = _run(root)
    assert first.returncode == 0, first.stderr
    out = first.stdout + first.stderr
    assert "[Use job 0] wrote into its input 'ref', the output of process Ref (job 0)" in out, out
    assert "genome.fa.fai added in " in out
    assert _ran(root) == ["ref", "use"]
    again = _run(root, "-q")
    assert again.returncode == 0 and _ran(root) == []  # signed as the job left it: cached
    # a file of the directory that changes is named in the reason
    (root / ".pipework/P/Ref/0/output/ref/genome.fa.fai").write_text("44\n")
    plan = _run(root, "--dry-run").stdout
    assert "input 'ref' changed: " in plan and "ref/genome.fa.fai (size 2 -> 3 bytes)" in plan, plan
