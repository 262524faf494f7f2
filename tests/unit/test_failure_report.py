"""The failure report shows the cause: the first and last lines of stderr, the command, every failed job
of the batch, each retry, and what to do next."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pipework import PipelineFailed, Proc
from pipework.progress import QuietProgress

from .helpers import make_pipeline, run


class Recording(QuietProgress):
    """A display that keeps the warnings it is shown."""

    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


def _report(pipeline: type, **kw: object) -> str:
    with pytest.raises(PipelineFailed) as err:
        run(pipeline, **kw)
    return str(err.value)


def test_a_long_stderr_shows_its_first_lines_where_the_cause_is(isolated: Path):
    class Tool(Proc):
        # a tool's one-line complaint, then 40 lines of usage text
        script = "echo \"sort: unrecognized option '--bogus-flag'\" >&2\nfor i in $(seq 40); do echo usage$i >&2; done\nexit 1"

    text = _report(make_pipeline(Tool))
    assert "stderr (41 lines: the first 5 and the last 20):" in text
    assert "| sort: unrecognized option '--bogus-flag'" in text
    assert "| ... 16 more lines ..." in text
    assert "| usage40" in text and "| usage5\n" not in text
    assert "  command:" in text and "> exit 1" in text
    assert "more:        pipework logs Tool 0" in text
    assert "next: fix the cause and run again: 0 jobs finished and will be cached" in text


@pytest.mark.skipif(shutil.which("samtools") is None, reason="needs samtools (apt-get install samtools)")
def test_samtools_with_a_bad_flag_shows_samtools_own_first_line(isolated: Path):
    class Sort(Proc):
        script = "samtools sort --bogus-flag -o out.bam in.bam"

    text = _report(make_pipeline(Sort))
    assert "unrecognized option '--bogus-flag'" in text or "invalid option" in text


def test_every_failed_job_of_the_batch_is_reported_and_the_finished_ones_counted(isolated: Path):
    class Many(Proc):
        input = "n"
        input_data = list(range(6))
        forks = 6
        script = "[ {{in.n}} -lt 3 ] || { echo bad{{in.n}} >&2; exit 4; }"

    text = _report(make_pipeline(Many))
    failed = [i for i in range(6) if f"[Many job {i}] failed with return code 4" in text]
    assert failed and set(failed) <= {3, 4, 5}
    assert "finished and will be cached" in text


def test_each_retry_is_a_warning_and_each_attempt_keeps_its_logs(isolated: Path):
    class Flaky(Proc):
        error_strategy = "retry"
        num_retries = 2
        output = "o:file:o.txt"
        script = (
            "n=$(cat ../tries 2>/dev/null || echo 0); echo $((n + 1)) > ../tries\n"
            "echo attempt$((n + 1)) >&2\n"
            "[ $n -ge 2 ] && echo ok > {{out.o | quote}} || exit 3"
        )

    progress = Recording()
    result = make_pipeline(Flaky)(progress=progress).run()
    assert result.counts == {"Flaky": {"done": 1}}
    retries = [w for w in progress.warnings if "retrying" in w]
    assert len(retries) == 2
    assert "attempt 1 of 3, retrying" in retries[0] and "attempt 2 of 3" in retries[1]
    assert "[Flaky job 0] failed with return code 3" in retries[0]
    job = Path("wd/P/Flaky/0")
    assert (job / "job.stderr.1").read_text() == "attempt1\n"
    assert (job / "job.stderr.2").read_text() == "attempt2\n"
    assert (job / "job.stderr").read_text() == "attempt3\n"
