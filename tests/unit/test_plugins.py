"""Plugins: hooks get keyword arguments, a failing plugin is reported once and disabled."""

from __future__ import annotations

from pathlib import Path

from pipework import Proc
from pipework.plugins import PluginManager, hookimpl
from pipework.progress import QuietProgress

from .helpers import make_pipeline


class Recorder:
    """A plugin that records every hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []

    @hookimpl
    def on_run_start(self, *, pipeline, procs, workdir, outdir):
        self.calls.append(("on_run_start", {"pipeline": pipeline, "procs": procs}))

    @hookimpl
    def on_proc_start(self, *, proc, njobs):
        self.calls.append(("on_proc_start", {"proc": proc, "njobs": njobs}))

    @hookimpl
    def on_job_submitted(self, *, proc, index):  # a plugin may take a subset of the arguments
        self.calls.append(("on_job_submitted", {"proc": proc, "index": index}))

    @hookimpl
    def on_job_done(self, *, proc, index, state, rc):
        self.calls.append(("on_job_done", {"proc": proc, "index": index, "state": state, "rc": rc}))

    @hookimpl
    def on_proc_done(self, *, proc, counts):
        self.calls.append(("on_proc_done", {"proc": proc, "counts": counts}))

    @hookimpl
    def on_run_done(self, *, pipeline, ok, seconds):
        self.calls.append(("on_run_done", {"ok": ok}))


class Broken:
    """A plugin that raises."""

    def __init__(self) -> None:
        self.calls = 0

    @hookimpl
    def on_job_done(self, *, proc, index, state, rc):
        self.calls += 1
        raise RuntimeError("plugin bug")


class Warnings(QuietProgress):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def warn(self, message: str) -> None:
        self.messages.append(message)


def _proc():
    class Two(Proc):
        input = "n"
        input_data = [0, 1]
        script = "exit 0"

    return Two


def test_hooks_fire_in_order_with_keyword_arguments(isolated: Path):
    rec = Recorder()
    result = make_pipeline(_proc(), plugins=[rec])(progress=QuietProgress()).run()
    assert result.ok
    names = [c[0] for c in rec.calls]
    assert (
        names[0] == "on_run_start"
        and names[1] == "on_proc_start"
        and names[-2:] == ["on_proc_done", "on_run_done"]
    )
    assert names.count("on_job_submitted") == 2 and names.count("on_job_done") == 2
    done = [c[1] for c in rec.calls if c[0] == "on_job_done"]
    assert sorted(d["index"] for d in done) == [0, 1] and {d["state"] for d in done} == {"done"}
    assert ("on_proc_done", {"proc": "Two", "counts": {"done": 2}}) in rec.calls
    assert rec.calls[-1] == ("on_run_done", {"ok": True})


def test_failing_plugin_is_reported_once_and_disabled(isolated: Path):
    broken = Broken()
    progress = Warnings()
    result = make_pipeline(_proc(), plugins=[broken])(progress=progress).run()
    assert result.ok
    assert broken.calls == 1
    assert len(progress.messages) == 1
    assert (
        "raised in on_job_done: RuntimeError: plugin bug; it is disabled for this run" in progress.messages[0]
    )


def test_invalid_plugin_is_skipped():
    class Bad:
        @hookimpl
        def on_job_done(self, *, proc, nonsense):
            pass

    messages: list[str] = []
    manager = PluginManager(extra=[Bad()], warn=messages.append)
    assert "Bad" not in manager.names
    assert "is invalid and is skipped" in messages[0]
