"""Channels: construction from every input_data form, helpers, and their errors."""

from pathlib import Path

import pytest

from pipework import Channel
from pipework.errors import SpecError


def test_create_from_list_rows_dict_and_channel():
    assert Channel.create(["a", "b"]).rows == (("a",), ("b",))
    assert Channel.create([("a", 1), ("b", 2)]).column(1) == [1, 2]
    ch = Channel.create({"x": [1, 2], "y": ["p", "q"]})
    assert ch.columns == ("x", "y") and ch.column("y") == ["p", "q"]
    assert Channel.create(ch) is ch


def test_unequal_columns_are_an_error():
    with pytest.raises(SpecError, match="unequal lengths"):
        Channel.create({"x": [1, 2], "y": [1]})


def test_rows_of_unequal_length_are_an_error():
    with pytest.raises(SpecError, match="different lengths"):
        Channel.create([(1, 2), (3,)])


def test_invalid_kind_is_an_error():
    with pytest.raises(SpecError, match="input_data must be"):
        Channel.create(42)
    with pytest.raises(SpecError, match="input_data must be"):
        Channel.create("a.txt")


def test_pandas_round_trip():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"a": [1, 2], "b": ["x", "y"]})
    ch = Channel.create(df)
    assert ch.records() == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert list(ch.to_pandas()["b"]) == ["x", "y"]


def test_from_glob_sorted_and_empty(tmp_path: Path):
    for name in ("b.txt", "a.txt", "c.csv"):
        (tmp_path / name).write_text(name)
    ch = Channel.from_glob(str(tmp_path / "*.txt"))
    assert [Path(f).name for f in ch.column("file")] == ["a.txt", "b.txt"]
    with pytest.raises(SpecError, match="no file matches"):
        Channel.from_glob(str(tmp_path / "*.none"))


def test_from_pairs(tmp_path: Path):
    for name in ("s1_R1.fq", "s1_R2.fq", "s2_R1.fq", "s2_R2.fq"):
        (tmp_path / name).write_text("")
    ch = Channel.from_pairs(str(tmp_path / "*.fq"))
    assert [(Path(a).name, Path(b).name) for a, b in ch.rows] == [
        ("s1_R1.fq", "s1_R2.fq"),
        ("s2_R1.fq", "s2_R2.fq"),
    ]
    (tmp_path / "s3_R1.fq").write_text("")
    with pytest.raises(SpecError, match="has no pair"):
        Channel.from_pairs(str(tmp_path / "*.fq"))


def test_expand_and_collapse(tmp_path: Path):
    d = tmp_path / "d"
    d.mkdir()
    for name in ("x.txt", "y.txt"):
        (d / name).write_text("")
    expanded = Channel(["dir", "tag"], [(str(d), "t")]).expand_dir("dir")
    assert [Path(f).name for f in expanded.column("dir")] == ["x.txt", "y.txt"]
    assert expanded.column("tag") == ["t", "t"]
    assert expanded.collapse_files("dir").rows == ((str(d), "t"),)


def test_cbind_broadcasts_single_row_and_rejects_mismatch():
    a = Channel(["a"], [(1,), (2,)])
    b = Channel(["b"], [("x",)])
    assert a.cbind(b).rows == ((1, "x"), (2, "x"))
    with pytest.raises(SpecError, match="side by side"):
        a.cbind(Channel(["c"], [(1,), (2,), (3,)]))


def test_rbind_select_rename():
    a = Channel(["a", "b"], [(1, 2)])
    assert a.rbind(Channel(["x", "y"], [(3, 4)])).rows == ((1, 2), (3, 4))
    assert a.select("b").rows == ((2,),)
    assert a.rename(a="z").columns == ("z", "b")
    with pytest.raises(SpecError, match="no column 'q'"):
        a.column("q")
