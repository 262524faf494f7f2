"""Job signatures: what a job's outputs were made from, and why a job is (not) cached.

A signature records a hash of the rendered script, the interpreter and container, the input values, the
size and mtime (or content hash) of every input file, and the output values. A job is cached when its
stored signature equals the one it would have now and all its outputs exist. :func:`compare` gives the
first difference as a one-line reason, which ``pipework why`` prints.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import shutil
from collections.abc import Iterator, Mapping
from typing import Any

from . import paths
from .job import Job
from .spec import is_bash

__all__ = ["MANIFEST", "VERSION", "compare", "file_facts", "make", "missing_outputs"]

#: Per-process file holding every job's signature, so a rerun on a bucket reads one object per process.
MANIFEST = ".pw-signatures.json"

#: 2: paths under the workdir and the project dir stored relative to them, interpreters resolved, the
#: bash strict mode recorded.
VERSION = 2

#: How a path under the pipeline's workdir directory, or under the project dir (the directory the
#: pipeline runs from), is stored: relative to it, so a moved project reruns nothing.
WORKDIR, PROJECT = "{workdir}", "{project}"


#: Types a JSON round trip gives back unchanged (exact types: a subclass such as an IntEnum goes
#: through ``json`` to get the value it is stored as).
_PLAIN = (str, int, float, bool, type(None))


def _jsonable(value: Any) -> Any:
    """``value`` as it reads back from JSON: what :func:`read` will compare it with.

    Plain values (strings, numbers, lists and tuples of them, dicts with string keys) are copied
    directly, at a fraction of the cost of a ``json`` round trip made for every job; anything else
    goes through ``json`` (tuples become lists, keys become strings, other objects their ``str``).
    """
    kind = type(value)
    if kind in _PLAIN:
        return value
    if kind is list or kind is tuple:
        return [v if type(v) in _PLAIN else _jsonable(v) for v in value]
    if kind is dict and all(type(k) is str for k in value):
        return {k: v if type(v) in _PLAIN else _jsonable(v) for k, v in value.items()}
    return json.loads(json.dumps(value, default=str))


@functools.lru_cache(maxsize=64)
def _bash(lang: str) -> bool:
    """:func:`is_bash`, parsed once per interpreter string rather than once per job."""
    return is_bash(lang)


def _input_paths(job: Job) -> Iterator[tuple[str, str]]:
    for spec in job.spec.inputs:
        if not spec.is_path:
            continue
        value = job.inputs.get(spec.name)
        values = value if isinstance(value, (list, tuple)) else [value]
        for v in values:
            if v is not None:
                yield spec.name, str(v)


def _hash_path(path: str) -> str | None:
    """sha256 of a file's bytes, or of a directory's files (names and bytes); None if missing."""
    if paths.is_cloud(path):
        st = paths.stat(path)
        return None if st is None else f"{st[0]}:{st[1]}"
    if not os.path.exists(path):
        return None
    h = hashlib.sha256()
    if os.path.isdir(path):
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                full = os.path.join(root, name)
                h.update(os.path.relpath(full, path).encode() + b"\0")
                _feed(h, full)
    else:
        _feed(h, path)
    return h.hexdigest()


def _feed(h: Any, path: str) -> None:
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)


def file_facts(
    job: Job, *, content: bool, stats: Mapping[str, tuple[int, float] | None] | None = None
) -> dict[str, list[Any]]:
    """Stat (or hash, with ``content=True``) every input file of a job. Blocking.

    Args:
        job: The job.
        content: Hash local files instead of taking their size and mtime.
        stats: Facts already known (from one listing of a bucket prefix); others are stat'ed.

    Returns:
        ``{input name: [[path, size, mtime] or [path, hash], ...]}``; a missing file has None facts.
    """
    facts: dict[str, list[Any]] = {}
    for name, path in _input_paths(job):
        if content and not paths.is_cloud(path):
            facts.setdefault(name, []).append([path, _hash_path(path)])
        else:
            st = stats[path] if stats is not None and path in stats else paths.stat(path)
            facts.setdefault(name, []).append([path, *(st if st else (None, None))])
    return facts


def input_paths(job: Job) -> list[str]:
    """Every input path of a job (files and directories, local or cloud)."""
    return [path for _, path in _input_paths(job)]


def make(job: Job, facts: Mapping[str, list[Any]], *, project: str | None = None) -> dict[str, Any]:
    """Build a job's signature from its rendered script and the facts of its input files.

    Paths under the pipeline's directory in the workdir and under the project dir (default: the
    current directory) are stored relative to them (``{workdir}/...``, ``{project}/...``), in the
    values and in the script that is hashed, so a project copied or moved elsewhere is still cached.
    The interpreter is stored resolved (PATH lookup, symlinks), so ``python3`` and ``sys.executable``
    naming one binary are one interpreter.
    """
    roots = _roots(job.dir, project if project is not None else os.getcwd())
    script = job.script
    for root, tag in roots:
        script = script.replace(root, tag)
    return {
        "version": VERSION,
        "script": hashlib.sha256(script.encode()).hexdigest(),
        "lang": interpreter(job.spec.lang),
        "strict": job.spec.strict if _bash(job.spec.lang) else None,
        "container": job.spec.container,
        "inputs": _relative(_jsonable(job.inputs), roots),
        "files": _relative(_jsonable(dict(facts)), roots),
        "outputs": _relative(_jsonable(job.outputs), roots),
    }


def _roots(job_dir: str, project: str) -> list[tuple[str, str]]:
    """The directories whose paths are stored relative, longest first (the workdir is often inside
    the project)."""
    pipeline_dir = job_dir.rstrip("/").rsplit("/", 2)[0]
    roots = [(pipeline_dir, WORKDIR)]
    if project and project != "/":
        roots.append((project.rstrip("/"), PROJECT))
    return sorted(roots, key=lambda r: -len(r[0]))


def _relative(value: Any, roots: list[tuple[str, str]]) -> Any:
    if isinstance(value, str):
        for root, tag in roots:
            if value.startswith(root) and (len(value) == len(root) or value[len(root)] == "/"):
                return tag + value[len(root) :]
        return value
    if isinstance(value, list):
        return [_relative(v, roots) for v in value]
    if isinstance(value, dict):
        return {k: _relative(v, roots) for k, v in value.items()}
    return value


@functools.lru_cache(maxsize=64)
def interpreter(lang: str) -> str:
    """An interpreter command with its program resolved: found on PATH, symlinks followed
    (``python3`` -> ``/usr/bin/python3.11``); its arguments kept. Unknown programs stay as written."""
    words = shlex.split(lang)
    if not words:
        return lang
    found = shutil.which(words[0])
    if found is None:
        return lang
    return shlex.join([os.path.realpath(found), *words[1:]])


def compare(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """Return why ``new`` differs from ``old`` in one line, or ``""`` when they are the same (pure)."""
    if old is None:
        return "never ran (no signature)"
    if old.get("version") != new["version"]:
        return "signature format changed (pipework was upgraded)"
    if old.get("script") != new["script"]:
        return "script changed"
    if interpreter(str(old.get("lang"))) != new["lang"]:
        return f"interpreter changed ({old.get('lang')} -> {new['lang']})"
    if old.get("strict") != new.get("strict"):
        return f"bash strict mode changed (strict = {new.get('strict')})"
    if old.get("container") != new["container"]:
        return "container changed"
    old_inputs = old.get("inputs") or {}
    for name, value in new["inputs"].items():
        if old_inputs.get(name) != value:
            return f"input '{name}' changed"
    old_files = old.get("files") or {}
    for name, facts in new["files"].items():
        before = old_files.get(name) or []
        for i, fact in enumerate(facts):
            if i >= len(before) or before[i] != fact:
                what = "content" if len(fact) == 2 else "size/mtime"
                if fact[1] is None:
                    return f"input '{name}' file {fact[0]} is missing"
                return f"input '{name}' file {fact[0]} changed ({what})"
    if old.get("outputs") != new["outputs"]:
        return "outputs changed"
    return ""


def missing_outputs(job: Job, listing: Mapping[str, Any] | None = None) -> list[str]:
    """Names of the job's declared file/dir outputs that do not exist. Blocking.

    Args:
        job: The job.
        listing: Objects known to exist (one listing of the job's bucket prefix); cloud outputs are
            looked up there instead of one request each.
    """
    missing = []
    for spec in job.spec.outputs:
        if spec.type == "var":
            continue
        path = str(job.outputs[spec.name])
        if listing is not None and paths.is_cloud(path):
            found = path in listing or any(k.startswith(path.rstrip("/") + "/") for k in listing)
        else:
            found = paths.exists(path)
        if not found:
            missing.append(spec.name)
    return missing


def read(job: Job) -> dict[str, Any] | None:
    """Read a job's stored signature, or None when there is none (or it is unreadable). Blocking."""
    path = job.path("job.signature.json")
    try:
        if paths.is_cloud(path):
            text = paths.read_text(path)
        else:  # most jobs of a first run have none: no StorageError built and dropped for each
            text = _read_local(path).decode("utf-8", errors="replace")
    except Exception:
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _read_local(path: str) -> bytes:
    """A local file's bytes with plain system calls: half the time of a Python file object, which
    counts at one signature per job in a rerun's cache check.

    Raises:
        OSError: If it cannot be read.
    """
    fd = os.open(path, os.O_RDONLY)
    try:
        chunks = [os.read(fd, _CHUNK)]
        while len(chunks[-1]) == _CHUNK:  # a regular file reads short only at its end
            chunks.append(os.read(fd, _CHUNK))
    finally:
        os.close(fd)
    return b"".join(chunks)


_CHUNK = 1 << 16


def read_manifest(proc_dir: str) -> dict[int, dict[str, Any]]:
    """The signatures of a process's jobs from its manifest (empty when there is none). Blocking."""
    try:
        data = json.loads(paths.read_text(paths.join(proc_dir, MANIFEST)))
    except Exception:
        return {}
    return {int(k): v for k, v in data.items()} if isinstance(data, dict) else {}


def write_manifest(proc_dir: str, signatures: Mapping[int, Mapping[str, Any]]) -> None:
    """Write the signatures of a process's finished jobs in one object. Blocking."""
    paths.write_text(paths.join(proc_dir, MANIFEST), json.dumps({str(k): v for k, v in signatures.items()}))


def write(job: Job, signature: Mapping[str, Any]) -> None:
    """Write a job's signature. Blocking.

    No temporary file and rename is needed: a signature cut short (the driver died while writing it)
    is not valid JSON, which :func:`read` treats as no signature, so the job simply runs again.

    Raises:
        StorageError: If it cannot be written (the job must then fail loudly).
    """
    paths.write_text(job.path("job.signature.json"), json.dumps(signature, indent=1))
