"""The displays: a live table in a terminal, plain lines otherwise."""

from __future__ import annotations

import io

from pipework.progress import PlainProgress, QuietProgress, RichProgress, make_progress
from pipework.state import JobState


class TTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_choice_of_display():
    assert isinstance(make_progress(stream=TTY()), RichProgress)
    assert isinstance(make_progress(stream=io.StringIO()), PlainProgress)
    assert isinstance(make_progress(quiet=True, stream=TTY()), QuietProgress)


def test_plain_lines():
    out = io.StringIO()
    progress = PlainProgress(out)
    progress.run_start("Demo", ["Count", "Total"])
    progress.proc_start("Count", 3)
    for new in (JobState.QUEUED, JobState.RUNNING, JobState.DONE):
        progress.job_state(
            "Count",
            {
                JobState.QUEUED: JobState.PENDING,
                JobState.RUNNING: JobState.QUEUED,
                JobState.DONE: JobState.RUNNING,
            }[new],
            new,
        )
    progress.job_state("Count", JobState.PENDING, JobState.CACHED)
    progress.job_state("Count", JobState.PENDING, JobState.FAILED)
    progress.proc_done("Count")
    progress.run_done(False)
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines() if "progress: " not in line]
    assert lines[0] == "pipeline Demo: 2 processes"
    assert lines[1] == "[Count] started, 3 jobs"
    assert lines[2].startswith("[Count] finished in ") and lines[2].endswith(
        "3 jobs: 1 cached, 1 done, 1 failed"
    )
    assert lines[3].startswith("run FAILED in ") and lines[3].endswith(": 3/3 jobs final")


def test_plain_progress_lines_every_tenth_and_when_quiet_for_long():
    out = io.StringIO()
    progress = PlainProgress(out)
    progress.run_start("Demo", ["A", "B"], planned={"A": 10, "B": 10}, run_id=7)
    assert out.getvalue().split(" ", 1)[1] == "run 7: pipeline Demo: 2 processes, 20 jobs\n"
    progress.proc_start("A", 10)
    for _ in range(5):
        progress.job_state("A", JobState.PENDING, JobState.DONE)
    said = [line.split("progress: ", 1)[1] for line in out.getvalue().splitlines() if "progress: " in line]
    # one line at 10 % (2 jobs) and one at 20 % (4 jobs); each with the time left
    assert [s.split(",")[0] for s in said] == ["run 7: 2/20 jobs (10%)", "run 7: 4/20 jobs (20%)"]
    assert all(" left" in s for s in said)
    progress.tick()  # not quiet for long yet: nothing
    assert out.getvalue().count("progress: ") == 2
    progress._said_at -= 31  # 31 s without a line
    progress.tick()
    assert out.getvalue().splitlines()[-1].split("progress: ", 1)[1].startswith("run 7: 5/20 jobs (25%)")


def test_live_table_shows_counts_per_process():
    out = TTY()
    progress = RichProgress(out)
    progress.run_start("Demo", ["Count", "Total"])
    progress.proc_start("Count", 3)
    progress.job_state("Count", JobState.PENDING, JobState.RUNNING)
    progress.job_state("Count", JobState.PENDING, JobState.CACHED)
    progress.job_state("Count", JobState.PENDING, JobState.DONE)
    progress.proc_done("Count")
    progress.run_done(True)
    text = out.getvalue()
    assert "pipeline Demo" in text
    for header in ("process", "queued", "running", "cached", "done", "failed"):
        assert header in text
    assert "Count" in text and "Total" in text and "waiting" in text
