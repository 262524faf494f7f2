"""What the run store keeps of outputs and measurements beyond the obvious (no service needed): the
checksum a ``cache = "content"`` reader computed becomes its input's, and a rerun never leaves an
earlier attempt's ``job.usage`` behind."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pipework import PipelineFailed, Proc
from pipework.store import RunStore

from ..unit.helpers import make_pipeline, run


def test_a_content_cached_reader_gives_its_input_a_checksum(isolated: Path):
    class Make(Proc):
        input = "n"
        input_data = [3]
        output = "f:file:{{in.n}}.txt"
        script = "seq {{in.n}} > {{out.f}}"

    class Hash(Proc):
        requires = Make
        input = "f:file"
        cache = "content"
        output = "g:file:g.txt"
        script = "cp {{in.f}} {{out.g}}"

    run(make_pipeline(Make, store="runs.db"))
    arts = {a.proc: a for a in RunStore("runs.db").artifacts(1)}
    made = arts["Make"]
    assert made.checksum == "sha256:" + hashlib.sha256(b"1\n2\n3\n").hexdigest()
    assert made.nbytes == 6 and made.consumers == (("Hash", 0),)
    assert arts["Hash"].checksum is None  # no job read it
    assert Hash


def test_a_rerun_removes_the_usage_an_earlier_attempt_left(isolated: Path):
    class Once(Proc):
        script = "echo ran"

    pipe = make_pipeline(Once, store="runs.db")
    run(pipe)
    usage = Path("wd/P/Once/0/job.usage")
    assert usage.read_text().startswith("pipework-usage 1\n")

    class Once(Proc):  # the same process, its script changed: it runs again
        script = "kill -9 $(cat job.pid)"  # its wrapper dies: no job.rc, no job.usage

    with pytest.raises(PipelineFailed):
        run(make_pipeline(Once, store="runs.db"))
    assert not usage.exists()
    (attempt,) = RunStore("runs.db").attempts(2)
    assert attempt.state in ("failed", "lost") and attempt.wall is None
