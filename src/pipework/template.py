"""Script and output templates: compiled once per process, rendered once per job.

The default engine is jinja2 with ``StrictUndefined``: a misspelt ``{{in.infle}}`` is a
:class:`~pipework.errors.TemplateError` naming the process, the template and the variable, never an
empty string in a script. ``template_opts={"engine": "liquid"}`` selects liquidpy when installed.
"""

from __future__ import annotations

import difflib
import glob as _glob
import json
import os
import re
import shlex
from collections.abc import Callable, Mapping
from pathlib import PurePosixPath
from typing import Any

from .errors import TemplateError

__all__ = ["FILTERS", "CompiledTemplate", "Namespace", "TemplateEngine"]


class Namespace:
    """A read-only view of a dict whose keys are its attributes, for ``in``, ``out``, ``job``...

    Unlike a dict, it has no methods that could shadow a key: ``{{out.copy}}`` or ``{{in.items}}``
    are the values named ``copy`` and ``items``.
    """

    __slots__ = ("_data",)

    def __init__(self, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_data", data)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __contains__(self, name: object) -> bool:
        return name in self._data

    def __iter__(self) -> Any:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return repr(dict(self._data))

    def __str__(self) -> str:
        return str(dict(self._data))


Mapping.register(Namespace)


def _path_str(value: Any) -> str:
    return os.fspath(value) if isinstance(value, os.PathLike) else str(value)


def _quote(value: Any) -> str:
    """Shell-quote a value; a list becomes space-separated quoted words."""
    if isinstance(value, (list, tuple)):
        return " ".join(shlex.quote(_path_str(v)) for v in value)
    return shlex.quote(_path_str(value))


def _shell_words(value: Any) -> Any:
    """How a bash script renders a bare ``{{value}}``: a list or tuple as shell-quoted words."""
    return _quote(value) if isinstance(value, (list, tuple)) else value


def _basename(value: Any) -> str:
    return PurePosixPath(_path_str(value).rstrip("/")).name


def _stem(value: Any) -> str:
    return PurePosixPath(_path_str(value).rstrip("/")).stem


def _ext(value: Any) -> str:
    return PurePosixPath(_path_str(value).rstrip("/")).suffix


def _dirname(value: Any) -> str:
    text = _path_str(value).rstrip("/")
    head, _, _ = text.rpartition("/")
    return head if head or not text.startswith("/") else "/"


def _joinpaths(value: Any, *parts: Any) -> str:
    text = _path_str(value)
    for part in parts:
        part = _path_str(part)
        text = part if part.startswith("/") else f"{text.rstrip('/')}/{part}"
    return text


def _read(value: Any) -> str:
    from . import paths

    return paths.read_text(_path_str(value))


def _readlines(value: Any) -> list[str]:
    return [line for line in _read(value).splitlines() if line]


def _json(value: Any) -> str:
    return json.dumps(value, default=lambda v: dict(v._data) if isinstance(v, Namespace) else _path_str(v))


def _glob_filter(value: Any, *patterns: str) -> list[str]:
    base = _path_str(value)
    pats = [os.path.join(base, p) for p in patterns] if patterns else [base]
    return sorted({f for p in pats for f in _glob.glob(p)})


#: The filters available in every template, by name.
FILTERS: Mapping[str, Callable[..., Any]] = {
    "quote": _quote,
    "basename": _basename,
    "stem": _stem,
    "ext": _ext,
    "dirname": _dirname,
    "joinpaths": _joinpaths,
    "read": _read,
    "readlines": _readlines,
    "json": _json,
    "glob": _glob_filter,
}

_UNDEF_RE = re.compile(r"(?:has no attribute|has no element) '?([^']+)'?|'([^']+)' is undefined")


class CompiledTemplate:
    """One compiled template of one process; :meth:`render` it once per job.

    Args:
        render: The engine's render function (context -> text).
        source: The template text, to point at the offending variable in errors.
        proc: The process name, for error messages.
        what: Which template this is (``script``, ``output 'count'``), for error messages.
    """

    __slots__ = ("_render", "proc", "source", "what")

    def __init__(
        self, render: Callable[[Mapping[str, Any]], str], *, source: str, proc: str, what: str
    ) -> None:
        self._render = render
        self.source = source
        self.proc = proc
        self.what = what

    def render(self, context: Mapping[str, Any], *, job: int | None = None) -> str:
        """Render with a job's context.

        Raises:
            TemplateError: For an undefined variable or an error raised by a filter.
        """
        try:
            return self._render(context)
        except TemplateError:
            raise
        except Exception as exc:
            raise self._explain(exc, context, job) from exc

    def _explain(self, exc: Exception, context: Mapping[str, Any], job: int | None) -> TemplateError:
        message = str(exc)
        m = _UNDEF_RE.search(message)
        if not m:
            return TemplateError(
                f"rendering the {self.what} template failed: {type(exc).__name__}: {message}",
                proc=self.proc,
                job=job,
            )
        var = m.group(1) or m.group(2)
        esc = re.escape(var)
        ref = re.search(rf"\b(\w+)\s*(?:\.\s*{esc}\b|\[\s*['\"]{esc}['\"]\s*\])", self.source)
        namespace = ref.group(1) if ref and isinstance(context.get(ref.group(1)), Mapping) else ""
        known = list(context[namespace]) if namespace else list(context)
        hint = f"{namespace or 'the context'} has: {', '.join(map(str, known)) or 'nothing'}"
        close = difflib.get_close_matches(var, [str(k) for k in known], n=1)
        if close:
            hint = f"did you mean {(namespace + '.') if namespace else ''}{close[0]}? {hint}"
        return TemplateError(
            f"the {self.what} template uses an undefined variable "
            f"'{(namespace + '.') if namespace else ''}{var}'",
            proc=self.proc,
            job=job,
            hint=hint,
        )


class TemplateEngine:
    """Compiles templates for one run, with the built-in filters plus the process's own.

    Args:
        engine: ``"jinja2"`` (default) or ``"liquid"`` (needs the ``liquid`` extra).
        filters: Extra filters, by name.
    """

    def __init__(self, engine: str = "jinja2", filters: Mapping[str, Callable[..., Any]] | None = None):
        if engine not in ("jinja2", "liquid"):
            raise TemplateError(
                f"unknown template engine {engine!r}",
                hint="template_opts engine is 'jinja2' or 'liquid'",
            )
        self.engine = engine
        self.filters = {**FILTERS, **(filters or {})}
        self._env: Any = None
        self._shell_env: Any = None

    def _jinja_env(self, *, shell: bool = False) -> Any:
        if shell:
            if self._shell_env is None:
                self._shell_env = self._jinja_env().overlay(finalize=_shell_words)
            return self._shell_env
        if self._env is None:
            import jinja2

            env = jinja2.Environment(
                undefined=jinja2.StrictUndefined,
                keep_trailing_newline=True,
                autoescape=False,
            )
            env.filters.update(self.filters)
            self._env = env
        return self._env

    def compile(self, source: str, *, proc: str, what: str, shell: bool = False) -> CompiledTemplate:
        """Compile a template once.

        Args:
            source: The template text.
            proc: The process name, for error messages.
            what: Which template this is (``script``, ``output 'count'``), for error messages.
            shell: The template is a bash script: a list or tuple rendered bare (``{{in.fs}}``) becomes
                its items shell-quoted and separated by spaces, as ``{{in.fs | quote}}`` does (jinja2
                engine; otherwise a list renders as Python writes it). Other values are not quoted.

        Raises:
            TemplateError: For a syntax error, with the line number.
        """
        if self.engine == "liquid":
            return self._compile_liquid(source, proc=proc, what=what)
        import jinja2

        try:
            tpl = self._jinja_env(shell=shell).from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            line = source.splitlines()[exc.lineno - 1].strip() if exc.lineno else ""
            raise TemplateError(
                f"the {what} template has a syntax error on line {exc.lineno}: {exc.message}"
                + (f" (in: {line})" if line else ""),
                proc=proc,
                hint="check the {{ }} and {% %} pairs on that line",
            ) from exc
        # jinja2 keeps a template's globals as a ChainMap over the environment's, and every render
        # copies and iterates it: a plain dict (this run's environment does not change) makes a
        # render of a one-line script about 2.5x cheaper, which counts at one render per job
        tpl.globals = dict(tpl.globals)
        return CompiledTemplate(tpl.render, source=source, proc=proc, what=what)

    def _compile_liquid(self, source: str, *, proc: str, what: str) -> CompiledTemplate:
        try:
            from liquid import Liquid
        except ImportError as exc:
            raise TemplateError(
                "template engine 'liquid' needs liquidpy",
                proc=proc,
                hint="pip install 'pipework[liquid]'",
            ) from exc
        try:
            tpl = Liquid(source, from_file=False, mode="wild", filters=dict(self.filters))
        except Exception as exc:
            raise TemplateError(f"the {what} template has a syntax error: {exc}", proc=proc) from exc
        return CompiledTemplate(lambda ctx: str(tpl.render(**ctx)), source=source, proc=proc, what=what)
