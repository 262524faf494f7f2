"""Why a job is not cached: the first difference between two signatures, as one line a user can act on.

The reason names what changed -- ``input 'reads' changed: {project}/data/A.fastq (size 120 -> 130
bytes)``, ``input 'ref' changed: genome.fa.fai added in {workdir}/Index/0/output/ref``, ``script changed
at line 3: bwa mem -t 8 ...`` -- so ``--dry-run`` and ``pipework why`` tell the user what to look at.

It also carries a previous run's signatures over to this run when rows moved: :func:`translate` rewrites
the paths of upstream jobs whose directories were renamed (their rows were added or removed upstream),
so downstream jobs still match the jobs that made their inputs.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from .signature import interpreter

__all__ = ["MOVED", "Moves", "compare", "fact_change", "script_change", "translate"]

#: For each process, the previous run's job index -> this run's, for the jobs whose row moved.
Moves = Mapping[str, Mapping[int, int]]

#: The mtime of a fact whose object was copied to its new place on a bucket (a copy has a new mtime):
#: such a fact matches on its size.
MOVED = "moved"

#: Longest value or script line quoted in a reason.
CLIP = 70

_UNDER_JOB = re.compile(r"^\{workdir\}/([^/]+)/(\d+)(?=/|$)")


def compare(old: Mapping[str, Any] | None, new: Mapping[str, Any]) -> str:
    """Return why ``new`` differs from ``old`` in one line, or ``""`` when they are the same (pure).

    A script difference is said as ``script changed``; :func:`script_change` tells the line when the
    previous script's text can be read.
    """
    if old is None:
        return "never ran (no signature)"
    if old.get("version") != new["version"]:
        return "signature format changed (pipework was upgraded)"
    changed = _values_reason(old, new)
    if changed:  # first: a changed input changes the script it renders
        return changed
    if old.get("script") != new["script"]:
        return "script changed"
    if interpreter(str(old.get("lang"))) != new["lang"]:
        return f"interpreter changed ({old.get('lang')} -> {new['lang']})"
    if old.get("strict") != new.get("strict"):
        return f"bash strict mode changed (strict = {new.get('strict')})"
    if old.get("container") != new["container"]:
        return f"container changed ({old.get('container')} -> {new['container']})"
    return _inputs_reason(old, new) or ("outputs changed" if old.get("outputs") != new["outputs"] else "")


def _values_reason(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    old_inputs = old.get("inputs") or {}
    for name, value in new["inputs"].items():
        if name not in old_inputs:
            return f"input '{name}' is new"
        if old_inputs[name] != value:
            return f"input '{name}' changed ({_clip(old_inputs[name])} -> {_clip(value)})"
    return ""


def _inputs_reason(old: Mapping[str, Any], new: Mapping[str, Any]) -> str:
    old_files = old.get("files") or {}
    for name, facts in new["files"].items():
        before = {f[0]: f for f in old_files.get(name) or [] if f}
        for fact in facts:
            was = before.get(fact[0])
            if was is None or not _same(was, fact):
                return f"input '{name}' changed: {fact_change(was, fact)}"
    return ""


def _same(old: list[Any], new: list[Any]) -> bool:
    """Whether two facts of one path agree (a moved copy's size standing for its mtime)."""
    if old == new:
        return True
    if len(old) != len(new):
        return False
    if len(old) == 3:
        return _same_stat(old[1:], new[1:])
    if isinstance(old[1], dict) and isinstance(new[1], dict):
        return old[1].keys() == new[1].keys() and all(_same_stat(old[1][k], v) for k, v in new[1].items())
    return False


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list) else [value]


def _same_stat(old: Any, new: Any) -> bool:
    """``[size, mtime]`` (or a hash) of one file: equal, or a moved copy of the same size."""
    if old == new:
        return True
    return isinstance(old, list) and isinstance(new, list) and old[1] == MOVED and old[0] == new[0]


