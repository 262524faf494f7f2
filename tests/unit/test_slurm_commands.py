"""SLURM builders and parsers, on output captured from our SLURM 22.05 test cluster."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipework.config import build_settings
from pipework.errors import ConfigError
from pipework.resources import Resources
from pipework.schedulers.grid import GridSettings, TaskStatus
from pipework.schedulers.slurm import SlurmScheduler, SlurmSettings, compress_ids
from pipework.state import JobState

DATA = Path(__file__).parent / "data" / "slurm-22.05"

# the pure builders and parsers are static methods of the scheduler: no instance, no cluster
submit_argv = SlurmScheduler.submit_argv
parse_submit = SlurmScheduler.parse_submit
status_argv = SlurmScheduler.status_argv
kill_argv = SlurmScheduler.kill_argv
classify_error = SlurmScheduler.classify_error


def parse_status(text: str, *, prefix: str) -> dict:
    """The states of :meth:`SlurmScheduler.parse_status`."""
    return {key: s.state for key, s in SlurmScheduler.parse_status(text, prefix=prefix).items()}


def native_states(text: str, *, prefix: str) -> dict:
    """The native states a failure report names (TIMEOUT, ...), by (job id, task id)."""
    parsed = SlurmScheduler.parse_status(text, prefix=prefix)
    return {
        key: note
        for key, s in parsed.items()
        if s.native and (note := SlurmScheduler.native_note(s.native, ""))
    }


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


def test_status_argv_is_one_query_by_user_whatever_the_jobs():
    argv = status_argv(SlurmSettings(), user="me")
    assert argv == [
        "squeue",
        "--noheader",
        "--array",
        "--states=all",
        "--user=me",
        "--format=%i|%T|%j|%r|%A",
    ]


def test_parse_status_returns_the_state_and_slurm_own_word():
    text = "7_[1-2]|PENDING|pw-t-A|None\n7_3|TIMEOUT|pw-t-A|None\n8|OUT_OF_MEMORY|pw-t-B|None\n9|RUNNING|pw-u-C|None\n"
    assert SlurmScheduler.parse_status(text, prefix="pw-t-") == {
        ("7", 1): TaskStatus(JobState.QUEUED, "PENDING"),
        ("7", 2): TaskStatus(JobState.QUEUED, "PENDING"),
        ("7", 3): TaskStatus(JobState.FAILED, "TIMEOUT"),
        ("8", None): TaskStatus(JobState.FAILED, "OUT_OF_MEMORY"),
    }
    notes = [
        SlurmScheduler.native_note(word, "7_3") for word in ("TIMEOUT", "NODE_FAIL", "FAILED", "PENDING")
    ]
    assert notes == ["TIMEOUT", "NODE_FAIL", None, None]


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


def test_settings_share_the_grid_fields_each_with_help_and_a_default():
    settings = SlurmSettings(poll_interval=2.0, partition="debug")
    assert isinstance(settings, GridSettings)
    assert (settings.poll_interval, settings.max_poll_interval, settings.array) == (2.0, 30.0, True)
    with pytest.raises(ConfigError, match="slurm option max_array_size must be >= 1, got 0") as err:
        SlurmSettings(max_array_size=0)
    assert err.value.key == "max_array_size"
    for f in dataclasses.fields(SlurmSettings):
        assert f.metadata["help"] and (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        ), f.name


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
