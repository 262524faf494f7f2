"""pipework.paths on local paths: the PathsContract on a directory, and the pure URL helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pipework import paths
from pipework.errors import StorageError

from ..contracts import PathsContract


class TestLocalPaths(PathsContract):
    __test__ = True

    def make_base(self, tmp_path: Path) -> str:
        base = tmp_path / "base"
        base.mkdir()
        return str(base)


@pytest.mark.parametrize(
    ("url", "parts"),
    [
        ("gs://bucket/a/b.txt", ("gs", "bucket", "a/b.txt")),
        ("s3://bucket", ("s3", "bucket", "")),
        ("az://container/dir/", ("az", "container", "dir/")),
    ],
)
def test_split_url(url: str, parts: tuple[str, str, str]):
    assert paths.split_url(url) == parts


def test_join_and_resolve_keep_urls_and_absolutize_paths(isolated: Path):
    assert paths.join("gs://b/work/", "P", "/Count") == "gs://b/work/P/Count"
    assert paths.join("s3://b/x", "s3://other/y") == "s3://other/y"
    assert paths.join("/a", "b", "c") == os.path.join("/a", "b", "c")
    assert paths.resolve("az://c/dir/") == "az://c/dir"
    assert paths.resolve("gs://b") == "gs://b"
    assert paths.resolve("rel") == str(isolated / "rel")
    assert paths.is_cloud("s3://b") and not paths.is_cloud("/s3://b")


def test_writing_into_a_missing_directory_names_it(isolated: Path):
    with pytest.raises(StorageError, match=r"cannot write '.*/no/such/f.txt': it does not exist"):
        paths.write_text(str(isolated / "no" / "such" / "f.txt"), "x")


def test_makedir_says_whether_it_made_the_directory(isolated: Path):
    assert paths.makedir(str(isolated / "a" / "b"))
    assert not paths.makedir(str(isolated / "a" / "b"))
    assert not paths.makedir("gs://bucket/dir")  # a bucket has no directories


def test_the_environment_overlay_leaves_os_environ_alone(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://outer")
    before = dict(os.environ)
    with (
        paths.environment({"AWS_ENDPOINT_URL": "http://inner", "PW_X": "1"}),
        paths.environment({"PW_Y": "2"}),
    ):
        assert dict(os.environ) == before
    assert dict(os.environ) == before


def test_a_local_export_keeps_an_unchanged_file(isolated: Path):
    src = isolated / "out.txt"
    src.write_text("x")
    paths.export(str(src), str(isolated / "exp" / "out.txt"))
    assert paths.is_exported(str(src), str(isolated / "exp" / "out.txt"))
    assert not paths.is_exported(str(src), "gs://b/out.txt")
