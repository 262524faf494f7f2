"""Plugins installed as packages: entry points for schedulers and hooks (examples/scheduler_plugin)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipework import Proc
from pipework.cli import cli

from .helpers import make_pipeline, run, write

pytest.importorskip("pipework_detached", reason="install examples/scheduler_plugin (tests/run.sh does)")


def _two():
    class Two(Proc):
        input = "n"
        input_data = [1, 2]
        output = "o:file:{{in.n}}.txt"
        script = "echo {{in.n}} > {{out.o}}"

    return Two


def test_a_plugin_scheduler_is_used_by_name(isolated: Path):
    result = run(make_pipeline(_two(), scheduler="detached"))
    assert result.counts == {"Two": {"done": 2}}
    assert Path("out/Two/2.txt").read_text() == "2\n"
    assert Path("wd/P/Two/0/job.jid").read_text().strip().isdigit()  # the plugin's pid job id


def test_entry_point_hook_plugin_runs_and_can_be_disabled(isolated: Path, monkeypatch):
    monkeypatch.setenv("PIPEWORK_JOB_LOG", str(isolated / "jobs.log"))
    run(make_pipeline(_two()))
    assert sorted(Path("jobs.log").read_text().splitlines()) == ["Two 0 done 0", "Two 1 done 0"]
    Path("jobs.log").unlink()
    run(make_pipeline(_two(), workdir="./wd2", plugins=["-job_log"]))
    assert not Path("jobs.log").exists()


def test_plugins_command_lists_plugins_and_schedulers():
    res = CliRunner().invoke(cli, ["plugins"])
    assert "job_log  (pipework_detached.joblog)" in res.output
    assert "detached  (pipework_detached:DetachedScheduler)" in res.output


def test_a_plugin_that_fails_to_import_is_reported_once_and_skipped(isolated: Path):
    site = isolated / "site"
    dist = site / "broken_plugin-0.1.dist-info"
    write(dist / "METADATA", "Metadata-Version: 2.1\nName: broken-plugin\nVersion: 0.1\n")
    write(dist / "entry_points.txt", "[pipework]\nbroken = no_such_module_xyz\n")
    write(
        "pipeline.py",
        """
from pipework import Pipeline, Proc

class One(Proc):
    script = "true"

class P(Pipeline):
    starts = One

if __name__ == "__main__":
    P.main()
""",
    )
    env = {**__import__("os").environ, "PYTHONPATH": str(site)}
    res = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    warnings = [line for line in res.stderr.splitlines() if "broken" in line]
    assert len(warnings) == 1
    assert "plugin 'broken' (no_such_module_xyz) failed to load and is skipped" in warnings[0]


def test_a_plugin_adds_a_command_with_on_cli(isolated: Path):
    site = isolated / "site"
    write(
        site / "hello_plugin.py",
        """
import click
from pipework.plugins import hookimpl

@hookimpl
def on_cli(*, cli):
    @cli.command()
    @click.argument("name")
    def hello(name):
        '''Say hello (from a plugin).'''
        click.echo(f"hello {name} from a plugin")
""",
    )
    dist = site / "hello_plugin-0.1.dist-info"
    write(dist / "METADATA", "Metadata-Version: 2.1\nName: hello-plugin\nVersion: 0.1\n")
    write(dist / "entry_points.txt", "[pipework]\nhello = hello_plugin\n")
    env = {**__import__("os").environ, "PYTHONPATH": str(site)}
    res = subprocess.run(
        [sys.executable, "-m", "pipework", "hello", "lab"], capture_output=True, text=True, env=env
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "hello lab from a plugin\n"