def fact_change(old: list[Any] | None, new: list[Any]) -> str:
    """What changed in one input path, e.g. ``A.fastq (size 120 -> 130 bytes)``."""
    path = new[0]
    if new[1] is None:
        return f"{path} is missing"
    if old is None or old[1] is None:
        return f"{path} appeared"
    if isinstance(new[1], dict) and isinstance(old[1], dict):
        added = sorted(new[1].keys() - old[1].keys())
        removed = sorted(old[1].keys() - new[1].keys())
        if added:
            return f"{added[0]} added in {path}" + (f" (and {len(added) - 1} more)" if len(added) > 1 else "")
        if removed:
            return f"{removed[0]} removed from {path}"
        for rel, value in new[1].items():
            if not _same_stat(old[1][rel], value):
                return f"{path}/{rel} {_how(_as_list(old[1][rel]), _as_list(value))}"
    return f"{path} {_how(old[1:], new[1:])}"


def _how(old: list[Any], new: list[Any]) -> str:
    """``(content)``, ``(size 1 -> 2 bytes)`` or ``(modified <time>)``."""
    if len(new) == 1:
        return "(content)"
    if len(old) == 2 and len(new) == 2 and old[0] != new[0]:
        return f"(size {old[0]} -> {new[0]} bytes)"
    if isinstance(new[1], (int, float)):
        return f"(modified {datetime.fromtimestamp(new[1]).isoformat(sep=' ', timespec='seconds')})"
    return "(size/mtime)"


def _clip(value: Any) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= CLIP else text[: CLIP - 3] + "..."


def script_change(old_script: str, new_script: str, *, shown: str | None = None) -> str:
    """``script changed at line N: <the new line>`` from two scripts' texts as compared (paths written
    relative), or plain ``script changed`` when no line differs (then only paths outside the roots did).

    Args:
        old_script: The previous script, as compared.
        new_script: This run's script, as compared.
        shown: This run's script as rendered, whose line is quoted (default: ``new_script``).
    """
    lines = (shown if shown is not None else new_script).splitlines()
    for number, (was, now) in enumerate(
        itertools.zip_longest(old_script.splitlines(), new_script.splitlines()), start=1
    ):
        if was != now:
            if now is None:
                return f"script changed at line {number}: line removed ({_clip(was.strip())})"
            quoted = lines[number - 1] if number <= len(lines) else now
            return f"script changed at line {number}: {_clip(quoted.strip())}"
    return "script changed"


def translate(old: Mapping[str, Any], moves: Moves, *, copied: bool) -> dict[str, Any]:
    """A previous signature with the paths into moved upstream job directories rewritten to their new
    index (pure); its other values as they were.

    Args:
        old: The stored signature.
        moves: For each process, old index -> new index of the jobs whose directory was renamed.
        copied: The directories were copied (a bucket), so their files' mtimes changed: such facts
            then match on their size (:data:`MOVED`).
    """
    if not moves:
        return dict(old)
    out = dict(old)
    out["inputs"] = _rewrite(old.get("inputs") or {}, moves)
    files = old.get("files") or {}
    out["files"] = {name: [_rewrite_fact(f, moves, copied) for f in facts] for name, facts in files.items()}
    return out


def _moved(path: str, moves: Moves) -> str | None:
    found = _UNDER_JOB.match(path)
    if found is None:
        return None
    new = moves.get(found.group(1), {}).get(int(found.group(2)))
    if new is None:
        return None
    return f"{{workdir}}/{found.group(1)}/{new}{path[found.end() :]}"


def _rewrite(value: Any, moves: Moves) -> Any:
    if isinstance(value, str):
        return _moved(value, moves) or value
    if isinstance(value, list):
        return [_rewrite(v, moves) for v in value]
    if isinstance(value, dict):
        return {k: _rewrite(v, moves) for k, v in value.items()}
    return value


def _rewrite_fact(fact: list[Any], moves: Moves, copied: bool) -> list[Any]:
    if not fact or not isinstance(fact[0], str):
        return fact
    path = _moved(fact[0], moves)
    if path is None:
        return fact
    if copied and len(fact) == 3 and fact[1] is not None:
        return [path, fact[1], MOVED]
    if copied and len(fact) == 2 and isinstance(fact[1], dict):
        return [path, {k: [v[0], MOVED] if isinstance(v, list) else v for k, v in fact[1].items()}]
    return [path, *fact[1:]]
