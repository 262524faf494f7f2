"""``Proc``: the class users subclass to declare one step of a pipeline.

A ``Proc`` subclass is a declaration: class attributes say what the step takes, makes and runs. Nothing
is registered or changed when a class is defined; each run reads the attributes into a frozen
:class:`~pipework.spec.ProcSpec`.
"""

from __future__ import annotations

import inspect
import typing
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .errors import SpecError

__all__ = ["PROC_ATTRIBUTES", "Proc", "class_attributes", "unknown_names"]


class Proc:
    """One step of a pipeline: its input, output, script, and how to run it.

    Subclass it and set class attributes; only ``script`` (and ``input``/``output`` when the script uses
    them) is needed::

        class Count(Proc):
            \"\"\"Count the lines of each input file.\"\"\"
            input = "infile:file"
            input_data = ["a.txt", "b.txt"]
            output = "count:file:{{in.infile | stem}}.count"
            script = "wc -l < {{in.infile | quote}} > {{out.count | quote}}"

    Attributes that are not set (None) take the pipeline's value, then the profile's, then the default.
    See the "Concepts" page of the docs for each attribute.
    """

    requires: ClassVar[type[Proc] | Sequence[type[Proc]] | None] = None
    input: ClassVar[str | Sequence[str] | None] = None
    input_data: ClassVar[Any] = None
    output: ClassVar[str | Sequence[str] | None] = None
    script: ClassVar[str | None] = None
    lang: ClassVar[str | None] = None
    strict: ClassVar[bool | None] = None
    envs: ClassVar[Mapping[str, Any] | None] = None
    forks: ClassVar[int | None] = None
    cache: ClassVar[bool | str | None] = None
    export: ClassVar[bool | None] = None
    error_strategy: ClassVar[str | None] = None
    num_retries: ClassVar[int | None] = None
    retry_on: ClassVar[Sequence[str] | None] = None
    scheduler: ClassVar[str | None] = None
    scheduler_opts: ClassVar[Mapping[str, Any] | None] = None
    resources: ClassVar[Mapping[str, Any] | None] = None
    resource_limits: ClassVar[Mapping[str, Any] | None] = None
    container: ClassVar[str | None] = None
    template_opts: ClassVar[Mapping[str, Any] | None] = None

    def __init__(self) -> None:
        raise SpecError(
            f"{type(self).__name__} is a declaration and is not instantiated",
            hint="put it in a Pipeline's starts (or another Proc's requires) and run the pipeline",
        )

    @classmethod
    def derive(cls, name: str, **overrides: Any) -> type[Proc]:
        """Return a copy of this process under another name, with some attributes changed.

        Use it when one step appears twice in a pipeline::

            Align2 = Align.derive("Align2", requires=Trim)

        Raises:
            SpecError: If the name is not an identifier or an override is not a Proc attribute.
        """
        if not name.isidentifier():
            raise SpecError(f"derived process name {name!r} is not a valid identifier", proc=cls.__name__)
        unknown = set(overrides) - PROC_ATTRIBUTES
        if unknown:
            raise SpecError(
                f"derive() got unknown attribute(s) {sorted(unknown)}",
                proc=cls.__name__,
                hint=f"attributes: {', '.join(sorted(PROC_ATTRIBUTES))}",
            )
        frame = inspect.currentframe()
        caller = frame.f_back if frame is not None else None
        module = caller.f_globals.get("__name__", cls.__module__) if caller else cls.__module__
        namespace: dict[str, Any] = {
            "__module__": module,
            "__qualname__": name,
            "__doc__": cls.__doc__,
            "_derived_from": cls,
            **overrides,
        }
        return type(name, (cls,), namespace)

    @classmethod
    def requirements(cls) -> list[type[Proc]]:
        """The processes this one requires, as a list (``requires`` may be one class or a list).

        Raises:
            SpecError: If ``requires`` is not a Proc subclass or a list of them, holds None, or lists
                a process twice.
        """
        req = cls.requires
        if req is None:
            return []
        if isinstance(req, type) and issubclass(req, Proc) and req is not Proc:
            return [req]
        if not isinstance(req, (list, tuple)):
            raise SpecError(
                f"requires is {req!r} ({type(req).__name__})",
                proc=cls.__name__,
                hint=_REQUIRES_FIX + (" (the class itself, not its name)" if isinstance(req, str) else ""),
            )
        for position, item in enumerate(req):
            if not (isinstance(item, type) and issubclass(item, Proc)) or item is Proc:
                raise SpecError(
                    f"requires holds {item!r} at position {position}, which is not a Proc subclass",
                    proc=cls.__name__,
                    hint="remove it" if item is None else _REQUIRES_FIX,
                )
            if item in req[:position]:
                raise SpecError(
                    f"requires lists {item.__name__!r} twice",
                    proc=cls.__name__,
                    hint="list each process once",
                )
        return list(req)

    @classmethod
    def description(cls) -> str:
        """The first line of the docstring."""
        doc = inspect.getdoc(cls) if cls.__doc__ else ""
        return (doc or "").strip().splitlines()[0] if doc else ""

    @classmethod
    def unknown_attributes(cls) -> list[str]:
        """Class attributes set on this class that are not Proc attributes (likely typos)."""
        return unknown_names(cls, Proc, PROC_ATTRIBUTES)


_REQUIRES_FIX = "write requires = A, or requires = [A, B], with the Proc classes this one takes input from"


def unknown_names(cls: type, base: type, known: frozenset[str]) -> list[str]:
    """Class attributes set on ``cls`` or its bases below ``base`` that are not in ``known`` (likely typos).

    Names starting with ``_``, methods and properties are the user's own and are skipped.
    """
    out = []
    for klass in cls.__mro__:
        if klass is base or not issubclass(klass, base):
            continue
        for key, value in vars(klass).items():
            if key.startswith("_") or key in known or key in out:
                continue
            if isinstance(value, (staticmethod, classmethod, property)) or inspect.isfunction(value):
                continue
            out.append(key)
    return out


def class_attributes(cls: type) -> frozenset[str]:
    """The names a class declares as ``ClassVar`` annotations (its own, not its bases')."""
    hints = typing.get_type_hints(cls)
    return frozenset(
        name for name in inspect.get_annotations(cls) if typing.get_origin(hints[name]) is ClassVar
    )


#: Every class attribute a ``Proc`` subclass may set (besides methods and ``_private`` names): the
#: annotated class attributes of :class:`Proc`, the one list of them.
PROC_ATTRIBUTES: frozenset[str] = class_attributes(Proc)
