"""The HTML report (``pipework report``, ``--report FILE`` on ``main()``): one self-contained file,
loaded in headless Chromium and checked as it renders -- the summary, the DAG, the timeline, the
resource plots, the failed jobs with their stderr, and a job table that pages, filters and sorts."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipework import Proc
from pipework.cli import cli
from pipework.launch import launch
from pipework.plan import builders_for, expand
from pipework.state import JobState
from pipework.store import Recorder, RunStore

from .helpers import make_pipeline

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="needs chromium (apt-get install chromium)")


def render(path: Path, fragment: str = "") -> str:
    """The page's DOM after its scripts ran, as headless Chromium has it."""
    assert CHROMIUM is not None
    argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000",
            "--dump-dom", f"file://{path.absolute()}{fragment}"]  # fmt: skip
    out = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=True).stdout
    assert 'data-ready="1"' in out, "the page's script did not finish"
    assert "data-error=" not in out, re.search(r'data-error="[^"]*"', out)
    return out


def attr(dom: str, element_id: str, name: str) -> str:
    """An attribute of the element with that id."""
    found = re.search(rf'<[^>]*\bid="{element_id}"[^>]*>', dom)
    assert found, element_id
    value = re.search(rf'\b{name}="([^"]*)"', found.group(0))
    assert value, (element_id, name, found.group(0))
    return value.group(1)


def text_of(dom: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}"[^>]*>([^<]*)<', dom)
    assert found, element_id
    return found.group(1)


def _failing_pipeline() -> tuple[type, ...]:
    class Make(Proc):
        input = "n"
        input_data = [1, 2, 3]
        output = "f:file:{{in.n}}.txt"
        resources = {"cpus": 1, "mem": "64M", "time": "1m"}
        script = "seq {{in.n}} > {{out.f}}"

    class Use(Proc):
        requires = Make
        input = "f:file"
        output = "g:file:{{in.f | stem}}.g"
        error_strategy = "ignore"
        # the stderr of job 2 tries to break out of the page
        script = "[ $(wc -l < {{in.f}}) != 3 ] || { echo '</script><b id=\"injected\">x</b> boom' >&2; exit 4; }; cp {{in.f}} {{out.g}}"

    return make_pipeline(Make, store="runs.db"), Make, Use


@needs_chromium
def test_the_report_of_main_shows_the_run_as_it_renders(isolated: Path):
    pipe, *_procs = _failing_pipeline()
    assert launch(pipe, ["-q", "--report", "report.html"], prog="p", source=None) == 0
    html = Path("report.html").read_text()
    # self-contained: nothing fetched (the SVG namespace is a name, not a request)
    assert not re.search(r"<(link|img|iframe)\b|<script[^>]*\bsrc=|url\((?!#)", html)
    assert not re.sub(r'xmlns="http://www\.w3\.org/2000/svg"', "", html).count("http")
    dom = render(Path("report.html"))
    assert text_of(dom, "run-state") == "done"
    assert re.search(r'data-card="jobs"><b>6</b>', dom) and re.search(r'data-card="failed"><b>1</b>', dom)
    # the DAG: both processes, one edge, Use drawn as failed
    assert dom.count('class="node"') == 2 and dom.count('class="edge"') == 1
    assert 'data-proc="Use" data-state="failed"' in dom and 'data-proc="Make" data-state="done"' in dom
    # the timeline drew every job that ran, in a band per process
    assert attr(dom, "timeline", "data-jobs") == "6" and attr(dom, "timeline", "data-bands") == "2"
    # resources: a box per measured process in each plot, the requested values marked
    plots = re.findall(r'<svg[^>]*data-metric="(\w+)".*?</svg>', dom, re.S)
    assert plots == ["wall", "cores", "rss"]
    wall = re.search(r'data-metric="wall".*?</svg>', dom, re.S).group(0)  # type: ignore[union-attr]
    assert wall.count('class="box"') == 2 and wall.count('class="requested"') == 1
    # the failed job, with its stderr escaped (no element got in)
    assert '<b id="injected"' not in dom and '&lt;b id="injected"&gt;x' in dom
    failed = re.search(r'<div class="failed-job" data-proc="Use" data-index="2">.*?</pre></div>', dom, re.S)
    assert failed and "failed with return code 4" in failed.group(0) and "boom" in failed.group(0)
    # the job table: every job, on one page
    assert text_of(dom, "pager") == "jobs 1\u20136 of 6, page 1 of 1"
    assert len(re.findall(r'<tr data-n="\d+">', dom)) == 6
    only_failed = render(Path("report.html"), "#state=failed")
    assert attr(only_failed, "jobs", "data-rows") == "1"
    assert re.findall(r'<tr data-n="\d+"><td>(\w+)</td><td class="num">(\d+)</td>', only_failed) == [
        ("Use", "2")
    ]


