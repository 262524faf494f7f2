"""Job signatures: what a job's outputs were made from, and why a job is (not) cached.

A signature records a hash of the rendered script, the interpreter and container, the input values, the
size and mtime (or content hash) of every input file -- of every file of a ``dir`` input, so a reason can
name the one that changed -- and the output values. It names no job index: paths in the job's own
directory are stored as ``{jobdir}/...``, so a job whose row moved (rows added or removed upstream) is
matched to its previous run by its input values. A job is cached when its stored signature equals the
one it would have now and all its outputs exist; :mod:`pipework.reasons` says why not.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shlex
import shutil
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from . import paths
from .job import Job
from .spec import is_bash

__all__ = ["MANIFEST", "VERSION", "dir_fact", "file_facts", "make", "missing_outputs", "refresh_dirs"]

#: Per-process file holding every job's signature, so a rerun on a bucket reads one object per process.
MANIFEST = ".pw-signatures.json"

#: 2: paths under the workdir and the project dir stored relative to them, interpreters resolved, the
#: bash strict mode recorded. 3: no job index (``{jobdir}``), the files of ``dir`` inputs one by one.
VERSION = 3

#: How a path in the job's own directory, under the pipeline's workdir directory, or under the project
#: dir (the directory the pipeline runs from), is stored: relative to it, so a moved project reruns
#: nothing and a job is the same job whatever its row.
JOBDIR, WORKDIR, PROJECT = "{jobdir}", "{workdir}", "{project}"

#: A ``dir`` input with more files than this is signed by its total size and newest mtime (or one hash)
#: instead of file by file: a reason then cannot name the file that changed.
DIR_FILES_MAX = 1000


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


def _input_paths(job: Job) -> Iterator[tuple[str, str, bool]]:
    """``(input name, path, is a directory input)`` of every input path of a job."""
    for spec in job.spec.inputs:
        if not spec.is_path:
            continue
        value = job.inputs.get(spec.name)
        values = value if isinstance(value, (list, tuple)) else [value]
        is_dir = spec.type in ("dir", "dirs")
        for v in values:
            if v is not None:
                yield spec.name, str(v), is_dir


def _hash_file(path: str) -> str | None:
    """sha256 of a local file's bytes; None if it is missing."""
    h = hashlib.sha256()
    try:
        _feed(h, path)
    except FileNotFoundError:
        return None
    return h.hexdigest()


def _hash_tree(path: str) -> str:
    """sha256 of a local directory's files (names and bytes)."""
    h = hashlib.sha256()
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = os.path.join(root, name)
            h.update(os.path.relpath(full, path).encode() + b"\0")
            _feed(h, full)
    return h.hexdigest()


def _dir_files(path: str) -> dict[str, tuple[int, float]] | None:
    """The files below a directory, by their path relative to it, with size and mtime (None: missing)."""
    if paths.is_cloud(path):
        below = path.rstrip("/") + "/"
        listed = paths.list_prefix(below)
        return {k[len(below) :]: v for k, v in listed.items() if k.startswith(below)} or None
    if not os.path.isdir(path):
        return None
    found: dict[str, tuple[int, float]] = {}
    for root, _dirs, files in os.walk(path):
        for name in files:
            full = os.path.join(root, name)
            try:
                st = os.stat(full)
            except FileNotFoundError:
                continue
            found[os.path.relpath(full, path)] = (st.st_size, st.st_mtime)
    return found


def dir_fact(path: str, *, content: bool) -> list[Any]:
    """The fact of one ``dir`` input: ``[path, {file: [size, mtime] or hash}]`` file by file, or for
    a directory of more than :data:`DIR_FILES_MAX` files ``[path, size, mtime]`` (``[path, hash]``
    with ``content``); ``[path, None, None]`` when it is missing. Blocking.
    """
    files = _dir_files(path)
    if files is None:
        return [path, None, None]
    if len(files) > DIR_FILES_MAX:
        if content and not paths.is_cloud(path):
            return [path, _hash_tree(path)]
        return [path, sum(s for s, _ in files.values()), max(m for _, m in files.values())]
    if content and not paths.is_cloud(path):
        return [path, {rel: _hash_file(os.path.join(path, rel)) for rel in sorted(files)}]
    return [path, {rel: list(files[rel]) for rel in sorted(files)}]


