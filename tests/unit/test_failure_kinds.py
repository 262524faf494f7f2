"""Why a job failed (oom, timeout, node_fail, preempted, cancelled, exit): each scheduler's parsers on
output captured from our SLURM 22.05 and SGE 8.1.9 services, the grid base asking the accounting once
and only when it must, and the retry decisions and warnings of a run."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from pipework import PipelineFailed, Proc
from pipework.jobdir import failure
from pipework.progress import QuietProgress
from pipework.schedulers.gbatch import task_failure_kind
from pipework.schedulers.sge import SgeScheduler, SgeSettings, accounting_kind, parse_qacct
from pipework.schedulers.slurm import SlurmScheduler, SlurmSettings
from pipework.state import JobState
from pipework.testing import make_jobs, wait_all

from .helpers import make_pipeline, run

DATA = Path(__file__).parent / "data"


def canned(name: str) -> str:
    lines = (DATA / name).read_text().splitlines(keepends=True)
    return "".join(line for line in lines if not line.startswith("# captured"))


# -- SLURM -------------------------------------------------------------------------------------------


def test_squeue_gives_running_array_tasks_their_own_ids():
    statuses = SlurmScheduler.parse_status(canned("slurm-22.05/squeue_raw_ids.txt"), prefix="pw-cap1-")
    assert statuses[("130", 0)].raw_id == "132" and statuses[("130", 1)].raw_id == "133"
    assert statuses[("130", 2)].state is JobState.QUEUED  # pending: still the array's id
    assert statuses[("131", 1)].native == "FAILED"


def test_slurm_states_name_the_kind_and_failed_names_none():
    kinds = [SlurmScheduler.native_kind(s) for s in ("OUT_OF_MEMORY", "TIMEOUT", "NODE_FAIL", "PREEMPTED")]
    assert kinds == ["oom", "timeout", "node_fail", "preempted"]
    assert SlurmScheduler.native_kind("CANCELLED") == "cancelled"
    assert SlurmScheduler.native_kind("FAILED") is None  # the return code tells the rest


def test_sacct_answers_are_parsed_by_job_id_and_raw_id():
    # the jobcomp file (our cluster has no slurmdbd): array tasks appear under their own ids
    assert SlurmScheduler.parse_accounting(canned("slurm-22.05/sacct_jobcomp.txt")) == {"126": "timeout"}
    # slurmdbd's format (written by hand in sacct's -P layout): array tasks under both ids; the last
    # line of a requeued job wins
    dbd = "7_1|9|OUT_OF_MEMORY|0:125\n7_2|10|FAILED|3:0\n8|8|PREEMPTED|0:0\n8|8|COMPLETED|0:0\n"
    assert SlurmScheduler.parse_accounting(dbd) == {"7_1": "oom", "9": "oom"}


def test_sacct_is_asked_by_job_ids_then_from_the_jobcomp_file_by_own_ids(tmp_path: Path):
    jobs = make_jobs(tmp_path, ["true"] * 3, scheduler="slurm")
    for job, jid in zip(jobs, ("7_0", "7_1", "9"), strict=True):
        job.jid = jid
    sched = SlurmScheduler(SlurmSettings(), run_tag="t")
    raw = {jobs[0]: "12"}  # job 1 was never seen running: the jobcomp file cannot name it
    assert sched.accounting_argv(jobs, raw) == [
        "sacct", "-X", "-n", "-P", "--format=JobID,JobIDRaw,State,ExitCode", "--jobs=7_0,7_1,9",
    ]  # fmt: skip
    disabled = SlurmScheduler.classify_error(["sacct"], 1, canned("slurm-22.05/sacct_no_slurmdbd.txt"))
    assert sched.accounting_argv(jobs, raw, after=disabled) == [
        "sacct", "-c", "-X", "-n", "-P", "--format=JobID,JobIDRaw,State,ExitCode", "--jobs=12,9",
    ]  # fmt: skip
    assert sched.accounting_argv(jobs, raw, after=disabled) is None  # no third try
    assert sched.accounting_argv(jobs, raw)[1] == "-c"  # learnt once for the run
    none = SlurmScheduler(SlurmSettings(accounting="none"), run_tag="t")
    assert none.accounting_argv(jobs, raw) is None
    assert SlurmScheduler.needs_accounting(None, 143) and not SlurmScheduler.needs_accounting("FAILED", 1)


class FakeSlurm(SlurmScheduler):
    """sbatch, squeue and sacct answered by the test (a fake of our command runner, not of SLURM)."""

    def __init__(self) -> None:
        super().__init__(SlurmSettings(poll_interval=0.02, max_poll_interval=0.05), run_tag="t")
        self.queue: dict[str, tuple[str, str]] = {}  # jid -> (state, own id)
        self.sacct: list[str | Exception] = []
        self.next_id = 100

    async def run_command(self, argv: Sequence[str]) -> str:
        self.commands_run.append(list(argv))
        if argv[0] == "sbatch":
            self.next_id += 1
            return f"{self.next_id}\n"
        if argv[0] == "squeue":
            return "".join(f"{j}|{s}|pw-t-Grow|None|{raw}\n" for j, (s, raw) in self.queue.items())
        answer = self.sacct.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_a_slurm_run_learns_each_kind_with_one_sacct_and_resubmits_with_more(tmp_path: Path):
    jobs = make_jobs(
        tmp_path,
        ["true"] * 3,
        proc="Grow",
        scheduler="slurm",
        resources={"time": lambda job: f"{10 * job.attempt}m", "mem": lambda job: f"{job.index // 2 + 1}G"},
    )
    sched = FakeSlurm()

    async def main() -> dict:
        queue: asyncio.Queue = asyncio.Queue()
        await sched.dispatch(jobs, queue)
        sched.queue = {job.jid: ("RUNNING", str(200 + job.index)) for job in jobs}
        while sched.status_calls < 1:
            await asyncio.sleep(0.01)
        for job, rc in zip(jobs, ("143", "0", "143"), strict=True):
            Path(job.path("job.rc")).write_text(rc + "\n")
        # job 0 ends by its time limit, job 1 well; job 2 leaves squeue before it shows how it ended
        sched.queue = {jobs[0].jid: ("TIMEOUT", "200"), jobs[1].jid: ("COMPLETED", "201")}
        disabled = SlurmScheduler.classify_error(["sacct"], 1, canned("slurm-22.05/sacct_no_slurmdbd.txt"))
        sched.sacct = [disabled, "202|202|TIMEOUT|0:0\n"]
        finals = await wait_all(sched, jobs, queue, timeout=20)
        kinds = [job.failure_kind for job in jobs]
        await sched.dispatch([jobs[0], jobs[2]], queue)
        await sched.close()
        return finals, kinds

    finals, kinds = asyncio.run(main())
    assert [finals[j] for j in jobs] == [JobState.FAILED, JobState.DONE, JobState.FAILED]
    assert kinds == ["timeout", None, "timeout"]  # job 0 from squeue, job 2 from the jobcomp file
    assert [j.failure_kind for j in jobs] == [None, None, None]  # handed to attempt 2, then cleared
    sbatch = [a for a in sched.commands_run if a[0] == "sbatch"]
    # attempt 1: one array per distinct set (jobs 0 and 1 ask 1G, job 2 asks 2G); attempt 2: more time
    assert [tuple(x for x in a if x.startswith(("--mem", "--time"))) for a in sbatch] == [
        ("--mem=1024M", "--time=00:10:00"), ("--mem=2048M", "--time=00:10:00"),
        ("--mem=1024M", "--time=00:20:00"), ("--mem=2048M", "--time=00:20:00"),
    ]  # fmt: skip
    assert "--array=0-1" in sbatch[0] and "--array=0" in sbatch[1]
    sacct = [a for a in sched.commands_run if a[0] == "sacct"]
    assert [a[-1] for a in sacct] == ["--jobs=102_0", "--jobs=202"]  # once, for job 2 only (array 102)
    assert "-c" in sacct[1]


def test_the_failure_report_names_the_kind_and_the_fix(tmp_path: Path):
    (job,) = make_jobs(tmp_path, ["true"], proc="Grow", scheduler="slurm")
    job.rc, job.failure_kind, job.native_state = 143, "timeout", "TIMEOUT"
    err = failure(job, "failed with return code 143")
    assert str(err).startswith(
        "[Grow job 0] failed with return code 143 (timeout; scheduler: TIMEOUT) -- it ran out of time: "
        "ask for more (resources = {'time': '4h'}), or for more at each retry: resources = {'time': "
        "lambda job: f'{2 * job.attempt}h'}, retry_on = ['timeout']"
    ), str(err)
    job.failure_kind, job.native_state = "exit", None
    assert str(failure(job, "failed with return code 1")) == "[Grow job 0] failed with return code 1"


# -- SGE ---------------------------------------------------------------------------------------------


def test_qacct_records_tell_a_time_limit_from_an_exit():
    records = parse_qacct(canned("sge-8.1.9/qacct_j.txt"))
    assert sorted(records) == ["25", "26", "27", "28.1", "28.2"]
    assert {jid: accounting_kind(r) for jid, r in records.items()} == {
        "25": "timeout",  # s_rt: the wrapper's 138
        "26": "timeout",  # killed at h_rt: failed 37, exit 137
        "27": None,  # h_vmem stopped python's allocation: MemoryError, exit 1, nothing to tell more
        "28.1": None,
        "28.2": None,
    }
    assert SgeScheduler.parse_accounting(canned("sge-8.1.9/qacct_j.txt")) == {
        "25": "timeout",
        "26": "timeout",
    }


@pytest.mark.parametrize(
    ("record", "kind"),
    [
        ({"failed": "37  : qmaster enforced", "exit_status": "137", "category": "-l h_vmem=1G"}, "oom"),
        (
            {"failed": "100 : assumedly after job", "exit_status": "137", "category": "-l h_vmem=1G",
             "maxvmem": "0.98GB", "ru_wallclock": "20s"},
            "oom",
        ),
        ({"failed": "0", "exit_status": "1", "category": "-l h_vmem=1G", "maxvmem": "1000.0MB"}, "oom"),
        ({"failed": "0", "exit_status": "152", "category": "NONE"}, "timeout"),
        ({"failed": "8   : in prolog", "exit_status": "0", "category": "NONE"}, "node_fail"),
        ({"failed": "28  : changing into working directory", "exit_status": "0"}, None),
    ],
)  # fmt: skip
def test_sge_failed_codes_exit_status_and_peaks(record: dict[str, str], kind: str | None):
    assert accounting_kind({"slots": "1", **record}) == kind


class FakeSge(SgeScheduler):
    """qsub, qstat and qacct answered by the test."""

    def __init__(self) -> None:
        super().__init__(SgeSettings(array=False, poll_interval=0.02), run_tag="t")
        self.ids = iter(["26", "27"])

    async def run_command(self, argv: Sequence[str]) -> str:
        self.commands_run.append(list(argv))
        if argv[0] == "qsub":
            return next(self.ids) + "\n"
        if argv[0] == "qacct":
            return canned("sge-8.1.9/qacct_j.txt")
        return ""  # qstat: the jobs ended


def test_an_sge_run_asks_qacct_once_only_about_jobs_a_signal_ended(tmp_path: Path):
    jobs = make_jobs(tmp_path, ["true"] * 2, proc="Grow", scheduler="sge")
    sched = FakeSge()

    async def main() -> dict:
        queue: asyncio.Queue = asyncio.Queue()
        await sched.dispatch(jobs, queue)
        Path(jobs[0].path("job.rc")).write_text("137\n")  # SIGKILL: by itself it would say oom
        Path(jobs[1].path("job.rc")).write_text("1\n")
        try:
            return await wait_all(sched, jobs, queue, timeout=20)
        finally:
            await sched.close()

    assert asyncio.run(main()) == {jobs[0]: JobState.FAILED, jobs[1]: JobState.FAILED}
    assert [j.failure_kind for j in jobs] == ["timeout", "exit"]  # qacct: killed at h_rt
    qacct = [a for a in sched.commands_run if a[0] == "qacct"]
    assert qacct == [["qacct", "-j", "pw-t-*"]]


# -- gbatch ------------------------------------------------------------------------------------------


def test_batch_reserved_exit_codes_and_events():
    assert [task_failure_kind(c, "") for c in (50001, 50002, 50005, 50006, 137, 1, None)] == [
        "preempted", "node_fail", "timeout", "node_fail", None, None, None,
    ]  # fmt: skip
    assert task_failure_kind(None, "Task failed due to Spot VM preemption") == "preempted"


# -- a run on the local scheduler: what is retried, and what the warnings say ------------------------


class Recording(QuietProgress):
    def __init__(self) -> None:
        super().__init__()
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        self.warnings.append(message)


#: Fails its first two attempts, then succeeds; ``HOW`` ends the attempt that fails.
FLAKY = "c=$(cat ../tries 2>/dev/null || echo 0); echo $((c + 1)) > ../tries; [ $c -ge 2 ] || HOW; echo ok"


def test_a_job_killed_by_sigkill_is_retried_on_oom_with_more_memory(isolated: Path):
    reasons: list[tuple[int, str | None]] = []

    def mem(job):
        reasons.append((job.attempt, job.reason))
        return f"{4 * job.attempt}G"

    class Big(Proc):
        retry_on = ["oom"]
        num_retries = 2
        resources = {"mem": mem, "cpus": 1}
        script = FLAKY.replace("HOW", "bash -c 'kill -9 $$'")

    progress = Recording()
    result = make_pipeline(Big)(progress=progress).run()
    assert result.counts == {"Big": {"done": 1}}
    assert reasons == [(1, None), (2, "oom"), (3, "oom")]
    retries = [w for w in progress.warnings if "retrying" in w]
    assert retries[0].startswith(
        "[Big job 0] failed with return code 137 (oom) -- oom: attempt 1 of 3, retrying with mem=8G; "
        "its output of that attempt: job.stdout.1, job.stderr.1"
    ), retries
    assert "attempt 2 of 3, retrying with mem=12G" in retries[1]


def test_a_failure_whose_kind_is_not_in_retry_on_is_not_retried(isolated: Path):
    class Strict(Proc):
        retry_on = ["oom", "timeout"]
        script = FLAKY.replace("HOW", "exit 3")

    progress = Recording()
    with pytest.raises(PipelineFailed, match=r"\[Strict job 0\] failed with return code 3"):
        make_pipeline(Strict)(progress=progress).run()
    assert Path("wd/P/Strict/tries").read_text() == "1\n"
    assert progress.warnings == [
        "[Strict job 0] failed with return code 3 -- exit: not retried, retry_on is oom, timeout"
    ]


def test_a_time_limit_signal_is_a_timeout_and_more_time_is_asked(isolated: Path):
    class Slow(Proc):
        retry_on = ["timeout"]
        resources = {"time": lambda job: f"{10 * job.attempt}m"}
        resource_limits = {"time": "20m"}
        script = FLAKY.replace("HOW", "kill -USR1 $$")  # what SGE's s_rt sends the wrapper

    progress = Recording()
    assert make_pipeline(Slow)(progress=progress).run().counts == {"Slow": {"done": 1}}
    retries = [w for w in progress.warnings if "retrying" in w]
    first = "failed with return code 138 (timeout) -- timeout: attempt 1 of 4, retrying with time=20m "
    assert first + "(at its resource_limits); " in retries[0]
    assert "attempt 2 of 4, retrying with time=20m again (at its resource_limits)" in retries[1]


def test_without_retry_on_every_kind_is_retried_as_before(isolated: Path):
    class Any_(Proc):
        error_strategy = "retry"
        script = FLAKY.replace("HOW", "exit 3")

    assert run(make_pipeline(Any_)).counts == {"Any_": {"done": 1}}
