"""On a bucket workdir too, a row that moved is matched to its previous run by its input values: the
shifted jobs' objects are copied to their new directory and nothing but the new row runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.test_rows_and_reasons import PIPELINE, _ran, _run

from .test_cloud import make_bucket


@pytest.mark.cloud
@pytest.mark.parametrize("scheme", ["gs", "s3"])
def test_adding_a_row_on_a_bucket_runs_only_that_row(isolated: Path, scheme: str):
    root = isolated / "proj"
    (root / "data").mkdir(parents=True)
    for name in ("a", "c", "d", "e"):
        (root / "data" / f"{name}.txt").write_text(f"{name}\n")
    log = root / "ran.log"
    text = PIPELINE.replace("../../../../ran.log", str(log)).replace(
        '"./.pipework"', repr(f"{make_bucket(scheme)}/work")
    )
    (root / "pipeline.py").write_text(text)
    first = _run(root, "-q")
    assert first.returncode == 0, first.stderr
    assert len(_ran(root)) == 8
    (root / "data/b.txt").write_text("b\n")
    plan = _run(root, "--dry-run")
    assert "Count  5 jobs: 4 cached, 1 to run" in plan.stdout, plan.stdout
    assert "Total  5 jobs: 4 cached, 1 to run" in plan.stdout, plan.stdout
    second = _run(root, "-q")
    assert second.returncode == 0, second.stderr
    assert sorted(_ran(root)) == ["b.txt", "total-b.count"]
    assert sorted(p.name for p in (root / "out/Total").iterdir()) == [f"{n}.total" for n in "abcde"]
    assert (root / "out/Total/c.total").read_text().strip() == "1"
    third = _run(root, "-q")
    assert third.returncode == 0 and _ran(root) == []
