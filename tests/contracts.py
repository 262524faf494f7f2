"""Contract test suites shared by several backends: subclass one, set ``__test__ = True`` and implement its
fixture method (the model is luigi's ``FileSystemTargetTestMixin``).

- :class:`PathsContract`: what :mod:`pipework.paths` promises for one kind of storage (a local directory,
  a prefix on each emulator's bucket), through its public functions only.
- :class:`StoreContract`: what the run store (:mod:`pipework.store`) promises, for one database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from pipework import paths
from pipework.cli import cli
from pipework.errors import ConfigError, StorageError
from pipework.store import JobRecord, RunStore


def _names(listing: dict[str, tuple[int, float]], base: str) -> list[str]:
    """The listed paths relative to ``base``, sorted, with ``/`` separators."""
    root = base.rstrip("/") + "/"
    return sorted(k[len(root) :].replace(os.sep, "/") for k in listing)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


class PathsContract:
    """The behaviour of :mod:`pipework.paths` on one kind of storage. Implement :meth:`make_base`;
    override :meth:`missing_bucket` and :meth:`requests_during` for a cloud."""

    __test__ = False
    #: False where the service (an emulator) ignores the condition of a conditional delete.
    conditional_delete = True

    def make_base(self, tmp_path: Path) -> str:
        """A fresh, empty directory or bucket prefix for one test."""
        raise NotImplementedError

    def missing_bucket(self) -> str | None:
        """A URL in a bucket that does not exist (None where there are no buckets)."""
        return None

    def requests_during(self, base: str, action: Callable[[], object]) -> list[str] | None:
        """Run ``action`` and return the requests it made to the service (None: not countable)."""
        action()
        return None

    @pytest.fixture
    def base(self, tmp_path: Path) -> str:
        return self.make_base(tmp_path)

    def write(self, base: str, rel: str, text: str) -> str:
        path = paths.join(base, rel)
        if not paths.is_cloud(path):
            paths.makedirs(os.path.dirname(path))
        paths.write_text(path, text)
        return path

    # -- reading and writing ---------------------------------------------------------------------
    def test_write_then_read_round_trip(self, base: str):
        path = self.write(base, "dir/a.txt", "héllo\nworld\n")
        assert paths.read_text(path) == "héllo\nworld\n"
        assert paths.exists(path)
        stat = paths.stat(path)
        assert stat is not None and stat[0] == len("héllo\nworld\n".encode())

    def test_a_missing_path_does_not_exist_and_has_no_stat(self, base: str):
        assert not paths.exists(paths.join(base, "nothing.txt"))
        assert paths.stat(paths.join(base, "nothing.txt")) is None
        assert paths.stat_many([paths.join(base, "nothing.txt")]) == {paths.join(base, "nothing.txt"): None}

    def test_a_directory_exists_and_its_stat_totals_its_files(self, base: str):
        self.write(base, "d/one.txt", "1")
        self.write(base, "d/sub/two.txt", "22")
        assert paths.exists(paths.join(base, "d"))
        stat = paths.stat(paths.join(base, "d"))
        assert stat is not None and stat[0] == 3

    def test_atomic_write_replaces_the_content_and_leaves_no_temporary(self, base: str):
        path = self.write(base, "state.json", "old")
        paths.atomic_write_text(path, "new content")
        assert paths.read_text(path) == "new content"
        assert _names(paths.list_prefix(base), base) == ["state.json"]

    def test_remove_and_rmtree_remove_what_is_there_and_accept_what_is_not(self, base: str):
        one = self.write(base, "f.txt", "x")
        self.write(base, "d/a.txt", "a")
        self.write(base, "d/sub/b.txt", "b")
        paths.remove(one)
        paths.remove(one)
        paths.rmtree(paths.join(base, "d"))
        paths.rmtree(paths.join(base, "d"))
        assert paths.list_prefix(base) == {}
        assert not paths.exists(one)

    def test_glob_finds_the_matching_files(self, base: str):
        for name in ("b.txt", "a.txt", "c.csv", "sub/d.txt"):
            self.write(base, f"g/{name}", name)
        found = sorted(paths.glob(paths.join(base, "g", "*.txt")))
        assert found == [paths.join(base, "g", "a.txt"), paths.join(base, "g", "b.txt")]

    # -- listing: one request per prefix ---------------------------------------------------------
    def test_list_prefix_is_one_listing_of_everything_below(self, base: str):
        for i in range(5):
            self.write(base, f"p/f{i}.txt", "x" * i)
        self.write(base, "p/sub/deep.txt", "deep")
        self.write(base, "pother.txt", "not below p/")
        listed: dict[str, tuple[int, float]] = {}
        seen = self.requests_during(base, lambda: listed.update(paths.list_prefix(paths.join(base, "p"))))
        assert _names(listed, paths.join(base, "p")) == [f"f{i}.txt" for i in range(5)] + ["sub/deep.txt"]
        assert listed[paths.join(base, "p", "f3.txt")][0] == 3
        if seen is not None:
            assert len(seen) == 1, seen

    def test_stat_many_answers_many_paths_under_one_prefix_with_one_listing(self, base: str):
        urls = [self.write(base, f"s/{i}/out.txt", "y" * i) for i in range(1, 6)]
        self.write(base, "s/dir/a", "aa")
        self.write(base, "s/dir/b", "bbb")
        asked = [*urls, paths.join(base, "s", "9", "missing.txt"), paths.join(base, "s", "dir")]
        answers: dict[str, tuple[int, float] | None] = {}
        seen = self.requests_during(base, lambda: answers.update(paths.stat_many(asked)))
        assert [answers[u][0] for u in urls] == [1, 2, 3, 4, 5]  # type: ignore[index]
        assert answers[paths.join(base, "s", "9", "missing.txt")] is None
        assert answers[paths.join(base, "s", "dir")] is not None
        assert answers[paths.join(base, "s", "dir")][0] == 5  # type: ignore[index]
        if seen is not None:
            assert len(seen) == 1, seen

    # -- moving files ----------------------------------------------------------------------------
    def test_upload_and_download_of_a_directory(self, base: str, tmp_path: Path):
        src = _tree(tmp_path / "up", {"a.txt": "A", "sub/b.txt": "B"})
        paths.upload(str(src), paths.join(base, "up"))
        assert _names(paths.list_prefix(paths.join(base, "up")), paths.join(base, "up")) == [
            "a.txt",
            "sub/b.txt",
        ]
        paths.download(paths.join(base, "up"), str(tmp_path / "down"))
        assert (tmp_path / "down" / "sub" / "b.txt").read_text() == "B"
        paths.download(paths.join(base, "up", "a.txt"), str(tmp_path / "one.txt"))
        assert (tmp_path / "one.txt").read_text() == "A"

    def test_export_of_a_file_is_atomic_and_a_reexport_replaces_it(self, base: str, tmp_path: Path):
        src = tmp_path / "out.txt"
        src.write_text("first")
        dest = paths.join(base, "exp", "out.txt")
        paths.export(str(src), dest)
        assert paths.read_text(dest) == "first"
        src.unlink()  # a job's output is never rewritten in place: a rerun makes a new file
        src.write_text("second, longer")
        paths.export(str(src), dest)
        assert paths.read_text(dest) == "second, longer"
        assert _names(paths.list_prefix(paths.join(base, "exp")), paths.join(base, "exp")) == ["out.txt"]

    def test_a_failed_export_keeps_the_previous_one_and_no_temporary(self, base: str, tmp_path: Path):
        src = tmp_path / "out.txt"
        src.write_text("good")
        dest = paths.join(base, "exp", "out.txt")
        paths.export(str(src), dest)
        with pytest.raises(StorageError, match="does not exist"):
            paths.export(str(tmp_path / "never-made.txt"), dest)
        assert paths.read_text(dest) == "good"
        assert _names(paths.list_prefix(paths.join(base, "exp")), paths.join(base, "exp")) == ["out.txt"]

    def test_export_of_a_directory_is_complete_and_a_reexport_replaces_it(self, base: str, tmp_path: Path):
        src = _tree(tmp_path / "results", {"one.txt": "1", "sub/two.txt": "2"})
        dest = paths.join(base, "exp", "results")
        paths.export(str(src), dest)
        marker = [".pipework-complete"] if paths.is_cloud(dest) else []
        assert _names(paths.list_prefix(dest), dest) == sorted([*marker, "one.txt", "sub/two.txt"])
        (src / "one.txt").unlink()
        (src / "one.txt").write_text("one, again")
        paths.export(str(src), dest)
        assert paths.read_text(paths.join(dest, "one.txt")) == "one, again"
        assert _names(paths.list_prefix(paths.join(base, "exp")), paths.join(base, "exp")) == sorted(
            f"results/{n}" for n in [*marker, "one.txt", "sub/two.txt"]
        )  # nothing else: no temporary name is left next to it

    def test_export_from_the_same_storage_and_back_to_local(self, base: str, tmp_path: Path):
        one = self.write(base, "job/out.txt", "from the workdir")
        self.write(base, "job/d/a.txt", "a")
        self.write(base, "job/d/sub/b.txt", "bb")
        paths.export(one, paths.join(base, "exp", "copy.txt"))
        assert paths.read_text(paths.join(base, "exp", "copy.txt")) == "from the workdir"
        paths.export(paths.join(base, "job", "d"), paths.join(base, "exp", "d"))
        listed = _names(paths.list_prefix(paths.join(base, "exp", "d")), paths.join(base, "exp", "d"))
        assert [n for n in listed if n != ".pipework-complete"] == ["a.txt", "sub/b.txt"]
        paths.export(paths.join(base, "job", "d"), str(tmp_path / "local" / "d"))
        assert (tmp_path / "local" / "d" / "sub" / "b.txt").read_text() == "bb"
        assert os.listdir(tmp_path / "local") == ["d"]  # no hidden temporary left beside it

    # -- conditional writes (the run lock) -------------------------------------------------------
    def test_create_if_absent_and_delete_if_unchanged(self, base: str):
        path = paths.join(base, "lock")
        paths.makedirs(base)
        first = paths.create_if_absent(path, "first")
        assert first is not None
        assert paths.create_if_absent(path, "other") is None
        assert paths.read_with_token(path) == ("first", first)
        assert paths.delete_if_unchanged(path, first)
        assert not paths.exists(path)
        second = paths.create_if_absent(path, "second!")
        assert second is not None and second != first
        if self.conditional_delete:
            assert not paths.delete_if_unchanged(path, first)  # a stale token never removes a newer lock
            assert paths.read_text(path) == "second!"
        assert paths.delete_if_unchanged(path, second)
        assert not paths.delete_if_unchanged(path, second)  # gone already

    # -- errors ----------------------------------------------------------------------------------
    def test_reading_a_missing_file_names_it(self, base: str):
        missing = paths.join(base, "no", "such.txt")
        with pytest.raises(StorageError) as err:
            paths.read_text(missing)
        assert f"cannot read {missing!r}: it does not exist" in str(err.value)
        with pytest.raises(StorageError, match="does not exist"):
            paths.read_with_token(missing)

    def test_a_missing_bucket_is_named_with_the_fix(self):
        url = self.missing_bucket()
        if url is None:
            pytest.skip("this storage has no buckets")
        bucket = paths.split_url(url)[1]
        for action in (lambda: paths.list_prefix(url), lambda: paths.write_text(url, "x"),
                       lambda: paths.exists(url), lambda: paths.stat_many([url])):  # fmt: skip
            with pytest.raises(StorageError) as err:
                action()
            assert f"the bucket {bucket!r} does not exist -- create it, or fix the URL" in str(err.value)


class StoreContract:
    """The behaviour of the run store on one database. Implement :meth:`location` (what the ``store``
    setting and ``--store`` take) and :meth:`unwritable_location`."""

    __test__ = False

    def location(self, tmp_path: Path) -> str:
        """Where the store of one test lives (the same answer for the same ``tmp_path``)."""
        raise NotImplementedError

    def unwritable_location(self, tmp_path: Path) -> str:
        """A location this store cannot be created at."""
        raise NotImplementedError

    def make_store(self, tmp_path: Path) -> RunStore:
        """A store at :meth:`location`; two calls give two stores on one database."""
        return RunStore(self.location(tmp_path))

    def _jobs(self, proc: str, states: list[str]) -> list[JobRecord]:
        return [
            JobRecord(proc, i, s, 1 if s == "failed" else 0, 1, f"jid{i}", f"/wd/{proc}/{i}", "exit" if s == "failed" else None)
            for i, s in enumerate(states)
        ]  # fmt: skip

    def test_a_run_its_processes_and_jobs_read_back(self, tmp_path: Path):
        store = self.make_store(tmp_path)
        run_id = store.start_run(pipeline="P", workdir="/wd", outdir="/out", scheduler="local")
        assert store.run(run_id).state == "running" and store.run(run_id).ended is None
        store.record_proc(
            run_id, name="Count", seconds=1.5, jobs=self._jobs("Count", ["done", "done", "failed"])
        )
        store.record_proc(run_id, name="Total", seconds=0.5, jobs=self._jobs("Total", ["cached"]))
        store.end_run(run_id, state="failed")
        run = store.run(run_id)
        assert (run.pipeline, run.workdir, run.outdir, run.scheduler, run.state) == (
            "P",
            "/wd",
            "/out",
            "local",
            "failed",
        )
        assert run.pid == os.getpid() and run.seconds is not None and run.seconds >= 0
        assert [(p.name, p.njobs, p.counts, p.seconds) for p in store.procs(run_id)] == [
            ("Count", 3, {"done": 2, "failed": 1}, 1.5),
            ("Total", 1, {"cached": 1}, 0.5),
        ]
        jobs = store.jobs(run_id)
        assert [(j.proc, j.index, j.state, j.rc) for j in jobs] == [
            ("Count", 0, "done", 0), ("Count", 1, "done", 0), ("Count", 2, "failed", 1), ("Total", 0, "cached", 0),
        ]  # fmt: skip
        assert jobs[2].reason == "exit" and jobs[2].jid == "jid2" and jobs[2].dir == "/wd/Count/2"
        assert [j.index for j in store.jobs(run_id, "Count")] == [0, 1, 2]

    def test_history_lists_recent_runs_first_by_pipeline(self, tmp_path: Path):
        store = self.make_store(tmp_path)
        ids = [store.start_run(pipeline=p, workdir="/wd", outdir="/o", scheduler="local") for p in "ABA"]
        assert [r.id for r in store.runs()] == ids[::-1]
        assert [r.id for r in store.runs(pipeline="A")] == [ids[2], ids[0]]
        assert [r.id for r in store.runs(limit=1)] == [ids[2]]

    def test_the_cli_shows_the_recorded_runs(self, tmp_path: Path):
        store = self.make_store(tmp_path)
        run_id = store.start_run(pipeline="Lines", workdir="/wd", outdir="/o", scheduler="local")
        store.record_proc(run_id, name="Count", seconds=2.0, jobs=self._jobs("Count", ["done", "done"]))
        store.end_run(run_id, state="done")
        where = ["--store", self.location(tmp_path)]
        history = CliRunner().invoke(cli, ["history", *where])
        assert history.exit_code == 0, history.output
        assert history.output.splitlines()[1].split()[:3] == [str(run_id), "Lines", "done"]
        show = CliRunner().invoke(cli, ["show", str(run_id), *where])
        assert show.exit_code == 0 and "Count: 2 jobs (2 done)" in show.output, show.output

    def test_two_stores_on_one_database_see_each_others_runs(self, tmp_path: Path):
        one, two = self.make_store(tmp_path), self.make_store(tmp_path)
        first = one.start_run(pipeline="P", workdir="/a", outdir="/o", scheduler="local")
        second = two.start_run(pipeline="Q", workdir="/b", outdir="/o", scheduler="slurm")
        one.end_run(second, state="interrupted")
        assert {r.id for r in two.runs()} == {first, second}
        assert two.run(second).state == "interrupted"
        assert one.run(first).pipeline == "P"

    def test_a_missing_run_is_a_clear_error(self, tmp_path: Path):
        with pytest.raises(ConfigError, match="no run 42 in the run store"):
            self.make_store(tmp_path).run(42)

    def test_an_unwritable_location_is_a_storage_error(self, tmp_path: Path):
        store = RunStore(self.unwritable_location(tmp_path))
        with pytest.raises(StorageError, match="run store"):
            store.start_run(pipeline="P", workdir="/wd", outdir="/o", scheduler="local")
