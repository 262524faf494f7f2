"""The pipework command: run, graph, clean, profile, plugins, version."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from click.testing import CliRunner

from pipework.cli import cli

from .helpers import write

PIPELINE = """
from pipework import Pipeline, Proc

class Hello(Proc):
    input = "who"
    input_data = ["a", "b"]
    output = "f:file:{{in.who}}.txt"
    script = "echo hello {{in.who}} > {{out.f}}"

class Join(Proc):
    requires = Hello
    input = "fs:files"
    input_data = lambda ch: [[ch.column("f")]]
    output = "f:file:all.txt"
    script = "cat {{in.fs | quote}} > {{out.f}}"

class Greet(Pipeline):
    starts = Hello
    outdir = "./greet-out"
"""


def test_run_graph_clean(isolated: Path):
    write("pipeline.py", PIPELINE)
    runner = CliRunner()
    res = runner.invoke(cli, ["run", "pipeline.py", "-q"])
    assert res.exit_code == 0, res.output
    assert Path("greet-out/Join/all.txt").read_text() == "hello a\nhello b\n"
    res = runner.invoke(cli, ["run", "pipeline.py:Greet", "--dry-run"])
    assert "Hello  2 jobs: 2 cached, 0 to run" in res.output
    res = runner.invoke(cli, ["graph", "pipeline.py"])
    assert res.output.splitlines() == [
        "flowchart TD",
        "    Hello([Hello])",
        "    Join[Join]",
        "    Hello --> Join",
    ]
    res = runner.invoke(cli, ["clean", "pipeline.py", "--yes", "--outputs"])
    assert res.exit_code == 0
    assert not Path(".pipework/Greet").exists() and not Path("greet-out").exists()


def test_run_errors_are_one_line(isolated: Path):
    res = CliRunner().invoke(cli, ["run", "nope.py"])
    assert res.exit_code == 1
    assert "pipework: error: no pipeline file 'nope.py'" in res.output
    write(
        "two.py",
        "from pipework import Pipeline\nclass A(Pipeline): pass\nclass B(Pipeline): pass\n",
    )
    res = CliRunner().invoke(cli, ["run", "two.py"])
    assert "defines 2 pipelines -- name one: two.py:A|B" in res.output


def test_profile_list_and_show(isolated: Path):
    write(".pipework.toml", '[default]\nforks = 2\n[profiles.hpc]\nscheduler = "slurm"\n')
    runner = CliRunner()
    res = runner.invoke(cli, ["profile", "list"])
    assert res.output.startswith("default  (") and "hpc  (" in res.output
    res = runner.invoke(cli, ["profile", "show", "hpc"])
    assert 'scheduler = "slurm"' in res.output and "[profiles.hpc]" in res.output
    assert "forks = 2    # " in res.output
    res = runner.invoke(cli, ["profile", "show", "nope"])
    assert res.exit_code == 1 and "no profile named 'nope'" in res.output


def test_version_and_plugins(isolated: Path):
    from pipework import __version__

    res = subprocess.run([sys.executable, "-m", "pipework", "version"], capture_output=True, text=True)
    assert res.stdout.strip() == f"pipework {__version__}"
    res = CliRunner().invoke(cli, ["plugins"])
    assert "schedulers:" in res.output and "local  (pipework.schedulers.local:LocalScheduler)" in res.output


def test_console_script_is_installed():
    exe = Path(sys.executable).with_name("pipework")
    assert exe.exists()
    res = subprocess.run([str(exe), "--help"], capture_output=True, text=True)
    assert res.returncode == 0 and "run" in res.stdout and "why" in res.stdout


def test_run_remembers_the_last_run_for_why(isolated: Path):
    write("pipeline.py", PIPELINE)
    runner = CliRunner()
    res = runner.invoke(cli, ["why", "Hello"])
    assert res.exit_code == 1
    assert (
        "no pipeline given and no previous run recorded in ./.pipework -- give the pipeline with"
        in res.output
    )
    assert runner.invoke(cli, ["run", "pipeline.py", "-q"]).exit_code == 0
    record = Path(".pipework/.pipework-last.json").read_text()
    assert str(Path("pipeline.py").resolve()) + ":Greet" in record
    res = runner.invoke(cli, ["why", "Hello"])
    assert res.exit_code == 0 and res.output.splitlines() == ["Hello job 0: cached", "Hello job 1: cached"]


def test_traceback_only_with_debug(isolated: Path):
    write("pipeline.py", PIPELINE + "\nif __name__ == '__main__':\n    Greet.main()\n")
    for how in ([sys.executable, "pipeline.py"], [sys.executable, "-m", "pipework", "run", "pipeline.py"]):
        res = subprocess.run([*how, "--forks", "0"], capture_output=True, text=True)
        assert res.returncode == 1
        assert res.stderr == "pipework: error: forks must be a positive int, got 0 (from argument)\n"
        res = subprocess.run([*how, "--forks", "0", "--debug"], capture_output=True, text=True)
        assert res.returncode == 1 and "Traceback" in res.stderr
        assert res.stderr.endswith("pipework: error: forks must be a positive int, got 0 (from argument)\n")


def test_store_commands_show_this_projects_runs_unless_all(isolated: Path, monkeypatch):
    from pipework.store import default_store_path

    for project in ("one", "two"):
        write(
            isolated / project / "pipeline.py",
            PIPELINE.replace("class Greet", f"class Greet{project.title()}"),
        )
        monkeypatch.chdir(isolated / project)
        assert CliRunner().invoke(cli, ["run", "pipeline.py", "-q"]).exit_code == 0
    runner = CliRunner()
    here = runner.invoke(cli, ["history"]).output.splitlines()  # in two/
    assert [line.split()[1] for line in here[1:]] == ["GreetTwo"] and here[1].endswith(str(isolated / "two"))
    both = runner.invoke(cli, ["history", "--all"]).output.splitlines()
    assert [line.split()[1] for line in both[1:]] == ["GreetTwo", "GreetOne"]
    assert runner.invoke(cli, ["show"]).output.startswith("run 2: pipeline GreetTwo, done\n")
    assert "Hello: 2 jobs (2 done)" in runner.invoke(cli, ["show"]).output
    monkeypatch.chdir(isolated)
    assert runner.invoke(cli, ["history"]).output == "no runs recorded in this directory (see --all)\n"
    res = runner.invoke(cli, ["show"])
    assert res.exit_code == 1 and "no runs recorded in this directory -- give a run id" in res.output
    assert runner.invoke(cli, ["show", "--all"]).output.startswith("run 2: pipeline GreetTwo, done\n")
    status = runner.invoke(cli, ["status", "--all"]).output
    assert status.startswith("run 2: pipeline GreetTwo, done, started ") and "  Join: 1 done" in status
    assert default_store_path().exists()
