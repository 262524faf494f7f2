"""SGE builders and parsers, on output captured from our SGE 8.1.9 test cell."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipework.errors import ConfigError, SchedulerError
from pipework.resources import Resources
from pipework.schedulers.grid import GridSettings
from pipework.schedulers.sge import SgeScheduler, SgeSettings, map_state
from pipework.state import JobState

DATA = Path(__file__).parent / "data" / "sge-8.1.9"

# the pure builders and parsers are static methods of the scheduler: no instance, no cell
submit_argv = SgeScheduler.submit_argv
parse_submit = SgeScheduler.parse_submit
status_argv = SgeScheduler.status_argv
parse_status = SgeScheduler.parse_status
kill_argv = SgeScheduler.kill_argv
classify_error = SgeScheduler.classify_error


def canned(name: str) -> str:
    return "".join(
        line
        for line in (DATA / name).read_text().splitlines(keepends=True)
        if not line.startswith("# captured")
    )


def test_submit_argv_array_with_resources():
    settings = SgeSettings(queue="all.q", project="lab", extra_args=["-l", "tmpfs=1G"])
    res = Resources.parse({"cpus": 4, "mem": "8G", "time": "26h"})
    argv = submit_argv(
        settings,
        name="pw-t-Align",
        script="/w/a.sh",
        task_ids=[1, 2, 3],
        throttle=8,
        resources=res,
        chdir="/w",
    )
    assert argv == [
        "qsub", "-terse", "-V", "-N", "pw-t-Align", "-t", "1-3", "-tc", "8", "-o", "/dev/null", "-e", "/dev/null",
        "-S", "/bin/bash", "-wd", "/w", "-pe", "smp", "4", "-l", "h_vmem=2048M,h_rt=26:00:30,s_rt=26:00:00",
        "-q", "all.q", "-P", "lab", "-l", "tmpfs=1G", "/w/a.sh",
    ]  # fmt: skip


def test_submit_argv_single_and_errors():
    argv = submit_argv(
        SgeSettings(),
        name="pw-t-X-1",
        script="/w/1/job.wrapper",
        task_ids=None,
        throttle=None,
        resources=Resources(),
        chdir="/w/1",
    )
    assert argv == [
        "qsub",
        "-terse",
        "-V",
        "-N",
        "pw-t-X-1",
        "-o",
        "/dev/null",
        "-e",
        "/dev/null",
        "-S",
        "/bin/bash",
        "-wd",
        "/w/1",
        "/w/1/job.wrapper",
    ]
    with pytest.raises(ConfigError, match="gpu_resource"):
        submit_argv(
            SgeSettings(),
            name="x",
            script="s",
            task_ids=None,
            throttle=None,
            resources=Resources(gpus=1),
            chdir="/",
        )
    argv = submit_argv(
        SgeSettings(gpu_resource="gpu", mem_resource="mem_free"),
        name="x",
        script="s",
        task_ids=None,
        throttle=None,
        resources=Resources(gpus=2, mem_mib=100),
        chdir="/",
    )
    assert "mem_free=100M,gpu=2" in argv
    with pytest.raises(ConfigError, match="consecutive"):
        submit_argv(
            SgeSettings(),
            name="x",
            script="s",
            task_ids=[1, 3],
            throttle=None,
            resources=Resources(),
            chdir="/",
        )


def test_parse_submit():
    assert parse_submit(canned("qsub_terse_array.txt")).isdigit()
    assert parse_submit(canned("qsub_terse_single.txt")).isdigit()
    assert parse_submit("123.1-10:1\n") == "123"
    with pytest.raises(SchedulerError, match="qsub printed no job id"):
        parse_submit("Unable to run job\n")


def test_status_argv():
    assert status_argv(SgeSettings(), user="me") == ["qstat", "-xml", "-u", "me"]


def test_parse_status_running_tasks_pending_ranges_errors_and_holds():
    states = parse_status(canned("qstat_xml_mixed.txt"), prefix="pw-abc12345-")
    by_code = {}
    for key, status in states.items():
        by_code.setdefault(status.native, []).append((key, status.state))
    assert all(s is JobState.RUNNING for _, s in by_code["r"])
    assert all(s is JobState.QUEUED for _, s in by_code["qw"]) and all(
        s is JobState.QUEUED for _, s in by_code["hqw"]
    )
    assert [s for _, s in by_code["Eqw"]] == [JobState.FAILED]
    pending = sorted(task for (_, task), _ in by_code["qw"] if task is not None)
    assert set(range(4, 11)) <= set(pending)  # "4-10:1" expanded
    assert parse_status(canned("qstat_xml_mixed.txt"), prefix="pw-other-") == {}
    assert parse_status(canned("qstat_xml_empty.txt"), prefix="pw-") == {}
    assert parse_status("", prefix="pw-") == {}
    with pytest.raises(SchedulerError, match="qstat -xml printed something else"):
        parse_status("error: no XML", prefix="pw-")


def test_map_state_codes():
    assert [map_state(c) for c in ("qw", "hqw", "r", "t", "Rr", "s", "Eqw", "dr", "dt")] == [
        JobState.QUEUED, JobState.QUEUED, JobState.RUNNING, JobState.RUNNING, JobState.RUNNING,
        JobState.RUNNING, JobState.FAILED, JobState.KILLED, JobState.KILLED,
    ]  # fmt: skip


def test_errors_from_the_real_tools():
    err = classify_error(["qsub"], 1, canned("qsub_unknown_queue.txt"))
    assert not err.transient
    assert (
        str(err)
        == 'qsub failed: Unable to run job: Job was rejected because job requests unknown queue "nope.q" -- check scheduler_opts queue (qconf -sql lists them)'
    )
    err = classify_error(["qstat"], 1, canned("qstat_qmaster_down.txt"))
    assert err.transient and "unable to send message to qmaster" in str(err)


def test_kill_argv():
    assert kill_argv(SgeSettings(), ["12.3", "14"]) == ["qdel", "12.3", "14"]


def test_an_error_state_is_named_in_the_failure_report():
    states = parse_status(canned("qstat_xml_mixed.txt"), prefix="pw-abc12345-")
    (key,) = [key for key, status in states.items() if status.native == "Eqw"]
    jid = key[0] if key[1] is None else f"{key[0]}.{key[1]}"
    assert SgeScheduler.native_note("Eqw", jid) == f"Eqw: SGE could not start it; `qstat -j {jid}` says why"
    assert [SgeScheduler.native_note(code, "5") for code in ("qw", "r", "hqw", "dr")] == [None] * 4


def test_settings_share_the_grid_fields():
    settings = SgeSettings(queue="all.q", max_array_size=50)
    assert isinstance(settings, GridSettings) and (settings.max_array_size, settings.array) == (50, True)
    with pytest.raises(ConfigError, match="sge option max_array_size must be >= 1, got 0"):
        SgeSettings(max_array_size=0)
