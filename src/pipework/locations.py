"""Checks of the locations a user gives: the workdir, the outdir and the paths of inputs.

pipework reads and writes local paths and ``gs://``, ``s3://`` and ``az://`` URLs (see
:mod:`pipework.paths`). Any other URL (``hdfs://``, ``ftp://``, ``http://``) would become a local
directory named ``hdfs:``; these checks stop it, with the URL and the schemes pipework handles. They
also check, before a job runs, that each local path of an input is what its type declares: a file for
``file``, a directory for ``dir``, and so for every member of a ``files`` or ``dirs`` list.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Collection
from typing import Any

from .errors import ConfigError, SpecError
from .paths import CLOUD_SCHEMES

__all__ = ["SUPPORTED", "check_dir_location", "check_input_url", "check_location", "input_path_problems"]

#: The locations pipework handles, for messages.
SUPPORTED = "gs://, s3:// and az:// URLs and local paths"

_URL = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*)://")


def unsupported_scheme(value: str) -> str | None:
    """The scheme of a URL pipework does not handle (``"hdfs"``); None for a local path or a supported URL."""
    found = _URL.match(value)
    if found is None or value.startswith(CLOUD_SCHEMES):
        return None
    return found.group(1)


def _fix(value: str, scheme: str, instead: str) -> str:
    if scheme.lower() == "file":
        return f"write the local path instead: {value[len('file://') :]!r}"
    return f"pipework handles {SUPPORTED}: {instead}"


def check_location(value: str, *, key: str) -> None:
    """Fail for a workdir or outdir URL of a scheme pipework does not handle.

    Raises:
        ConfigError: Naming the key, the URL and the supported schemes.
    """
    scheme = unsupported_scheme(value)
    if scheme is not None:
        raise ConfigError(
            f"{key} {value!r} uses the scheme {scheme}://, which pipework does not handle",
            key=key,
            hint=_fix(value, scheme, f"give the {key} as one of them"),
        )


def check_dir_location(value: str, *, key: str) -> None:
    """Fail for a local directory location (the outdir) that is a file or lies under one.

    Only the path and its existing ancestors are looked at (one ``stat`` each, up to the first one that
    exists); nothing is created.

    Raises:
        ConfigError: Naming the key and the file in the way.
    """
    if value.startswith(CLOUD_SCHEMES):
        return
    given = path = os.path.abspath(os.path.expanduser(value))
    while True:
        try:
            mode = os.stat(path).st_mode
        except (FileNotFoundError, NotADirectoryError):
            if os.path.dirname(path) == path:
                return
            path = os.path.dirname(path)
            continue
        except OSError:
            return  # unreadable: the run's own write says why
        if stat.S_ISDIR(mode):
            return
        where = "is a file" if path == given else f"is under {path!r}, a file"
        raise ConfigError(
            f"{key} {value!r} {where}, not a directory",
            key=key,
            hint=f"choose another {key} (--{key} or the {key} attribute), or move the file away",
        )


def check_input_url(value: Any, *, name: str, proc: str, job: int) -> None:
    """Fail for a path input's value (a path, or a list of them) that is a URL of a scheme pipework does
    not handle.

    Call it with the value as given, before it is made absolute (``http://x`` would become
    ``<cwd>/http:/x``).

    Raises:
        SpecError: Naming the process, the job, the input and the URL.
    """
    for item in value if isinstance(value, (list, tuple)) else (value,):
        scheme = unsupported_scheme(item) if isinstance(item, str) else None
        if scheme is not None:
            raise SpecError(
                f"input {name!r} is {item!r}, whose scheme {scheme}:// pipework does not handle",
                proc=proc,
                job=job,
                hint=_fix(item, scheme, "copy the data to one of them first"),
            )


#: What each path input type expects, by type: (the kind of path, is it a list).
_KINDS = {
    "file": ("file", False),
    "files": ("file", True),
    "dir": ("directory", False),
    "dirs": ("directory", True),
}


def input_path_problems(
    typ: str, name: str, value: Any, *, made: Collection[str] = ()
) -> list[tuple[str, str]]:
    """What is wrong with the local paths of one input value, as ``(message, fix)`` pairs.

    A ``file`` input must be a file, a ``dir`` input a directory, and every member of a ``files`` or
    ``dirs`` input likewise. Cloud URLs and the paths in ``made`` (upstream jobs make them) are not
    looked at.
    """
    kinds = _KINDS.get(typ)
    if kinds is None:
        return []
    values = value if kinds[1] else [value]
    out = []
    for position, path in enumerate(values):
        if path in made:
            continue
        item = f" (item {position} of {len(values)})" if kinds[1] else ""
        problem = _path_problem(str(path), name, typ, kinds[0], item)
        if problem:
            out.append(problem)
    return out


def _path_problem(path: str, name: str, typ: str, kind: str, item: str) -> tuple[str, str] | None:
    """What is wrong with one local input path (message, fix), or None."""
    if path.startswith(CLOUD_SCHEMES):
        return None
    try:
        is_dir = stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        noun = "file" if kind == "file" else "directory"
        return (
            f"input {name!r} {noun} {path!r}{item} does not exist",
            "check input_data (relative paths are relative to the directory you run from)",
        )
    if kind == "file" and is_dir:
        return (
            f"input {name!r} is a {typ!r} input but {path!r}{item} is a directory",
            f"give a file, or declare the input as '{name}:{'dirs' if typ == 'files' else 'dir'}'",
        )
    if kind == "directory" and not is_dir:
        return (
            f"input {name!r} is a {typ!r} input but {path!r}{item} is a file",
            f"give a directory, or declare the input as '{name}:{'files' if typ == 'dirs' else 'file'}'",
        )
    return None
