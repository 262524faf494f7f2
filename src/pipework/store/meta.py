"""What a run records of where it ran: user, host, pipework version, the pipeline file's git commit."""

from __future__ import annotations

import getpass
import os
import socket
from pathlib import Path

__all__ = ["git_commit", "host_name", "user_name"]


def user_name() -> str | None:
    """Who runs the driver."""
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry (a container's arbitrary uid)
        return None


def host_name() -> str:
    """The driver's host name."""
    return socket.gethostname()


def git_commit(path: str | os.PathLike[str]) -> str | None:
    """The commit checked out where ``path`` (a file or directory) is, read from ``.git`` without
    running git; None outside a git checkout."""
    start = Path(path).resolve()
    for folder in [start, *start.parents] if start.is_dir() else start.parents:
        dot = folder / ".git"
        if dot.is_dir():
            return _head(dot)
        if dot.is_file():  # a worktree or submodule: "gitdir: <path>"
            text = dot.read_text(errors="replace").strip()
            if text.startswith("gitdir:"):
                gitdir = Path(text[len("gitdir:") :].strip())
                return _head(gitdir if gitdir.is_absolute() else folder / gitdir)
            return None
    return None


def _head(gitdir: Path) -> str | None:
    try:
        head = (gitdir / "HEAD").read_text().strip()
    except OSError:
        return None
    if not head.startswith("ref:"):
        return head or None  # detached
    ref = head[len("ref:") :].strip()
    common = gitdir
    commondir = gitdir / "commondir"
    if commondir.is_file():  # a worktree keeps its refs in the main repository
        common = (gitdir / commondir.read_text().strip()).resolve()
    for base in (gitdir, common):
        try:
            return (base / ref).read_text().strip() or None
        except OSError:
            pass
    try:
        for line in (common / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split(" ", 1)[0]
    except OSError:
        pass
    return None
