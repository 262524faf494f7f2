"""``lineage``, ``trace``, ``compare`` and ``report`` read a team's store on a real PostgreSQL or MariaDB
server (tests/services/postgres.sh, mariadb.sh) as they read a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from pipework import Pipeline, Proc
from pipework.cli import cli
from pipework.progress import QuietProgress

from .test_store_servers import server  # noqa: F401 (the fixture: a fresh database on each server)


def test_the_commands_read_a_server_store(isolated: Path, server: str):  # noqa: F811
    class Make(Proc):
        input = "n"
        input_data = [1, 2]
        output = "f:file:{{in.n}}.txt"
        script = "seq {{in.n}} > {{out.f}}"

    class Sum(Proc):
        requires = Make
        input = "fs:files"
        input_data = lambda ch: [[ch.column("f")]]
        output = "s:file:sum.txt"
        script = "cat {{in.fs | quote}} | wc -l > {{out.s}}"

    pipe = type("Team", (Pipeline,), {"starts": Make, "store": server, "__module__": __name__,
                                      "workdir": "./wd", "outdir": "./out"})  # fmt: skip
    for _ in range(2):
        pipe(progress=QuietProgress()).run()
    runner = CliRunner()
    tree = json.loads(runner.invoke(cli, ["lineage", "out/Sum/sum.txt", "--json", "--store", server]).output)
    assert tree["run"]["id"] == 1 and tree["cached_in"] == 2 and tree["job"]["proc"] == "Sum"
    assert sorted(i["job"]["index"] for i in tree["inputs"]) == [0, 1]
    trace = runner.invoke(cli, ["trace", "1", "--store", server]).output.splitlines()
    assert len(trace) == 4 and all("\tCOMPLETED\t" in line for line in trace[1:])
    compare = json.loads(runner.invoke(cli, ["compare", "1", "2", "--json", "--store", server]).output)
    assert [(p["name"], p["same"], p["cached"]) for p in compare["procs"]] == [
        ("Make", 2, [0, 2]),
        ("Sum", 1, [0, 1]),
    ]
    report = runner.invoke(cli, ["report", "1", "-o", "r.html", "--store", server])
    assert report.exit_code == 0, report.output
    html = Path("r.html").read_text()
    assert 'class="edge"' in html and '"n":3' in html
    assert Make and Sum  # held until the pipeline ran
