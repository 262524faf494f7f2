"""Small helpers for the unit tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipework import Pipeline, Proc
from pipework.progress import QuietProgress


def make_pipeline(starts: Any, **attrs: Any) -> type[Pipeline]:
    """A Pipeline subclass with the given starts and attributes (quiet, local, workdir in cwd)."""
    attrs.setdefault("workdir", "./wd")
    attrs.setdefault("outdir", "./out")
    return type("P", (Pipeline,), {"starts": starts, "__module__": starts_module(starts), **attrs})


def starts_module(starts: Any) -> str:
    first = starts[0] if isinstance(starts, (list, tuple)) else starts
    return first.__module__


def run(pipeline: type[Pipeline], **overrides: Any) -> Any:
    """Run quietly and return the RunResult."""
    return pipeline(progress=QuietProgress(), **overrides).run()


def write(path: str | Path, text: str) -> str:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(text)
    return str(p)


def proc(name: str, **attrs: Any) -> type[Proc]:
    """Define a Proc subclass named ``name`` in this test module's namespace."""
    attrs.setdefault("__module__", "tests.unit.dynamic")
    return type(name, (Proc,), attrs)
