"""Failed jobs: the report, halt, retry and ignore, missing outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipework import JobFailed, PipelineFailed, Proc
from pipework.errors import StorageError

from .helpers import make_pipeline, run


def test_halt_reports_process_index_rc_jobdir_and_last_20_stderr_lines(isolated: Path):
    class Fail(Proc):
        input = "n"
        input_data = [0, 1]
        script = "for i in $(seq 30); do echo line$i >&2; done; [ {{in.n}} = 0 ] || exit 7"

    with pytest.raises(PipelineFailed) as err:
        run(make_pipeline(Fail))
    text = str(err.value)
    assert "[Fail job 1] failed with return code 7" in text
    assert "return code: 7" in text
    assert f"job dir:     {Path('wd/P/Fail/1').resolve()}" in text
    assert "| line30" in text and "| line11" in text and "| line10\n" not in text + "\n"
    (failure,) = err.value.failures
    assert isinstance(failure, JobFailed) and failure.rc == 7 and failure.job == 1


def test_halt_stops_downstream_and_cancels_running_jobs(isolated: Path):
    class Slow(Proc):
        input = "n"
        input_data = [0, 1]
        forks = 2
        script = "if [ {{in.n}} = 0 ]; then sleep 0.3; exit 1; fi; sleep 30; touch finished"

    class After(Proc):
        requires = Slow
        script = "touch ran"

    with pytest.raises(PipelineFailed, match=r"\[Slow job 0\] failed with return code 1"):
        run(make_pipeline(Slow))
    assert not Path("wd/P/Slow/1/finished").exists()
    rc = Path("wd/P/Slow/1/job.rc").read_text().strip()
    assert rc == "143"  # SIGTERM reached the job; its wrapper still wrote job.rc
    assert not Path("wd/P/After").exists()


def test_retry_reruns_a_failing_job(isolated: Path):
    class Flaky(Proc):
        input = "n"
        input_data = [0]
        output = "o:file:o.txt"
        error_strategy = "retry"
        num_retries = 2
        script = (
            "c=$(cat ../attempts 2>/dev/null || echo 0); echo $((c+1)) > ../attempts; "
            "[ $c -ge 2 ] || exit 1; echo ok > {{out.o}}"
        )

    result = run(make_pipeline(Flaky))
    assert result.counts == {"Flaky": {"done": 1}}
    assert Path("wd/P/Flaky/attempts").read_text().strip() == "3"


def test_retry_gives_up_after_num_retries(isolated: Path):
    class Never(Proc):
        error_strategy = "retry"
        num_retries = 1
        script = "echo x >> ../attempts; exit 2"

    with pytest.raises(PipelineFailed, match="return code 2"):
        run(make_pipeline(Never))
    assert Path("wd/P/Never/attempts").read_text().count("x") == 2


def test_ignore_drops_the_failed_row_and_continues(isolated: Path):
    class Some(Proc):
        input = "n"
        input_data = [1, 2, 3]
        output = "v:{{in.n}}"
        error_strategy = "ignore"
        script = "[ {{in.n}} != 2 ]"

    class Next(Proc):
        requires = Some
        input = "v"
        output = "w:x{{in.v}}"
        script = "true"

    result = run(make_pipeline(Some))
    assert result.output("Next").column("w") == ["x1", "x3"]
    assert [f.job for f in result.failures] == [1]
    assert result.counts["Some"] == {"done": 2, "failed": 1}


def test_missing_output_after_rc_0_fails_naming_the_output(isolated: Path):
    class Lazy(Proc):
        output = "report:file:report.txt"
        script = "echo did nothing"

    with pytest.raises(PipelineFailed) as err:
        run(make_pipeline(Lazy))
    assert "[Lazy job 0] output 'report' was not created by the script" in str(err.value)
    assert "check the script writes {{out.report}}" in str(err.value)


def test_signature_that_cannot_be_written_fails_the_job(isolated: Path):
    class Sneaky(Proc):
        output = "o:file:o.txt"
        # with cache = False the signature is made when the job ends (with the cache on, it is stored
        # before the job runs: see the next test); the script makes its path a directory
        cache = False
        script = "echo > {{out.o}}; mkdir -p ../0/job.signature.json/x"

    with pytest.raises(PipelineFailed, match=r"\[Sneaky job 0\] its signature cannot be written"):
        run(make_pipeline(Sneaky))


def test_signature_that_cannot_be_stored_before_the_job_runs_stops_the_run(isolated: Path):
    class Blocked(Proc):
        output = "o:file:o.txt"
        script = "echo > {{out.o}}; touch ../ran"

    Path("wd/P/Blocked/0/job.signature.json/x").mkdir(parents=True)  # its signature cannot go there
    with pytest.raises(StorageError) as err:
        run(make_pipeline(Blocked))
    assert str(err.value).startswith("[Blocked job 0] cannot ")
    assert "job.signature.json" in str(err.value)
    assert not Path("wd/P/Blocked/ran").exists()  # nothing ran
