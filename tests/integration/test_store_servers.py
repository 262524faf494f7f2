"""The run store on real database servers (tests/services/postgres.sh and mariadb.sh): the store
contract, many drivers recording at once with nothing lost, and a server that cannot be reached."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipework import Pipeline, Proc
from pipework.progress import QuietProgress
from pipework.store import RunStore, StoreUnreachable

from ..contracts import StoreContract

#: The servers' URLs, read at import: the tests' ``isolated`` fixture removes every PIPEWORK_ variable.
URLS = {key: os.environ.get(key, "") for key in ("PIPEWORK_TEST_PG_URL", "PIPEWORK_TEST_MYSQL_URL")}

SERVERS = [
    pytest.param("PIPEWORK_TEST_PG_URL", marks=pytest.mark.postgres, id="postgres"),
    pytest.param("PIPEWORK_TEST_MYSQL_URL", marks=pytest.mark.mysql, id="mariadb"),
]

DRIVER = """
from pipework import Pipeline, Proc

class Work(Proc):
    input = "n"
    input_data = list(range({n}))
    output = "o:file:{{{{in.n}}}}.txt"
    script = "echo {{{{in.n}}}} > {{{{out.o}}}}"

class Team(Pipeline):
    starts = Work
    forks = 4

if __name__ == "__main__":
    Team.main()
"""


def _fresh_database(url: str) -> Iterator[str]:
    """A database of its own on the server of ``url`` for one test, dropped afterwards."""
    import sqlalchemy as sa

    name = f"pw_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield sa.make_url(url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            force = " WITH (FORCE)" if admin.dialect.name == "postgresql" else ""
            conn.execute(sa.text(f"DROP DATABASE IF EXISTS {name}{force}"))
        admin.dispose()


@pytest.fixture(params=SERVERS)
def server(request: pytest.FixtureRequest) -> Iterator[str]:
    """The URL of a fresh database on each server."""
    yield from _fresh_database(URLS[request.param])


class _ServerStore(StoreContract):
    env = ""

    @pytest.fixture(autouse=True)
    def _database(self) -> Iterator[None]:
        for url in _fresh_database(URLS[self.env]):
            self.url = url
            yield

    def location(self, tmp_path: Path) -> str:
        return self.url

    def unwritable_location(self, tmp_path: Path) -> str:
        scheme = self.url.split("://", 1)[0]
        return f"{scheme}://pipework:pipework@127.0.0.1:9/pipework"  # nothing listens on port 9


@pytest.mark.postgres
class TestPostgresStore(_ServerStore):
    __test__ = True
    env = "PIPEWORK_TEST_PG_URL"


@pytest.mark.mysql
class TestMariaDBStore(_ServerStore):
    __test__ = True
    env = "PIPEWORK_TEST_MYSQL_URL"


def test_many_drivers_recording_at_once_lose_nothing(server: str, tmp_path: Path):
    njobs, nprocs, nthreads = 40, 4, 3
    drivers = []
    for k in range(nprocs):  # processes: separate drivers, as a team's would be
        cwd = tmp_path / f"proc{k}"
        cwd.mkdir()
        (cwd / "pipeline.py").write_text(DRIVER.format(n=njobs))
        env = {**os.environ, "PIPEWORK_STORE": server}
        drivers.append(subprocess.Popen([sys.executable, "pipeline.py", "-q"], cwd=cwd, env=env))

    class Work(Proc):
        input = "n"
        input_data = list(range(njobs))
        output = "o:file:{{in.n}}.txt"
        script = "echo {{in.n}} > {{out.o}}"

    class Team(Pipeline):
        starts = Work
        forks = 4

    errors: list[BaseException] = []

    def drive(k: int) -> None:  # threads: several runs in one interpreter, one store each
        try:
            Team(progress=QuietProgress(), store=server, workdir=str(tmp_path / f"thread{k}")).run()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=(k,)) for k in range(nthreads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [d.wait(timeout=240) for d in drivers] == [0] * nprocs
    assert not errors
    store = RunStore(server)
    runs = store.runs(limit=100)
    assert len(runs) == nprocs + nthreads and {r.state for r in runs} == {"done"}
    assert len({r.id for r in runs}) == len(runs)
    for r in runs:
        jobs = store.jobs(r.id)
        assert [(j.index, j.state, j.rc) for j in jobs] == [(i, "done", 0) for i in range(njobs)]
        assert len(store.attempts(r.id)) == njobs and len(store.artifacts(r.id)) == njobs
        assert [(p.name, p.counts) for p in store.procs(r.id)] == [("Work", {"done": njobs})]


def test_a_server_that_cannot_be_reached_fails_the_run_before_any_job(server: str, tmp_path: Path):
    import sqlalchemy as sa

    bad = sa.make_url(server).set(password="not-the-password").render_as_string(hide_password=False)

    class Touch(Proc):
        script = f"touch {tmp_path}/ran"

    class P(Pipeline):
        starts = Touch
        workdir = str(tmp_path / "wd")

    with pytest.raises(StoreUnreachable) as info:
        P(progress=QuietProgress(), store=bad).run()
    message = str(info.value)
    assert "not-the-password" not in message and ":***@127.0.0.1:" in message
    assert message.startswith("run store ") and " cannot be reached: " in message
    assert "check the server is running and the URL's host, port, database, user and password" in message
    assert info.value.url in message and not (tmp_path / "ran").exists()
