"""Resources and scheduler options as functions of the job: declared strictly, evaluated per job and
attempt, checked like literal values, capped by resource_limits, and grouped into one submission per
distinct set."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import pytest

from pipework import Proc
from pipework.attempts import exit_kind, growth, prepare
from pipework.config import RunConfig
from pipework.errors import ConfigError, SpecError
from pipework.resources import JobView, Resources, format_memory, format_time
from pipework.schedulers.slurm import SlurmScheduler, SlurmSettings
from pipework.spec import make_spec
from pipework.testing import make_jobs


def spec_of(**attrs: Any):
    attrs.setdefault("script", "true")
    cls = type("Grow", (Proc,), {"__module__": __name__, **attrs})
    return make_spec(cls, RunConfig(), is_end=True)


def settings_for(job) -> object:
    return SlurmScheduler(SlurmSettings(), run_tag="t").settings_for(job)


# -- declarations ------------------------------------------------------------------------------------


def test_functions_are_kept_apart_from_literal_values():
    spec = spec_of(
        resources={"cpus": 2, "mem": lambda job: f"{4 * job.attempt}G"},
        resource_limits={"mem": "64G", "time": "24h"},
        retry_on=["oom", "timeout"],
    )
    assert spec.resources == Resources(cpus=2)
    assert list(spec.resource_functions) == ["mem"]
    assert spec.resource_limits == Resources(mem_mib=64 * 1024, time_s=24 * 3600)
    assert spec.retry_on == frozenset({"oom", "timeout"})
    assert spec.error_strategy == "retry"  # retry_on implies it
    assert spec.per_attempt


def test_a_process_without_functions_is_as_before():
    spec = spec_of(resources={"mem": "4G"})
    assert spec.resource_functions == {} and spec.opts_functions == {} and not spec.per_attempt
    assert spec.retry_on is None and spec.error_strategy == "halt"


@pytest.mark.parametrize(
    ("attrs", "error", "text"),
    [
        ({"retry_on": "oom"}, SpecError, "[Grow] retry_on is 'oom' (str) -- retry_on must be a list"),
        (
            {"retry_on": ["oom", "tiemout"]},
            SpecError,
            "[Grow] retry_on has unknown failure kind 'tiemout' -- did you mean 'timeout'?",
        ),
        ({"retry_on": []}, SpecError, "[Grow] retry_on is empty: no failure would be retried"),
        (
            {"retry_on": ["oom"], "error_strategy": "ignore"},
            SpecError,
            "[Grow] retry_on is set but error_strategy is 'ignore': nothing would be retried -- remove",
        ),
        (
            {"resource_limits": "64G"},
            SpecError,
            "[Grow] resource_limits is '64G' (str) -- resource_limits must be a dict",
        ),
        (
            {"resources": {"mem": "128G"}, "resource_limits": {"mem": "64G"}},
            ConfigError,
            "[Grow] resources.mem asks for 128G, over resource_limits.mem (64G) -- ask for at most mem=64G",
        ),
        (
            {"resource_limits": {"mem": lambda job: "8G"}},
            ConfigError,
            "[Grow] resource_limits.mem is a function -- limits are fixed values",
        ),
        (
            {"resource_limits": {"memory": "8G"}},
            ConfigError,
            "[Grow] Grow.resource_limits has unknown key(s) ['memory']",
        ),
        (
            {"resources": {"mem": lambda: "8G"}},
            ConfigError,
            "[Grow] Grow.resources.mem is a function of (), which cannot take the job -- write a function "
            "of one argument",
        ),
        (
            {"resources": {"mem": "lots", "time": lambda job: "1h"}},
            ConfigError,
            "[Grow] Grow.resources.mem is 'lots', which is not a memory amount",
        ),
        (
            {"scheduler": "slurm", "scheduler_opts": {"partiton": lambda job: "long"}},
            ConfigError,
            "[Grow] unknown slurm scheduler option 'partiton' (a function) -- did you mean 'partition'?",
        ),
    ],
)
def test_declarations_stay_strict(attrs: dict[str, Any], error: type[Exception], text: str):
    with pytest.raises(error) as info:
        spec_of(**attrs)
    assert str(info.value).startswith(text), str(info.value)


def test_the_limit_error_names_the_key():
    with pytest.raises(ConfigError) as info:
        spec_of(resources={"time": "2d"}, resource_limits={"time": "24h"})
    assert info.value.key == "resources.time" and info.value.proc == "Grow"


# -- evaluation per job and attempt ------------------------------------------------------------------


def test_a_function_sees_the_attempt_the_index_the_inputs_and_the_reason(tmp_path: Path):
    seen: list[tuple[int, int, str | None, object]] = []

    def mem(job: JobView) -> str:
        seen.append((job.index, job.attempt, job.reason, getattr(job, "in")))
        return f"{4 * job.attempt}G"

    jobs = make_jobs(tmp_path, ["true"] * 2, resources={"mem": mem, "cpus": 2})
    [group] = prepare(jobs, settings_for)
    assert group == jobs
    assert [job.resources for job in jobs] == [Resources(cpus=2, mem_mib=4096)] * 2
    jobs[1].attempts, jobs[1].failure_kind = 1, "oom"
    prepare([jobs[1]], settings_for)
    assert jobs[1].resources == Resources(cpus=2, mem_mib=8192)
    assert jobs[1].failure_kind is None  # the reason was handed to the function, then cleared
    assert [s[:3] for s in seen] == [(0, 1, None), (1, 1, None), (1, 2, "oom")]
    assert dict(seen[0][3]) == {}  # make_jobs' processes have no inputs: an empty namespace


def test_the_job_view_is_read_only_and_names_what_it_has():
    view = JobView(proc="P", index=0, attempt=1, in_={}, reason=None)
    with pytest.raises(AttributeError):
        view.attempt = 2  # type: ignore[misc]
    with pytest.raises(AttributeError, match="has no 'attempts': it is called with the job: job.attempt"):
        _ = view.attempts  # type: ignore[attr-defined]


def test_what_a_function_asks_is_capped_and_none_asks_nothing(tmp_path: Path):
    jobs = make_jobs(
        tmp_path,
        ["true"],
        resources={"mem": lambda job: f"{40 * job.attempt}G", "time": lambda job: None},
    )
    jobs[0].spec = dataclasses.replace(jobs[0].spec, resource_limits=Resources(mem_mib=64 * 1024))
    jobs[0].attempts = 1
    prepare(jobs, settings_for)
    assert jobs[0].resources == Resources(mem_mib=64 * 1024)  # 80G asked, 64G given
    assert growth(jobs[0], Resources(mem_mib=40 * 1024)) == " with mem=64G (at its resource_limits)"
    assert growth(jobs[0], Resources(mem_mib=64 * 1024)) == " with mem=64G again (at its resource_limits)"


def test_jobs_that_ask_alike_are_one_group_in_order(tmp_path: Path):
    jobs = make_jobs(
        tmp_path, ["true"] * 5, resources={"mem": lambda job: "8G" if job.index % 2 else "4G", "cpus": 1}
    )
    groups = prepare(jobs, settings_for)
    assert [[j.index for j in g] for g in groups] == [[0, 2, 4], [1, 3]]
    assert [g[0].resources.mem_mib for g in groups] == [4096, 8192]


@pytest.mark.parametrize(
    ("function", "text"),
    [
        (
            lambda job: 1 / 0,
            "[Grow job 0] the resources.mem function raised ZeroDivisionError: division by zero "
            "(attempt 1) -- it is called with the job: job.attempt (1, 2, ...)",
        ),
        (
            lambda job: "lots",
            "[Grow job 0] resources.mem is 'lots', which is not a memory amount (returned by its function "
            "for attempt 1) -- write it as MiB (an int) or with a unit",
        ),
        (
            lambda job: lambda j: "8G",
            "[Grow job 0] the resources.mem function returned a function",
        ),
    ],
)
def test_a_function_that_raises_or_returns_a_bad_value_is_one_error(tmp_path: Path, function, text: str):
    jobs = make_jobs(tmp_path, ["true"], proc="Grow", resources={"mem": function})
    with pytest.raises(ConfigError) as info:
        prepare(jobs, settings_for)
    assert str(info.value).startswith(text), str(info.value)
    assert info.value.key == "resources.mem" and info.value.job == 0
    assert jobs[0].attempts == 0  # nothing was counted


def test_scheduler_options_as_functions_are_checked_like_literal_ones(tmp_path: Path):
    jobs = make_jobs(
        tmp_path,
        ["true"] * 2,
        proc="Grow",
        scheduler="slurm",
        scheduler_opts={"qos": "normal", "partition": lambda job: "long" if job.attempt > 1 else "short"},
    )
    sched = SlurmScheduler(SlurmSettings(), run_tag="t")
    prepare(jobs, sched.settings_for)
    assert [sched.settings_for(j).partition for j in jobs] == ["short", "short"]
    assert sched.settings_for(jobs[0]) is sched.settings_for(jobs[1])  # built once per distinct set
    jobs[0].attempts = 1
    prepare([jobs[0]], sched.settings_for)
    assert sched.settings_for(jobs[0]).partition == "long" and sched.settings_for(jobs[0]).qos == "normal"

    bad = make_jobs(
        tmp_path / "b",
        ["true"],
        proc="Grow",
        scheduler="slurm",
        scheduler_opts={"max_array_size": lambda j: 0},
    )
    with pytest.raises(ConfigError) as info:
        prepare(bad, sched.settings_for)
    assert str(info.value).startswith(
        "[Grow job 0] slurm option max_array_size must be >= 1, got 0 (from its scheduler_opts functions, "
        "attempt 1)"
    ), str(info.value)


# -- what a retry's warning and the exit status say --------------------------------------------------


def test_values_are_shown_as_users_write_them():
    assert [format_memory(m) for m in (512, 1024, 1536, 64 * 1024)] == ["512M", "1G", "1536M", "64G"]
    assert [format_time(s) for s in (45, 1200, 5400, 93600)] == ["45s", "20m", "1h30m", "1d2h"]
    assert Resources(cpus=4).changes(Resources(cpus=2)) == ["cpus"]


@pytest.mark.parametrize(
    ("rc", "status", "kind"),
    [
        (137, None, "oom"),  # SIGKILL: most often the out-of-memory killer
        (138, None, "timeout"),  # the wrapper's SIGUSR1 trap (SGE s_rt)
        (140, None, "timeout"),  # SIGUSR2
        (152, None, "timeout"),  # SIGXCPU
        (143, None, "exit"),  # SIGTERM: the scheduler says whether it was a time limit
        (1, None, "exit"),
        (None, -9, "oom"),  # the wrapper itself was SIGKILLed (the local scheduler sees it)
        (None, -15, "exit"),
        (None, 0, "exit"),  # could not write job.rc
        (None, None, "exit"),
    ],
)
def test_the_exit_status_conventions(rc: int | None, status: int | None, kind: str):
    assert exit_kind(rc, status) == kind


def test_a_pipeline_s_functions_reach_its_processes_not_the_run_wide_settings():
    from pipework.spec import scheduler_opts

    config = RunConfig(
        scheduler="slurm",
        scheduler_opts={"qos": "normal", "partition": lambda job: "long"},
        resources={"mem": lambda job: f"{job.attempt}G"},
    )
    assert scheduler_opts(config, "slurm") == {"qos": "normal"}  # each job's: not the scheduler's
    cls = type("Grow", (Proc,), {"__module__": __name__, "script": "true"})
    spec = make_spec(cls, config, is_end=True)
    assert list(spec.opts_functions) == ["partition"] and list(spec.resource_functions) == ["mem"]
    assert spec.scheduler_opts == {"qos": "normal"}
