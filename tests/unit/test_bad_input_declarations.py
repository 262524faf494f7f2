"""Bad declarations in a pipeline file give one clear error: the process, the attribute, the fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipework.template import Namespace, TemplateEngine

from .badpipe import one_error, run_in_process


def _one_proc(attrs: str) -> str:
    return f"class A(Proc):\n    script = 'true'\n{attrs}\n\nclass P(Pipeline):\n    starts = A\n"


WRONG_TYPES = {
    "resources": ("    resources = '4'", "resources = {'cpus': 2"),
    "envs": ("    envs = ['ref']", "envs = {'ref': 'hg38.fa'}"),
    "output": ("    output = 5", "'count:file:{{in.infile | stem}}.count'"),
    "scheduler_opts": ("    scheduler_opts = 'partition=short'", "scheduler_opts = {'partition': 'short'}"),
    "script": ("    script = ['echo a']", "script must be a str"),
    "template_opts": ("    template_opts = 'liquid'", "template_opts = {'engine': 'liquid'}"),
    "export": ("    export = 'yes'", "export must be True or False"),
    "input": ("    input = 5", "'infile:file, n'"),
    "requires": ("    requires = 5", "requires = [A, B]"),
    "template_opts engine": ("    template_opts = {'engine': 'jinja'}", "did you mean 'jinja2'?"),
    "template_opts key": ("    template_opts = {'filter': {}}", "did you mean 'filters'?"),
    "template_opts filter": ("    template_opts = {'filters': {'up': 'upper'}}", "a dict of functions"),
}


@pytest.mark.parametrize("case", sorted(WRONG_TYPES))
def test_an_attribute_of_the_wrong_type_names_the_process_the_attribute_and_the_fix(case: str):
    attrs, fix = WRONG_TYPES[case]
    attr = case.split()[0]
    line = one_error(run_in_process(_one_proc(attrs)), "[A] ", attr, fix)
    assert "(from" not in line  # a process attribute, not a configuration source


PROFILE_TABLES = {
    "scheduler_opts is a string": ("[profiles.x]\nscheduler_opts = 'p'\n", "scheduler_opts (from", "{ name = value }"),
    "resources is a string": ("[profiles.x]\nresources = 'p'\n", "resources (from", "{ name = value }"),
    "env is a string": ("[profiles.x]\nenv = 'p'\n", "env (from", "{ name = value }"),
    "a profile is a string": ("[profiles]\nx = 'p'\n", "[profiles.x] is 'p', not a table", "[profiles.x]"),
    "profiles is a string": ("profiles = 'x'\n", "profiles must be tables", "[profiles.NAME]"),
    "a resource of the wrong type": ("[profiles.x.resources]\ncpus = 'many'\n", "resources.cpus", "must be a positive int"),
}


@pytest.mark.parametrize("case", sorted(PROFILE_TABLES))
def test_a_profile_table_of_the_wrong_type_names_the_file_the_key_and_the_fix(case: str):
    toml, key, fix = PROFILE_TABLES[case]
    one_error(run_in_process(_one_proc(""), "--profile", "x", toml=toml), ".pipework.toml", key, fix)



REQUIRES = {
    "a string": ("'A'", "requires is 'A' (str)", "the class itself, not its name"),
    "None in a list": ("[A, None]", "requires holds None at position 1", "remove it"),
    "a duplicate": ("[A, A]", "requires lists 'A' twice", "list each process once"),
}


@pytest.mark.parametrize("case", sorted(REQUIRES))
def test_requires_as_a_string_with_none_or_a_duplicate_is_an_error_naming_the_process(case: str):
    value, what, fix = REQUIRES[case]
    body = f"""
class A(Proc):
    script = 'true'

class B(Proc):
    requires = {value}
    script = 'true'

class P(Pipeline):
    starts = A
"""
    one_error(run_in_process(body), "[B] ", what, fix)


def test_a_misspelt_requires_on_a_process_not_yet_in_the_pipeline_is_reported_not_dropped():
    body = """
class A(Proc):
    script = 'true'

class B(Proc):
    require = A
    script = 'touch b.txt'

class P(Pipeline):
    starts = A
"""
    one_error(run_in_process(body), "'B'", "['require']", "did you mean 'requires'?")
    assert not Path("b.txt").exists()


def test_a_misspelt_attribute_on_a_pipeline_names_the_nearest_valid_one():
    body = _one_proc("") + "    forsk = 2\n"
    one_error(run_in_process(body), "pipeline 'P'", "['forsk']", "did you mean 'forks'?")


def test_a_pipeline_may_keep_its_own_helpers_methods_classes_and_configuration_keys():
    body = _one_proc("") + (
        "    env = {'X': '1'}\n    _seen = 2\n    First = A\n\n"
        "    @classmethod\n    def helper(cls):\n        return 1\n"
    )
    code, err = run_in_process(body)
    assert code == 0, err


def test_a_generator_that_raises_is_one_error_naming_the_process_and_the_exception():
    body = """
def rows():
    yield 1
    raise ValueError('sample sheet line 2 is empty')

class A(Proc):
    input = 'x'
    input_data = rows()
    script = 'echo {{in.x}}'

