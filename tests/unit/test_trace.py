"""``pipework trace``: one row per attempt in Nextflow's trace fields, values formatted as Nextflow
formats them, so tools written for Nextflow trace files read it."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipework import Proc
from pipework.cli import cli
from pipework.store.trace import FIELDS, duration, memory

from .helpers import make_pipeline, run

NEXTFLOW_FIELDS = [
    "task_id", "hash", "native_id", "process", "tag", "name", "status", "exit", "submit", "start",
    "complete", "duration", "realtime", "%cpu", "peak_rss", "workdir", "attempt", "hostname",
]  # fmt: skip


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "-"),
        (0.0, "0ms"),
        (0.0004, "0ms"),
        (0.85, "850ms"),
        (0.9995, "1s"),  # 1000 ms: Nextflow's seconds form from 1000 ms on
        (1.0, "1s"),
        (3.25, "3.3s"),  # tenths rounded half up, as Java's Math.round
        (59.94, "59.9s"),
        (65.0, "1m 5s"),
        (120.4, "2m"),
        (3723.0, "1h 2m 3s"),
        (90000.0, "1d 1h"),
    ],
)
def test_durations_read_as_nextflow_writes_them(seconds: float | None, text: str):
    assert duration(seconds) == text


@pytest.mark.parametrize(
    ("nbytes", "text"),
    [(None, "-"), (0, "0"), (512, "512 B"), (1024, "1 KB"), (1536, "1.5 KB"), (52_428_800, "50 MB"),
     (13_107_200, "12.5 MB"), (3 * 1024**3, "3 GB")],
)  # fmt: skip
def test_memory_reads_as_nextflow_writes_it(nbytes: int | None, text: str):
    assert memory(nbytes) == text


def _flaky_run(store: str) -> None:
    class Flaky(Proc):
        input = "n"
        input_data = [0, 1]
        error_strategy = "retry"
        num_retries = 1
        # job 1 fails on its first attempt, then succeeds
        script = "[ {{in.n}} = 0 ] || [ -e {{job.dir}}/../tried ] || { touch {{job.dir}}/../tried; exit 5; }"

    run(make_pipeline(Flaky, store=store))


def test_trace_has_one_row_per_attempt_with_nextflows_fields_and_formats(isolated: Path):
    _flaky_run("runs.db")
    out = CliRunner().invoke(cli, ["trace", "--store", "runs.db"])
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader(io.StringIO(out.output), delimiter="\t"))
    assert list(FIELDS) == NEXTFLOW_FIELDS and out.output.splitlines()[0].split("\t") == NEXTFLOW_FIELDS
    assert [(r["task_id"], r["name"], r["attempt"], r["status"], r["exit"]) for r in rows] == [
        ("1", "Flaky (0)", "1", "COMPLETED", "0"),
        ("2", "Flaky (1)", "1", "FAILED", "5"),
        ("2", "Flaky (1)", "2", "COMPLETED", "0"),
    ]
    for row in rows:
        assert re.fullmatch(r"[0-9a-f]{2}/[0-9a-f]{6}", row["hash"])
        assert row["process"] == "Flaky" and row["tag"] == row["name"][7:-1]
        for key in ("submit", "start", "complete"):
            assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}", row[key]), row[key]
        for key in ("duration", "realtime"):
            assert re.fullmatch(r"\d+ms|\d+(\.\d)?s|(\d+[dhms] ?)+", row[key]), row[key]
        assert re.fullmatch(r"\d+\.\d%", row["%cpu"]) and re.fullmatch(r"\d+(\.\d)? [KMG]?B", row["peak_rss"])
        assert row["workdir"].endswith(f"/wd/P/Flaky/{row['tag']}") and row["hostname"] not in ("", "-")
        assert row["native_id"].startswith("pw-")
    # the same rows raw, as Nextflow's trace.raw: epoch milliseconds, milliseconds, bytes
    raw = json.loads(
        CliRunner().invoke(cli, ["trace", "--store", "runs.db", "--format", "json", "--raw"]).output
    )
    assert [r["attempt"] for r in raw] == [1, 1, 2]
    first = raw[0]
    assert first["start"] <= first["complete"] and first["complete"] - first["start"] < 600_000
    assert isinstance(first["peak_rss"], int) and first["exit"] == 0 and first["submit"] > 1_600_000_000_000


def test_cached_jobs_are_rows_with_status_cached_and_jobs_never_started_are_none(isolated: Path):
    class Once(Proc):
        input = "n"
        input_data = [0, 1, 2]
        script = "true"

    pipe = make_pipeline(Once, store="runs.db")
    run(pipe)
    run(pipe)
    out = CliRunner().invoke(cli, ["trace", "2", "--store", "runs.db", "--format", "json"])
    rows = json.loads(out.output)
    assert [(r["name"], r["status"], r["exit"], r["realtime"]) for r in rows] == [
        (f"Once ({i})", "CACHED", "-", "-") for i in range(3)
    ]
    written = CliRunner().invoke(cli, ["trace", "1", "--store", "runs.db", "-o", "trace.txt"])
    assert written.exit_code == 0 and "wrote trace.txt" in written.output
    assert Path("trace.txt").read_text().count("\tCOMPLETED\t") == 3


def test_trace_without_runs_says_so(isolated: Path):
    out = CliRunner().invoke(cli, ["trace", "--store", "runs.db"])
    assert out.exit_code == 1 and "no runs recorded in this directory" in out.output