def _feed(h: Any, path: str) -> None:
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)


def file_facts(
    job: Job,
    *,
    content: bool,
    stats: Mapping[str, tuple[int, float] | None] | None = None,
    dirs: dict[str, list[Any]] | None = None,
    located: Callable[[str], str] | None = None,
) -> dict[str, list[Any]]:
    """Stat (or hash, with ``content=True``) every input file of a job. Blocking.

    Args:
        job: The job.
        content: Hash local files instead of taking their size and mtime.
        stats: Facts already known (from one listing of a bucket prefix); others are stat'ed.
        dirs: The facts of ``dir`` inputs taken for earlier jobs of the same check, by path (filled
            in here): a directory many jobs read is listed once.
        located: Where an input path is now, when that is not where it will be (a plan made before
            moved upstream rows were renamed); the facts keep the path the job will see.

    Returns:
        ``{input name: [fact, ...]}``, a fact being ``[path, size, mtime]``, ``[path, hash]`` or, for
        a directory, ``[path, {file: [size, mtime] or hash}]`` (see :func:`dir_fact`); a missing path
        has None facts.
    """
    facts: dict[str, list[Any]] = {}
    for name, path, is_dir in _input_paths(job):
        where = located(path) if located is not None else path
        if is_dir:
            fact = dirs.get(where) if dirs is not None else None
            if fact is None:
                fact = dir_fact(where, content=content)
                if dirs is not None:
                    dirs[where] = fact
            facts.setdefault(name, []).append([path, *fact[1:]])
        elif content and not paths.is_cloud(where):
            facts.setdefault(name, []).append([path, _hash_file(where)])
        else:
            st = stats[where] if stats is not None and where in stats else paths.stat(where)
            facts.setdefault(name, []).append([path, *(st if st else (None, None))])
    return facts


def input_paths(job: Job) -> list[str]:
    """Every input path of a job (files and directories, local or cloud)."""
    return [path for _, path, _ in _input_paths(job)]


def refresh_dirs(job: Job) -> list[tuple[str, list[Any] | None, list[Any]]]:
    """Take the facts of a job's ``dir`` inputs again, after it ran; where they changed since its
    signature was made (the job wrote into its input), put the new ones in its signature, so the next
    run does not rerun it for what it did itself. Blocking.

    Returns:
        ``(input name, fact before, fact now)`` of each directory that changed (paths relative, as
        stored).
    """
    if job.signature is None or not any(s.type in ("dir", "dirs") for s in job.spec.inputs):
        return []
    content = job.spec.cache == "content"
    roots = roots_of(job)
    files = job.signature["files"]
    changes: list[tuple[str, list[Any] | None, list[Any]]] = []
    for name, path, is_dir in _input_paths(job):
        if not is_dir:
            continue
        now = _relative(_jsonable(dir_fact(path, content=content)), roots)
        facts = files.get(name) or []
        for i, was in enumerate(facts):
            if was and was[0] == now[0] and was != now:
                changes.append((name, was, now))
                facts[i] = now
    return changes


def make(job: Job, facts: Mapping[str, list[Any]], *, project: str | None = None) -> dict[str, Any]:
    """Build a job's signature from its rendered script and the facts of its input files.

    Paths in the job's directory, under the pipeline's directory in the workdir and under the project
    dir (default: the current directory) are stored relative to them (``{jobdir}/...``,
    ``{workdir}/...``, ``{project}/...``), in the values and in the script that is hashed, so a project
    copied or moved elsewhere is still cached and a job is known by its inputs, not its row.
    The interpreter is stored resolved (PATH lookup, symlinks), so ``python3`` and ``sys.executable``
    naming one binary are one interpreter.
    """
    roots = _roots(job, project if project is not None else os.getcwd())
    script = relative_script(job.script, _input_tokens(job, roots) + roots)
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


