"""Bad locations give one clear error before anything runs: input paths of the wrong kind, URLs of
schemes pipework does not handle, an outdir that is a file, a glob that matches nothing at import."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from pipework import Channel
from pipework.errors import SpecError

from .badpipe import one_error, run_in_process, run_script


def _reads(input_: str, value: str, *, setup: str = "") -> str:
    return f"""
import os
os.makedirs('adir', exist_ok=True)
open('afile.txt', 'w').write('x')
{setup}

class A(Proc):
    input = {input_!r}
    input_data = [{value}]
    script = 'touch {os.getcwd()}/ran'

class P(Pipeline):
    starts = A
"""


PATHS = {
    "a directory given to a file input": (
        "f:file",
        "'adir'",
        ["input 'f' is a 'file' input but '", "/adir' is a directory", "declare the input as 'f:dir'"],
    ),
    "a file given to a dir input": (
        "d:dir",
        "'afile.txt'",
        ["input 'd' is a 'dir' input but '", "/afile.txt' is a file", "declare the input as 'd:file'"],
    ),
    "a missing member of a files input": (
        "fs:files",
        "[['afile.txt', 'gone.txt']]",
        ["input 'fs' file '", "/gone.txt' (item 1 of 2) does not exist", "check input_data"],
    ),
    "a directory among the members of a files input": (
        "fs:files",
        "[['afile.txt', 'adir']]",
        ["/adir' (item 1 of 2) is a directory", "declare the input as 'fs:dirs'"],
    ),
    "a file among the members of a dirs input": (
        "ds:dirs",
        "[['adir', 'afile.txt']]",
        ["/afile.txt' (item 1 of 2) is a file", "declare the input as 'ds:files'"],
    ),
}


@pytest.mark.parametrize("case", sorted(PATHS))
def test_an_input_path_of_the_wrong_kind_or_missing_fails_before_anything_runs(case: str):
    input_, value, names = PATHS[case]
    one_error(run_in_process(_reads(input_, value)), "[A job 0] ", *names)
    assert not Path("ran").exists()


def test_every_wrong_input_path_is_counted():
    body = _reads("fs:files", "[['gone1.txt', 'gone2.txt']], [['gone3.txt']]")
    one_error(run_in_process(body), "[A job 0] ", "gone1.txt' (item 0 of 2)", "(2 more input paths are wrong)")


def test_input_paths_of_the_right_kind_run():
    body = _reads("f:file, d:dir, fs:files", "('afile.txt', 'adir', ['afile.txt'])")
    code, err = run_in_process(body)
    assert code == 0, err
    assert Path("ran").exists()


URLS = ["hdfs://namenode/data/x", "ftp://example.org/x", "http://example.org/x"]


@pytest.mark.parametrize("url", URLS)
@pytest.mark.parametrize("key", ["workdir", "outdir"])
def test_a_workdir_or_outdir_url_of_an_unsupported_scheme_is_an_error(key: str, url: str):
    scheme = url.split(":")[0]
    body = f"class A(Proc):\n    script = 'true'\n\nclass P(Pipeline):\n    starts = A\n    {key} = {url!r}\n"
    one_error(
        run_in_process(body),
        f"{key} {url!r} uses the scheme {scheme}://, which pipework does not handle (from pipeline class)",
        "gs://, s3:// and az:// URLs and local paths",
    )
    assert not any(p.name.endswith(":") for p in Path.cwd().iterdir())
    body = body.replace(f"    {key} = {url!r}\n", "")
    one_error(run_in_process(body, f"--{key}", url), f"{key} {url!r}", "(from argument)", "az://")


@pytest.mark.parametrize("url", URLS)
def test_an_input_url_of_an_unsupported_scheme_is_an_error_naming_the_input(url: str):
    scheme = url.split(":")[0]
    one_error(
        run_in_process(_reads("f:file", repr(url))),
        f"[A job 0] input 'f' is {url!r}, whose scheme {scheme}:// pipework does not handle",
        "gs://, s3:// and az:// URLs and local paths: copy the data to one of them first",
    )
    assert not Path("ran").exists()


def test_a_file_url_points_at_the_local_path():
    body = "class A(Proc):\n    script = 'true'\n\nclass P(Pipeline):\n    starts = A\n    workdir = 'file:///tmp/wd'\n"
    one_error(run_in_process(body), "workdir 'file:///tmp/wd'", "write the local path instead: '/tmp/wd'")


@pytest.mark.parametrize("outdir", ["afile", "afile/sub"])
def test_an_outdir_that_is_a_file_or_under_one_fails_before_anything_runs(outdir: str):
    Path("afile").write_text("keep me")
    body = f"""
class A(Proc):
    output = 'o:file:o.txt'
    script = 'touch {{{{out.o}}}}; touch {os.getcwd()}/ran'

class P(Pipeline):
    starts = A
    outdir = {outdir!r}
"""
    where = "is a file" if outdir == "afile" else f"is under {str(Path('afile').resolve())!r}, a file"
    one_error(run_in_process(body), f"outdir {outdir!r} {where}, not a directory", "choose another outdir")
    assert not Path("ran").exists()
    assert Path("afile").read_text() == "keep me"


GLOB_IN_CLASS_BODY = """
class A(Proc):
    input = 'f:file'
    input_data = Channel.from_glob('reads/*.fq')
    script = 'cat {{in.f}}'

class P(Pipeline):
    starts = A
"""

GLOB_IN_MODULE_BODY = """
READS = Channel.from_pairs('reads/*_R?.fq')

class A(Proc):
    input = 'r1:file, r2:file'
    input_data = READS
    script = 'cat {{in.r1}} {{in.r2}}'

class P(Pipeline):
    starts = A
"""


def test_a_glob_matching_nothing_in_a_class_body_is_one_line_naming_the_process():
    message = "[A] no file matches 'reads/*.fq' -- check the pattern and the cwd"
    assert message in one_error(run_script(GLOB_IN_CLASS_BODY), message)
    pipework_run = [sys.executable, "-m", "pipework", "run", "pipeline.py"]
    assert message in one_error(run_script(GLOB_IN_CLASS_BODY, *pipework_run), message)


def test_a_glob_matching_nothing_in_the_body_of_the_script_is_one_line():
    one_error(run_script(GLOB_IN_MODULE_BODY), "[A] no file pairs match 'reads/*_R?.fq'")
    pipework_run = [sys.executable, "-m", "pipework", "run", "pipeline.py"]
    one_error(
        run_script(GLOB_IN_MODULE_BODY, *pipework_run),
        "importing 'pipeline.py' (line 3): no file pairs match 'reads/*_R?.fq'",
    )


def test_a_glob_matching_nothing_in_a_function_raises_at_once():
    def reads() -> Channel:
        return Channel.from_glob("reads/*.fq")

    with pytest.raises(SpecError, match="no file matches 'reads/\\*.fq'"):
        reads()


def test_a_glob_that_failed_in_a_class_body_raises_when_the_channel_is_used():
    class Holder:
        reads = Channel.from_glob("reads/*.fq")

    assert "no file matches" in repr(Holder.reads)
    with pytest.raises(SpecError, match="no file matches 'reads/\\*.fq'"):
        len(Holder.reads)
    with pytest.raises(SpecError, match="no file matches"):
        Holder.reads.column("file")
