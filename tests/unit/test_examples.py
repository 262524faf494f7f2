"""Every example runs, produces the right outputs, and is fully cached when run again."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _copy(name: str, tmp: Path) -> Path:
    dest = tmp / name
    shutil.copytree(EXAMPLES / name, dest, ignore=shutil.ignore_patterns(".pipework", "output", "data"))
    return dest


def _run(pipeline: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(pipeline), *args],
        cwd=cwd or pipeline.parent.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )


def _all_cached(pipeline: Path, *args: str, cwd: Path | None = None) -> None:
    plan = _run(pipeline, "--dry-run", *args, cwd=cwd)
    assert plan.returncode == 0, plan.stderr
    for line in plan.stdout.splitlines()[1:]:
        if "jobs:" in line or "job:" in line:
            assert line.rstrip().endswith(", 0 to run"), plan.stdout


def test_count_lines(tmp_path: Path):
    example = _copy("count_lines", tmp_path)
    res = _run(example / "pipeline.py")
    assert res.returncode == 0, res.stderr
    assert (example / "output/Total/total.txt").read_text() == "9\n"
    _all_cached(example / "pipeline.py")


def test_python_chain(tmp_path: Path):
    example = _copy("python_chain", tmp_path)
    res = _run(example / "pipeline.py", "-q")
    assert res.returncode == 0, res.stderr
    rows = (example / "output/Report/report.tsv").read_text().splitlines()
    assert rows == ["n\tmean\tstdev", "3\t2.0\t1.0", "5\t3.0\t1.58", "10\t5.5\t3.03"]
    stats = json.loads((example / ".pipework/Chain/Stats/2/output/stats-10.json").read_text())
    assert stats == {"n": 10, "mean": 5.5, "stdev": 3.03}
    _all_cached(example / "pipeline.py")


@pytest.mark.parametrize("profile", ["default", "fast"])
def test_profiles_switch_without_a_code_change(tmp_path: Path, profile: str):
    example = _copy("profiles", tmp_path)
    args = ["-q"] + ([] if profile == "default" else ["--profile", profile])
    res = _run(example / "pipeline.py", *args, cwd=example)  # profiles come from ./.pipework.toml
    assert res.returncode == 0, res.stderr
    assert (example / "output/Sum/sum.txt").read_text() == "204\n"
    show = subprocess.run(
        [sys.executable, "-m", "pipework", "profile", "show", profile],
        cwd=example,
        capture_output=True,
        text=True,
    )
    forks = {"default": "forks = 2", "fast": "forks = 8"}[profile]
    assert forks in show.stdout
    _all_cached(example / "pipeline.py", *args[1:], cwd=example)


def test_profile_hpc_targets_slurm(tmp_path: Path):
    example = _copy("profiles", tmp_path)
    show = subprocess.run(
        [sys.executable, "-m", "pipework", "profile", "show", "hpc"],
        cwd=example,
        capture_output=True,
        text=True,
    )
    assert 'scheduler = "slurm"' in show.stdout and '"partition": "debug"' in show.stdout
