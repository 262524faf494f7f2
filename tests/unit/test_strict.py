"""Bash scripts run strict (errexit, nounset, pipefail) unless their process opts out."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipework import PipelineFailed, Proc

from .helpers import make_pipeline, run


def _fails(pipeline: type, **kw: object) -> PipelineFailed:
    with pytest.raises(PipelineFailed) as err:
        run(pipeline, **kw)
    return err.value


def test_a_failing_command_in_the_middle_fails_the_job(isolated: Path):
    class Mid(Proc):
        output = "o:file:o.txt"
        script = "echo start > {{out.o | quote}}\nfalse\necho end >> {{out.o | quote}}"

    class Next(Proc):
        requires = Mid
        script = "touch ../ran-next"

    failed = _fails(make_pipeline(Mid))
    assert "[Mid job 0] failed with return code 1" in str(failed)
    assert Path("wd/P/Mid/0/output/o.txt").read_text() == "start\n"  # stopped at `false`
    assert not Path("wd/P/Next").exists()
    assert Path("wd/P/Mid/0/job.rc").read_text() == "1\n"


def test_unset_variables_and_failing_pipes_fail_the_job(isolated: Path):
    class Unset(Proc):
        script = 'echo "$NO_SUCH_VARIABLE_PW"'

    failed = _fails(make_pipeline(Unset))
    assert "NO_SUCH_VARIABLE_PW: unbound variable" in str(failed)

    class Pipe(Proc):
        script = "exit 3 | cat"

    failed = _fails(make_pipeline(Pipe), workdir="./wd2")
    assert "[Pipe job 0] failed with return code 3" in str(failed)


def test_strict_false_opts_out_and_changing_it_reruns(isolated: Path):
    class Lax(Proc):
        strict = False
        output = "o:file:o.txt"
        script = "false\necho end > {{out.o | quote}}"

    result = run(make_pipeline(Lax))
    assert result.counts == {"Lax": {"done": 1}}
    assert Path("out/Lax/o.txt").read_text() == "end\n"
    again = run(make_pipeline(Lax))
    assert again.counts == {"Lax": {"cached": 1}}

    class Lax(Proc):  # the same process, now strict
        output = "o:file:o.txt"
        script = "false\necho end > {{out.o | quote}}"

    failed = _fails(make_pipeline(Lax))
    assert "[Lax job 0] failed with return code 1" in str(failed)


def test_strict_with_scripts_that_take_over_their_shell(isolated: Path):
    class Trap(Proc):
        output = "o:file:o.txt"
        script = "trap 'echo trapped > {{out.o | quote}}' EXIT\nfalse\necho unreachable >> {{out.o | quote}}"

    failed = _fails(make_pipeline(Trap))
    assert "failed with return code 1" in str(failed)
    assert Path("wd/P/Trap/0/output/o.txt").read_text() == "trapped\n"


def test_other_interpreters_are_not_touched(isolated: Path):
    class Py(Proc):
        lang = "python3"
        output = "o:file:o.txt"
        script = "open({{out.o | json}}, 'w').write('ok')"

    assert run(make_pipeline(Py)).counts == {"Py": {"done": 1}}


@pytest.mark.skipif(shutil.which("bwa") is None, reason="needs bwa (apt-get install bwa)")
def test_bwa_index_with_a_bad_option_fails_its_job_not_the_next_one(isolated: Path):
    Path("ref.fa").write_text(">chr1\n" + "ACGTTGCA" * 50 + "\n")

    class Index(Proc):
        input = "ref:file"
        input_data = [str(Path("ref.fa").resolve())]
        output = "idx:dir:index"
        script = (
            "mkdir -p {{out.idx | quote}}\n"
            "bwa index -a bogus -p {{out.idx | quote}}/ref {{in.ref | quote}}\n"
            "echo indexed > {{out.idx | quote}}/done"
        )

    failed = _fails(make_pipeline(Index))
    text = str(failed)
    assert "[Index job 0] failed with return code 1" in text
    assert "bogus" in text  # bwa's own complaint, from the job's stderr
    assert not Path("wd/P/Index/0/output/index/done").exists()
