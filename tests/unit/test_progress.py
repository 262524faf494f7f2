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
    lines = [line.split(" ", 1)[1] for line in out.getvalue().splitlines()]
    assert lines[0] == "pipeline Demo: 2 processes"
    assert lines[1] == "[Count] started, 3 jobs"
    assert lines[2].startswith("[Count] finished in ") and lines[2].endswith(
        "3 jobs: 1 cached, 1 done, 1 failed"
    )
    assert lines[3].startswith("run FAILED in ")


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
