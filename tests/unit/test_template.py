"""Templates: filters, strict undefined variables, syntax errors."""

import pytest

from pipework.errors import TemplateError
from pipework.template import TemplateEngine


def render(src: str, **ctx):
    return TemplateEngine().compile(src, proc="P", what="script").render(ctx, job=2)


def test_filters(tmp_path):
    f = tmp_path / "data.tar.gz"
    f.write_text("l1\nl2\n")
    ctx = {"in": {"f": str(f), "fs": ["a b", "c"]}}
    assert render("{{in.f | basename}}", **ctx) == "data.tar.gz"
    assert render("{{in.f | stem}}", **ctx) == "data.tar"
    assert render("{{in.f | ext}}", **ctx) == ".gz"
    assert render("{{in.f | dirname}}", **ctx) == str(tmp_path)
    assert render("{{in.f | dirname | joinpaths('x', 'y.txt')}}", **ctx) == f"{tmp_path}/x/y.txt"
    assert render("{{in.fs | quote}}", **ctx) == "'a b' c"
    assert render("{{ s | quote }}", s="it's", **ctx) == "'it'\"'\"'s'"
    assert render("{{in.f | read}}", **ctx) == "l1\nl2\n"
    assert render("{{in.f | readlines | length}}", **ctx) == "2"
    assert render("{{in.fs | json}}", **ctx) == '["a b", "c"]'
    assert render("{{ dir | glob('*.gz') | length }}", dir=str(tmp_path), **ctx) == "1"


def test_undefined_variable_names_process_job_and_variable():
    with pytest.raises(TemplateError) as err:
        render("cat {{in.infle}}", **{"in": {"infile": "x"}})
    assert str(err.value) == (
        "[P job 2] the script template uses an undefined variable 'in.infle' -- did you mean in.infile? in has: infile"
    )


def test_undefined_top_level_name():
    with pytest.raises(TemplateError, match="undefined variable 'nope'"):
        render("{{ nope }}", **{"in": {}})


def test_syntax_error_has_line_number():
    with pytest.raises(TemplateError, match=r"\[P\] the script template has a syntax error on line 2"):
        TemplateEngine().compile("echo 1\necho {{ in.x \n", proc="P", what="script")


def test_unknown_engine():
    with pytest.raises(TemplateError, match="unknown template engine"):
        TemplateEngine("mako")


def test_extra_filters():
    eng = TemplateEngine(filters={"shout": lambda s: s.upper()})
    assert eng.compile("{{ 'a' | shout }}", proc="P", what="script").render({}) == "A"


def test_namespace_keys_win_over_dict_methods():
    from pipework.template import Namespace

    ctx = {"out": Namespace({"copy": "/x/copy.txt", "items": "/x/items"})}
    assert render("{{out.copy}} {{out['items']}} {{out.items}}", **ctx) == "/x/copy.txt /x/items /x/items"
    with pytest.raises(TemplateError, match="undefined variable 'out.cpy' -- did you mean out.copy"):
        render("{{out.cpy}}", **ctx)
