"""SLURM builders and parsers, on output captured from our SLURM 22.05 test cluster."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipework.config import build_settings
from pipework.errors import ConfigError
from pipework.resources import Resources
from pipework.schedulers.slurm import (
    SlurmSettings,
    classify_error,
    compress_ids,
    kill_argv,
    native_states,
    parse_status,
    parse_submit,
    status_argv,
    submit_argv,
)
from pipework.state import JobState

DATA = Path(__file__).parent / "data" / "slurm-22.05"


def canned(name: str) -> str:
    """A captured output, without its '# captured' header line."""
    return "".join(
        line
        for line in (DATA / name).read_text().splitlines(keepends=True)
        if not line.startswith("# captured")
    )


def test_submit_argv_for_an_array_with_resources_and_options():
    settings = SlurmSettings(partition="debug", account="lab", qos="high", extra_args=["--constraint=avx2"])
    res = Resources.parse({"cpus": 4, "mem": "8G", "time": "1-02:03:04", "gpus": 1})
    argv = submit_argv(
        settings,
        name="pw-t-Align",
        script="/w/a.sh",
        task_ids=[0, 1, 2, 5],
        throttle=8,
        resources=res,
        chdir="/w",
    )
    assert argv == [
        "sbatch", "--parsable", "--job-name=pw-t-Align", "--array=0-2,5%8", "--output=/dev/null",
        "--error=/dev/null", "--chdir=/w", "--cpus-per-task=4", "--mem=8192M", "--time=1-02:03:04",
        "--gres=gpu:1", "--partition=debug", "--account=lab", "--qos=high", "--constraint=avx2", "/w/a.sh",
    ]  # fmt: skip


def test_submit_argv_single_job_minimal():
    argv = submit_argv(
        SlurmSettings(),
        name="pw-t-X-3",
        script="/w/3/job.wrapper",
        task_ids=None,
        throttle=None,
        resources=Resources(),
        chdir="/w/3",
    )
    assert argv == [
        "sbatch",
        "--parsable",
        "--job-name=pw-t-X-3",
        "--output=/dev/null",
        "--error=/dev/null",
        "--chdir=/w/3",
        "/w/3/job.wrapper",
    ]


def test_compress_ids():
    assert compress_ids([5, 0, 1, 2, 7, 8]) == "0-2,5,7-8"
    assert compress_ids([3]) == "3"


def test_parse_submit():
    assert parse_submit(canned("sbatch_parsable.txt")).isdigit()
    assert parse_submit("123;cluster\n") == "123"
    with pytest.raises(Exception, match="sbatch printed no job id"):
        parse_submit("sbatch: error: something\n")


def test_status_argv_is_one_query_by_name():
    argv = status_argv(SlurmSettings(), user="me", names=["pw-t-A", "pw-t-B"])
    assert argv == [
        "squeue",
        "--noheader",
        "--array",
        "--states=all",
        "--user=me",
        "--name=pw-t-A,pw-t-B",
        "--format=%i|%T|%j|%r",
    ]


def test_parse_status_array_with_pending_and_running_tasks():
    states = parse_status(canned("squeue_array_mixed.txt"), prefix="pw-abc12345-")
    assert states[("1", 0)] is JobState.RUNNING and states[("1", 3)] is JobState.RUNNING
    assert states[("1", 4)] is JobState.QUEUED and states[("1", 11)] is JobState.QUEUED
    assert len(states) == 12


def test_parse_status_expands_a_pending_range_line():
    states = parse_status(canned("squeue_pending_range.txt"), prefix="pw-abc12345-")
    assert [states[("15", t)] for t in range(12)] == [JobState.QUEUED] * 12
    assert states[("1", 8)] is JobState.RUNNING


def test_parse_status_other_runs_empty_output_and_unknown_states():
    assert parse_status(canned("squeue_array_mixed.txt"), prefix="pw-other-") == {}
    assert parse_status("", prefix="pw-") == {}
    text = "7_1|SOME_NEW_STATE|pw-t-A|None\n7_2|TIMEOUT|pw-t-A|None\n7_3|CANCELLED+|pw-t-A|None\n8|COMPLETED|pw-t-B|None\n"
    states = parse_status(text, prefix="pw-t-")
    assert states == {
        ("7", 1): JobState.RUNNING,
        ("7", 2): JobState.FAILED,
        ("7", 3): JobState.KILLED,
        ("8", None): JobState.DONE,
    }
    assert native_states(text, prefix="pw-t-") == {("7", 2): "TIMEOUT"}


def test_errors_from_the_real_tools():
    err = classify_error(["sbatch"], 1, canned("sbatch_invalid_partition.txt"))
    assert not err.transient
    assert (
        str(err)
        == "sbatch failed: sbatch: error: Batch job submission failed: Invalid partition name specified -- check scheduler_opts partition (sinfo lists them)"
    )
    err = classify_error(["sbatch"], 1, canned("sbatch_mem_unsatisfiable.txt"))
    assert "exceed every node" in str(err)
    err = classify_error(["squeue"], 1, canned("squeue_controller_down.txt"))
    assert err.transient and "Unable to contact slurm controller" in str(err)


def test_kill_argv():
    assert kill_argv(SlurmSettings(), ["12_3", "12_4"]) == ["scancel", "12_3", "12_4"]


def test_settings_from_scheduler_opts():
    s = build_settings(
        SlurmSettings,
        {"partition": "long", "max_array_size": "500", "extra_args": ["-C", "x"]},
        owner="slurm scheduler",
    )
    assert (s.partition, s.max_array_size, s.extra_args) == ("long", 500, ["-C", "x"])
    with pytest.raises(
        ConfigError, match="unknown slurm scheduler option 'partiton' -- did you mean 'partition'"
    ):
        build_settings(SlurmSettings, {"partiton": "x"}, owner="slurm scheduler")
    with pytest.raises(ConfigError, match="max_array_size must be >= 1"):
        SlurmSettings(max_array_size=0)


def test_parse_status_sees_ended_jobs_and_timeouts():
    text = canned("squeue_states_all.txt")
    names = {line.split("|")[2] for line in text.splitlines()}
    states = {}
    for name in names:
        states.update(parse_status(text, prefix=name))
    assert JobState.DONE in states.values() and JobState.FAILED in states.values()
    timeouts = {
        k for line in text.splitlines() if "|TIMEOUT|" in line for k in native_states(line, prefix="pw-")
    }
    assert timeouts and all(states[k] is JobState.FAILED for k in timeouts)
