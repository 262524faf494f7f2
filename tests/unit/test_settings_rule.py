"""One rule for scheduler settings: the pipeline's scheduler_opts belong to the pipeline's scheduler.

They apply to a process only when it runs on that scheduler; a process's own scheduler_opts go on top.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipework import Proc
from pipework.errors import ConfigError

from .helpers import make_pipeline, run


def test_pipeline_opts_of_another_scheduler_do_not_reach_a_local_process(isolated: Path):
    # the pipeline's opts are slurm options; its one process runs locally: they must not be checked
    # against the local scheduler (which has no 'partition')
    class Here(Proc):
        scheduler = "local"
        output = "o:file:o.txt"
        script = "echo here > {{out.o | quote}}"

    result = run(make_pipeline(Here, scheduler="slurm", scheduler_opts={"partition": "debug"}))
    assert result.counts == {"Here": {"done": 1}}
    assert Path("out/Here/o.txt").read_text() == "here\n"


def test_local_pipeline_opts_do_not_reach_a_slurm_process_in_the_plan(isolated: Path):
    # the bug: scheduler_opts = {"max_jobs": 2} on a local pipeline and {"partition": "debug"} on one
    # slurm process failed with "unknown slurm scheduler option 'max_jobs'"
    class Local(Proc):
        output = "o:file:o.txt"
        script = "echo > {{out.o | quote}}"

    class OnSlurm(Proc):
        requires = Local
        scheduler = "slurm"
        scheduler_opts = {"partition": "debug"}
        input = "i:file"
        output = "o:file:p.txt"
        script = "cp {{in.i | quote}} {{out.o | quote}}"

    pipeline = make_pipeline(Local, scheduler="local", scheduler_opts={"max_jobs": 2})()
    plans = {p.name: p for p in pipeline.plan()}
    assert plans["Local"].njobs == 1 and plans["OnSlurm"].njobs == 1


def test_a_process_on_the_pipeline_scheduler_gets_its_opts_and_its_own_on_top(isolated: Path):
    class Mine(Proc):
        scheduler_opts = {"max_jobs": "many"}  # the process's own value is the one checked
        script = "true"

    with pytest.raises(ConfigError) as info:
        make_pipeline(Mine, scheduler_opts={"max_jobs": 2})().plan()
    assert str(info.value).startswith("[Mine] local scheduler option max_jobs must be an integer, got 'many'")

    class Fine(Proc):
        scheduler_opts = {"kill_grace": 1.0}
        script = "true"

    with pytest.raises(ConfigError) as info:
        make_pipeline(Fine, scheduler_opts={"max_jobs": "x"})().plan()  # inherited from the pipeline
    assert "local scheduler option max_jobs must be an integer, got 'x'" in str(info.value)