def _roots(job: Job, project: str) -> list[tuple[str, str]]:
    """The directories whose paths are stored relative, longest first (the job's own directory is in
    the workdir, the workdir often inside the project). The directory the script sees as its job dir
    (a stage directory, a mount) counts as the job's directory too."""
    job_dir = job.dir.rstrip("/")
    pipeline_dir = job_dir.rsplit("/", 2)[0]
    roots = [(job_dir, JOBDIR), (pipeline_dir, WORKDIR)]
    seen = job.layout.run_dir.rstrip("/")
    if seen != job_dir:
        roots.append((seen, JOBDIR))
    if project and project != "/":
        roots.append((project.rstrip("/"), PROJECT))
    return sorted(roots, key=lambda r: -len(r[0]))


def _input_tokens(job: Job, roots: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The job's input and output paths, and the directories of the upstream jobs that made its inputs
    -- as they are and as the script sees them (staged, mounted) -- each written in the hashed script as
    the input or output it is (``{input:reads}``, ``{output:bam}``): those values are compared on their
    own, so a changed input is said as such (not as a script change) and an upstream job whose row moved
    leaves the hash as it was."""
    pipeline_dir = next(root for root, tag in roots if tag == WORKDIR) + "/"
    seen = job.layout.inputs
    found: dict[str, str] = {}
    for name, path, _ in _input_paths(job):
        token = f"{{input:{name}}}"
        there = seen.get(path)
        found.setdefault(path, token)
        if there is not None:
            found.setdefault(there, token)
        if path.startswith(pipeline_dir):
            proc, _, rest = path[len(pipeline_dir) :].partition("/")
            index, _, below = rest.partition("/")
            if index.isdigit():
                found.setdefault(f"{pipeline_dir}{proc}/{index}/", token + "/")
                if there is not None and there.endswith("/" + below):
                    found.setdefault(there[: len(there) - len(below)], token + "/")
    for out in job.spec.outputs:  # the outputs too: they are compared on their own
        if out.type != "var":
            value = str(job.outputs[out.name])
            found.setdefault(value, f"{{output:{out.name}}}")
            if value.startswith(job.dir.rstrip("/") + "/"):  # as the script sees it
                seen_value = job.layout.run_dir.rstrip("/") + value[len(job.dir.rstrip("/")) :]
                found.setdefault(seen_value, f"{{output:{out.name}}}")
    return sorted(found.items(), key=lambda r: -len(r[0]))


def relative_script(script: str, roots: list[tuple[str, str]]) -> str:
    """A script's text with the paths under ``roots`` written relative to them, as it is hashed."""
    for root, tag in roots:
        script = script.replace(root, tag)
    return script


def roots_of(job: Job, project: str | None = None) -> list[tuple[str, str]]:
    """The roots a job's paths are stored relative to (see :func:`make`)."""
    return _roots(job, project if project is not None else os.getcwd())


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


def missing_outputs(
    job: Job, listing: Mapping[str, Any] | None = None, *, job_dir: str | None = None
) -> list[str]:
    """Names of the job's declared file/dir outputs that do not exist. Blocking.

    Args:
        job: The job.
        listing: Objects known to exist (one listing of the job's bucket prefix); cloud outputs are
            looked up there instead of one request each.
        job_dir: Look in this directory instead of the job's own (another row's, whose outputs would
            become this job's).
    """
    missing = []
    here = job.dir.rstrip("/")
    for spec in job.spec.outputs:
        if spec.type == "var":
            continue
        path = str(job.outputs[spec.name])
        if job_dir is not None and path.startswith(here + "/"):
            path = job_dir.rstrip("/") + path[len(here) :]
        if listing is not None and paths.is_cloud(path):
            found = path in listing or any(k.startswith(path.rstrip("/") + "/") for k in listing)
        else:
            found = paths.exists(path)
        if not found:
            missing.append(spec.name)
    return missing


def read(job: Job, job_dir: str | None = None) -> dict[str, Any] | None:
    """Read a job's stored signature (or the one in ``job_dir``), or None when there is none (or it is
    unreadable). Blocking."""
    path = job.path("job.signature.json") if job_dir is None else f"{job_dir.rstrip('/')}/job.signature.json"
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
