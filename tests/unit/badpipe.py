"""Run a user's pipeline file the way a user does, for the bad-input tests, and check its one-line error."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import subprocess
import sys
import uuid
from pathlib import Path

from pipework.launch import run_pipeline_main

HEADER = "from pipework import Channel, Pipeline, Proc\n\n"
MAIN = '\n\nif __name__ == "__main__":\n    P.main()\n'


def write_pipeline(body: str, *, toml: str | None = None) -> Path:
    """Write ``pipeline.py`` (the imports, ``body`` that defines pipeline ``P``, and ``P.main()``)."""
    path = Path("pipeline.py")
    path.write_text(HEADER + body.strip("\n") + MAIN)
    if toml is not None:
        Path(".pipework.toml").write_text(toml)
    return path


def run_in_process(body: str, *argv: str, toml: str | None = None) -> tuple[int, str]:
    """Import the pipeline file as a fresh module and run ``P``'s command line; return (exit code, stderr).

    Each call imports under a new module name, so the processes of one test never meet another's.
    """
    path = write_pipeline(body, toml=toml)
    name = f"_bad_input_{uuid.uuid4().hex}"
    spec = importlib.util.spec_from_file_location(name, path.resolve())
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    err = io.StringIO()
    try:
        spec.loader.exec_module(module)
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            code = run_pipeline_main(module.P, ["-q", *argv])
    finally:
        del sys.modules[name]
    return code, err.getvalue()


def run_script(body: str, *command: str, toml: str | None = None) -> tuple[int, str]:
    """Run the pipeline file in a new interpreter: ``python pipeline.py`` (or ``command``)."""
    write_pipeline(body, toml=toml)
    argv = list(command) or [sys.executable, "pipeline.py", "-q"]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    return proc.returncode, proc.stderr


def one_error(result: tuple[int, str], *names: str) -> str:
    """Check a run ended with exit 1 and one line ``pipework: error: ...`` holding every one of ``names``
    (the process, the attribute, key, file or URL, and words of the fix), without a traceback; return
    the line."""
    code, err = result
    assert code == 1, err
    assert "Traceback" not in err, err
    assert err.startswith("pipework: error: "), err
    assert err.count("\n") == 1, err
    for name in names:
        assert name in err, f"{name!r} not in: {err}"
    return err.strip()
