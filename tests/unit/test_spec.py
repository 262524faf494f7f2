"""Parsing of input and output declarations."""

from pathlib import Path

import pytest

from pipework.errors import SpecError
from pipework.spec import InputSpec, OutputSpec, parse_inputs, parse_outputs


def test_inputs_from_string_and_list():
    assert parse_inputs("a:file, b", proc="P") == (InputSpec("a", "file"), InputSpec("b", "var"))
    assert parse_inputs(["x:files", "y:dirs"], proc="P") == (
        InputSpec("x", "files"),
        InputSpec("y", "dirs"),
    )


def test_unknown_input_type_names_the_process_and_suggests():
    with pytest.raises(SpecError, match=r"\[P\] input 'a' has unknown type 'fil' -- did you mean 'file'"):
        parse_inputs("a:fil", proc="P")


def test_outputs_typed_and_var():
    assert parse_outputs(["c:file:{{in.a}}.txt", "n:{{in.a | stem}}"], proc="P") == (
        OutputSpec("c", "file", "{{in.a}}.txt"),
        OutputSpec("n", "var", "{{in.a | stem}}"),
    )


def test_output_template_may_contain_commas_and_colons():
    (out,) = parse_outputs("c:var:{{ in.a | joinpaths('x', 'y') }}:z", proc="P")
    assert out.template == "{{ in.a | joinpaths('x', 'y') }}:z"


def test_unknown_output_type():
    with pytest.raises(SpecError, match="output 'c' has unknown type 'flie'"):
        parse_outputs("c:flie:x.txt", proc="P")


def test_output_name_used_twice():
    with pytest.raises(SpecError, match="output name 'c' is used twice"):
        parse_outputs(["c:file:a", "c:file:b"], proc="P")


def test_input_name_used_twice_and_bad_name():
    with pytest.raises(SpecError, match="input name 'a' is used twice"):
        parse_inputs("a, a", proc="P")
    with pytest.raises(SpecError, match="not a valid identifier"):
        parse_inputs("my-file:file", proc="P")


def test_output_without_template():
    with pytest.raises(SpecError, match="has no template"):
        parse_outputs("count", proc="P")


def test_the_proc_attributes_are_procs_annotations_and_all_documented():
    import re

    from pipework import Proc
    from pipework.proc import PROC_ATTRIBUTES

    assert {"requires", "input", "input_data", "script", "template_opts"} <= PROC_ATTRIBUTES
    assert all(getattr(Proc, name) is None for name in PROC_ATTRIBUTES)
    table = (Path(__file__).parents[2] / "docs/concepts/procs.md").read_text().split("\n## ")[0]
    documented = {
        name
        for row in table.splitlines()
        if row.startswith("| `")
        for name in re.findall(r"`(\w+)`", row.split("|")[1])
    }
    assert documented == PROC_ATTRIBUTES
    with pytest.raises(SpecError, match="derive\\(\\) got unknown attribute\\(s\\) \\['inputs'\\]") as info:
        Proc.derive("Other", inputs="a")
    assert info.value.hint == "attributes: " + ", ".join(sorted(PROC_ATTRIBUTES))
