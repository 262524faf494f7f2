"""Where the run store is, and what to say when it cannot be reached.

The ``store`` setting (``PIPEWORK_STORE``, a profile, ``--store``) is a path of a SQLite file, a
SQLAlchemy URL (``sqlite:///path``, ``postgresql+psycopg://user:pw@host/db``,
``mysql+pymysql://user:pw@host/db``), or ``none`` to record nothing. Unset, it is
:func:`default_store_path`.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from ..errors import StoreUnreachable

__all__ = ["DISABLED", "default_store_path", "redact", "sqlite_path", "store_url", "unreachable"]

#: ``store`` values that turn recording off.
DISABLED = frozenset({"none", "off", "false", "no"})

#: URL schemes without a driver, and the driver pipework installs for them (its extras).
_DRIVERS = {"postgresql": "postgresql+psycopg", "postgres": "postgresql+psycopg", "mysql": "mysql+pymysql",
            "mariadb": "mariadb+pymysql"}  # fmt: skip
_EXTRAS = {"postgresql": "postgres", "mysql": "mysql", "mariadb": "mysql"}


def default_store_path() -> Path:
    """``$XDG_STATE_HOME/pipework/runs.sqlite`` (``~/.local/state/pipework/runs.sqlite``)."""
    state = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(state) / "pipework" / "runs.sqlite"


def store_url(location: str | None) -> str | None:
    """The SQLAlchemy URL of a ``store`` setting; None when it turns recording off.

    A path becomes ``sqlite:///<absolute path>``; a URL without a driver gets pipework's
    (``postgresql://`` -> ``postgresql+psycopg://``, ``mysql://`` -> ``mysql+pymysql://``).
    """
    if location is None or not location.strip():
        return f"sqlite:///{default_store_path()}"
    text = location.strip()
    if text.lower() in DISABLED:
        return None
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().absolute()}"
    scheme, rest = text.split("://", 1)
    return f"{_DRIVERS.get(scheme.lower(), scheme)}://{rest}"


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL (None for another database, or SQLite in memory)."""
    if not url.startswith("sqlite"):
        return None
    rest = url.split("://", 1)[1]
    path = rest[1:] if rest.startswith("/") else rest
    path = path.split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def redact(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    return re.sub(r"^([^:/]+://[^:/@]*):[^@]*@", r"\1:***@", url)


def dialect_of(url: str) -> str:
    """``sqlite``, ``postgresql``, ``mysql``... (the URL's scheme without its driver)."""
    return url.split("://", 1)[0].split("+", 1)[0].lower()


def shown(url: str) -> str:
    """How messages name a store: its file for SQLite, else its URL with the password hidden."""
    path = sqlite_path(url)
    return str(path) if path is not None else redact(url)


def unreachable(url: str, exc: BaseException) -> StoreUnreachable:
    """The error of a store that cannot be opened, naming the URL (password hidden) and the fix."""
    name = shown(url)
    dialect = dialect_of(url)
    off = "or set store = 'none' (PIPEWORK_STORE=none) to run without recording"
    if isinstance(exc, ImportError):
        extra = _EXTRAS.get(dialect)
        need = f"pip install 'pipework[{extra}]'" if extra else "install the database driver the URL names"
        return StoreUnreachable(
            f"run store {name}: its database driver is not installed ({exc})", url=name, hint=need
        )
    text = str(getattr(exc, "orig", None) or exc).strip()
    detail = re.sub(r"^\[Errno \d+\] ", "", text.splitlines()[0]) if text else type(exc).__name__
    detail = detail.replace(url, name)
    if dialect == "sqlite":
        hint = (
            "make its directory writable or choose another file (the store setting, PIPEWORK_STORE or a "
            f"profile), {off}"
        )
    else:
        hint = (
            "check the server is running and the URL's host, port, database, user and password (the "
            f"store setting, PIPEWORK_STORE or a profile), {off}"
        )
    return StoreUnreachable(f"run store {name} cannot be reached: {detail}", url=name, hint=hint)
