"""Each bad input gives one clear PipeworkError message from main(), exit 1, no traceback, no lost output."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pipework import Pipeline, Proc
from pipework.launch import run_pipeline_main

from .helpers import write


def _cycle():
    class S(Proc):
        script = "true"

    class X(Proc):
        script = "true"

    class Y(Proc):
        requires = X
        script = "true"

    X.requires = [S, Y]
    S._keep = (X, Y)  # like module globals: keep the cycle reachable so gc cannot drop it
    return S, {}


def _proc(**attrs):
    attrs.setdefault("script", "true")
    return type("Bad", (Proc,), {"__module__": __name__, **attrs}), {}


CASES = {
    "cyclic requires": (_cycle, "has a cycle"),
    "unknown input type": (
        lambda: _proc(input="x:fiel", input_data=[1]),
        "[Bad] input 'x' has unknown type 'fiel'",
    ),
    "unknown output type": (
        lambda: _proc(output="x:flie:a"),
        "[Bad] output 'x' has unknown type 'flie'",
    ),
    "output name used twice": (
        lambda: _proc(output=["o:a", "o:b"]),
        "[Bad] output name 'o' is used twice",
    ),
    "unequal columns": (
        lambda: _proc(input="a, b", input_data={"a": [1, 2], "b": [1]}),
        "input_data columns have unequal lengths: {'a': 2, 'b': 1}",
    ),
    "missing file input": (
        lambda: _proc(input="f:file", input_data=["here.txt", "missing.txt"]),
        "[Bad job 1] input 'f' file '",
    ),
    "invalid input_data": (lambda: _proc(input="x", input_data=42), "input_data must be a list"),
    "template syntax error": (lambda: _proc(script="echo {{ in.x \n"), "syntax error on line 1"),
    "undefined variable": (
        lambda: _proc(input="x", input_data=[1], script="echo {{in.y}}"),
        "[Bad job 0] the script template uses an undefined variable 'in.y' -- in has: x",
    ),
    "unknown scheduler": (
        lambda: _proc(scheduler="locl"),
        "unknown scheduler 'locl' -- did you mean 'local'?",
    ),
    "gbatch without a project": (
        lambda: _proc(scheduler="gbatch"),
        "[Bad] the gbatch scheduler needs a Google Cloud project -- set scheduler_opts",
    ),
    "bad profile": (lambda: (_proc()[0], {"profile": "hcp"}), "no profile named 'hcp'"),
    "wrong config type": (
        lambda: (_proc()[0], {"forks": "x"}),
        "forks (from pipeline class) must be an integer (or unset), got 'x'",
    ),
    "workdir not writable": (
        lambda: (_proc()[0], {"workdir": "./afile/wd"}),
        "workdir './afile/wd' is not writable",
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_gives_one_clear_error(case: str, isolated: Path, capsys):
    write("here.txt", "x")
    write("afile", "not a directory")
    write(".pipework.toml", "[profiles.hpc]\nforks = 2\n")
    keep = write("out/Bad/keep.txt", "finished output")
    make, expected = CASES[case]
    start, overrides = make()
    pipe = type(
        "Pipe",
        (Pipeline,),
        {"starts": start, "outdir": "./out", "__module__": start.__module__, **overrides},
    )
    code = run_pipeline_main(pipe, ["-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "Traceback" not in err
    assert err.startswith("pipework: error: ")
    assert expected in err, err
    assert err.count("\n") == 1  # one message, one line
    assert Path(keep).read_text() == "finished output"


def test_main_exit_codes_and_no_traceback_in_a_real_interpreter(isolated: Path):
    write(
        "pipeline.py",
        """
from pipework import Pipeline, Proc

class Boom(Proc):
    script = "echo failing >&2; exit 3"

class P(Pipeline):
    starts = Boom

if __name__ == "__main__":
    P.main()
""",
    )
    proc = subprocess.run([sys.executable, "pipeline.py"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "[Boom job 0] failed with return code 3" in proc.stderr
    assert "| failing" in proc.stderr
    help_ = subprocess.run([sys.executable, "pipeline.py", "--help"], capture_output=True, text=True)
    assert help_.returncode == 0
    for option in ("--profile", "--forks", "--workdir", "--outdir", "--dry-run", "--quiet"):
        assert option in help_.stdout