class P(Pipeline):
    starts = A
"""
    one_error(run_in_process(body), "[A] ", "ValueError: sample sheet line 2 is empty", "fix the generator")


def test_a_generator_gives_its_rows_to_the_run_and_an_exhausted_one_is_an_error():
    body = """
class A(Proc):
    input = 'x'
    input_data = (n for n in (1, 2, 3))
    output = 'o:file:{{in.x}}.txt'
    script = 'touch {{out.o}}'

class P(Pipeline):
    starts = A
    outdir = './out'
"""
    code, err = run_in_process(body)
    assert code == 0, err
    assert sorted(p.name for p in Path("out/A").iterdir()) == ["1.txt", "2.txt", "3.txt"]
    body = body.replace("(n for n in (1, 2, 3))", "iter([])")
    one_error(run_in_process(body), "[A] ", "input_data is an iterator that yields no rows", "give a list")


def test_a_callable_that_raises_names_the_process_and_the_exception():
    body = """
class A(Proc):
    input = 'x'
    input_data = lambda: 1 / 0
    script = 'echo {{in.x}}'

class P(Pipeline):
    starts = A
"""
    one_error(run_in_process(body), "[A] ", "ZeroDivisionError", "called with 0 upstream channel(s)")


INPUT_DATA = {
    "rows of different lengths": ("[(1, 2), (1,)]", "rows have different lengths"),
    "a string": ("'a.txt'", "input_data must be a list"),
    "columns of unequal lengths": ("{'x': [1, 2], 'y': [1]}", "columns have unequal lengths"),
    "a callable returning rows of different lengths": ("lambda: [(1, 2), (1,)]", "rows have different lengths"),
    "a callable using a missing column": (
        "lambda: Channel.create({'y': [1]}).column('x')",
        "no column 'x'; its columns are ['y'] -- use one of",
    ),
}


@pytest.mark.parametrize("case", sorted(INPUT_DATA))
def test_a_spec_error_from_input_data_names_the_process(case: str):
    value, what = INPUT_DATA[case]
    body = f"""
class A(Proc):
    input = 'x'
    input_data = {value}
    script = 'echo {{{{in.x}}}}'

class P(Pipeline):
    starts = A
"""
    one_error(run_in_process(body), "[A] ", what)


def _files_script(lang: str, script: str) -> str:
    return f"""
open('a b.txt', 'w').write('1')
open('c.txt', 'w').write('2')

class A(Proc):
    input = 'fs:files'
    input_data = [[['a b.txt', 'c.txt']]]
    lang = {lang!r}
    script = {script!r}

class P(Pipeline):
    starts = A
    workdir = './wd'
"""


def test_a_files_value_rendered_bare_in_a_bash_script_is_shell_quoted_words():
    here = Path.cwd()
    body = _files_script("bash", f"echo {{{{in.fs}}}} > {here}/n.txt; wc -c {{{{in.fs}}}} | tail -1 > {here}/sizes.txt")
    code, err = run_in_process(body)
    assert code == 0, err
    assert Path("n.txt").read_text().strip() == f"{here}/a b.txt {here}/c.txt"
    assert Path("sizes.txt").read_text().split()[0] == "2"  # both files found: 1 byte each
    assert f"'{here}/a b.txt' {here}/c.txt" in Path("wd/P/A/0/job.script").read_text()


def test_a_files_value_keeps_its_python_form_in_other_languages_and_output_templates():
    here = Path.cwd()
    code, err = run_in_process(_files_script("python3", f"print({{{{in.fs}}}}, file=open('{here}/n.txt', 'w'))"))
    assert code == 0, err
    assert Path("n.txt").read_text().strip() == str([f"{here}/a b.txt", f"{here}/c.txt"])
    engine, ctx = TemplateEngine(), {"in": Namespace({"fs": ["a b", "c"], "s": "x y"})}
    output = engine.compile("{{in.fs}}", proc="A", what="output 'o'")
    assert output.render(ctx) == "['a b', 'c']"
    script = engine.compile("{{in.fs}} {{in.s}} {{in.fs | quote}}", proc="A", what="script", shell=True)
    assert script.render(ctx) == "'a b' c x y 'a b' c"  # a str reaches the shell as it is


@pytest.mark.parametrize("scheduler", ["local", "slurm", "sge"])
def test_a_container_on_a_scheduler_that_cannot_run_it_is_an_error_before_anything_runs(
    isolated: Path, scheduler: str
):
    from pipework import Proc
    from pipework.errors import ConfigError

    from .helpers import make_pipeline

    class Tools(Proc):
        container = "ghcr.io/lab/tools:1.2"
        script = "touch ../ran"

    with pytest.raises(ConfigError) as err:
        make_pipeline(Tools, scheduler=scheduler)().run()
    text = str(err.value)
    assert text.startswith(f"[Tools] container 'ghcr.io/lab/tools:1.2' is set, but the {scheduler} scheduler")
    assert "they would run on the host" in text and "remove container, or run this process with" in text
    assert "'gbatch'" in text
    assert not Path("wd/P/Tools/ran").exists()