def test_pipework_report_writes_the_latest_run_of_this_project(isolated: Path):
    pipe, *_procs = _failing_pipeline()
    assert launch(pipe, ["-q"], prog="p", source=None) == 0
    out = CliRunner().invoke(cli, ["report", "--store", "runs.db"])
    assert out.exit_code == 0, out.output
    assert re.fullmatch(r"wrote pipework-report-1\.html \(0\.\d MB, run 1\)\n", out.output)
    html = Path("pipework-report-1.html").read_text()
    assert html.startswith("<!DOCTYPE html>") and "<title>P run 1: pipework report</title>" in html
    named = CliRunner().invoke(cli, ["report", "1", "-o", "r.html", "--store", "runs.db"])
    assert named.exit_code == 0 and Path("r.html").is_file()
    missing = CliRunner().invoke(cli, ["report", "9", "--store", "runs.db"])
    assert missing.exit_code == 1 and "no run 9 in the run store" in missing.output


def test_report_without_a_store_warns_and_the_run_is_unchanged(
    isolated: Path, capsys: pytest.CaptureFixture[str]
):
    class Solo(Proc):
        script = "true"

    assert launch(make_pipeline(Solo, store="none"), ["-q", "--report", "r.html"], prog="p", source=None) == 0
    assert "--report needs the run store (store is 'none')" in capsys.readouterr().err
    assert not Path("r.html").exists()


def _many(n: int) -> str:
    """Record a run of ``n`` jobs through the recorder (no job runs), every tenth failed; the store."""

    class Wide(Proc):
        input = "i"
        input_data = list(range(n))
        output = "o:file:o.txt"
        script = "true"
        export = False

    pipe = make_pipeline(Wide)()
    config = pipe.resolve_config()
    specs = pipe.specs(config, pipe.build_dag())
    builders = builders_for(specs, pipeline_dir=str(Path("wd/P").absolute()), run_tag="t")
    jobs = expand(specs, builders, outdir=str(Path("out").absolute()))["Wide"].jobs
    db = RunStore("runs.db")
    run_id = db.start_run(pipeline="P", workdir=str(Path("wd/P").absolute()), outdir="/o", scheduler="local")
    recorder = Recorder(db.backend(), run_id, warn=print)
    spec = specs["Wide"]
    recorder.procs_planned([spec], {"Wide": n})
    recorder.proc_started(spec, jobs, {})
    for job in jobs:
        job.attempts, job.jid, job.state = 1, f"j{job.index}", JobState.QUEUED
    recorder.submitted(jobs, queued=1.0)
    for job in jobs:
        recorder.job_state(job, JobState.RUNNING)
        job.state, job.rc = (JobState.FAILED, 1) if job.index % 10 == 3 else (JobState.DONE, 0)
        recorder.job_state(job, job.state)
    recorder.proc_ended("Wide", state="done", seconds=1.0, counts={}, njobs=n)
    recorder.close(state="failed")
    return "runs.db"


@needs_chromium
def test_a_large_run_is_a_small_file_whose_table_pages_filters_and_sorts(isolated: Path):
    n = 5000
    _many(n)
    out = CliRunner().invoke(cli, ["report", "1", "-o", "big.html", "--store", "runs.db"])
    assert out.exit_code == 0, out.output
    size = Path("big.html").stat().st_size
    assert size < 60 * n + 100_000  # under 60 bytes per job here: 100,000 jobs stay well under 20 MB
    dom = render(Path("big.html"), "#page=3")
    assert text_of(dom, "pager") == f"jobs 201\u2013300 of {n}, page 3 of 50"
    assert len(re.findall(r'<tr data-n="\d+">', dom)) == 100
    assert attr(dom, "timeline", "data-jobs") == str(n)
    failed = render(Path("big.html"), "#state=failed&sort=i&up=0")
    assert attr(failed, "jobs", "data-rows") == str(n // 10)
    first = re.search(r'<tr data-n="\d+"><td>Wide</td><td class="num">(\d+)</td>', failed)
    assert first and first.group(1) == "4993"  # the highest failed index first
    assert "Failed jobs (500)" in failed and "and 450 more: filter the job table by state" in failed
