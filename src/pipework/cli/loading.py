"""Loading a pipeline from ``FILE[:Class]``, for the commands that take one."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from ..errors import ConfigError, PipeworkError
from ..launch import last_run_source

if TYPE_CHECKING:
    from ..pipeline import Pipeline

__all__ = ["last_run", "load_pipeline"]


def load_pipeline(target: str) -> type[Pipeline]:
    """Import ``FILE[:Class]`` and return the Pipeline subclass (the only one in FILE, or Class).

    Raises:
        ConfigError: If the file cannot be imported or holds no (or several) pipelines.
    """
    from ..pipeline import Pipeline

    file, _, name = target.partition(":")
    path = Path(file).resolve()
    if not path.is_file():
        raise ConfigError(f"no pipeline file {file!r}", hint="give FILE[:Class], e.g. pipeline.py:Lines")
    module_name = f"_pipework_user_{path.stem}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ConfigError(f"cannot import {file!r}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    except PipeworkError as exc:
        raise exc.within(doing=f"importing {file!r}{_line_in(exc, path)}") from exc
    except Exception as exc:
        raise ConfigError(
            f"importing {file!r}{_line_in(exc, path)} failed: {type(exc).__name__}: {exc}"
        ) from exc
    finally:
        sys.path.remove(str(path.parent))
    found = {
        k: v
        for k, v in vars(module).items()
        if isinstance(v, type)
        and issubclass(v, Pipeline)
        and v is not Pipeline
        and v.__module__ == module_name
    }
    if name:
        if name not in found:
            raise ConfigError(
                f"{file!r} has no Pipeline subclass {name!r}",
                hint=f"found: {', '.join(found) or 'none'}",
            )
        return found[name]
    if len(found) != 1:
        raise ConfigError(
            f"{file!r} defines {len(found)} pipelines",
            hint=f"name one: {file}:{'|'.join(found) or 'Class'}",
        )
    return next(iter(found.values()))


def _line_in(exc: BaseException, path: Path) -> str:
    """``" (line N)"``: the last line of ``path`` that the error went through, or ``""``."""
    line = None
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename == str(path):
            line = tb.tb_lineno
        tb = tb.tb_next
    return f" (line {line})" if line is not None else ""


def last_run(workdir: str) -> str:
    """The ``FILE:Class`` of the last run started in a local workdir.

    Raises:
        ConfigError: When none was recorded there.
    """
    source = last_run_source(workdir)
    if source is None:
        raise ConfigError(
            f"no pipeline given and no previous run recorded in {workdir}",
            hint="give the pipeline with --pipeline FILE[:Class]",
        )
    return source
