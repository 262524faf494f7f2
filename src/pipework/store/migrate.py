"""Creating the schema, and migrating an older store to this pipework's (SQLAlchemy).

A store's version is the highest row of ``schema_version``; a store with a ``runs`` table and no
``schema_version`` is version 1 (pipework before the live store). Each migration moves a store one
version up in one transaction (MySQL commits each DDL statement itself), and adds its row to
``schema_version``. Migrations only add: a newer pipework opens an older store, its runs still there;
an older pipework refuses a newer store rather than misread it.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator

import sqlalchemy as sa

from .._version import __version__
from ..errors import StoreUnreachable
from . import schema
from .location import shown
from .tables import VERSION

__all__ = ["current_version", "ensure"]


def current_version(conn: sa.Connection) -> int | None:
    """The schema version of the store on ``conn`` (None: an empty database)."""
    names = set(sa.inspect(conn).get_table_names())
    if "schema_version" in names:
        found = conn.execute(sa.select(sa.func.max(schema.schema_version.c.version))).scalar()
        return int(found) if found is not None else 1
    return 1 if "runs" in names else None


def ensure(engine: sa.Engine) -> int:
    """Create the schema in an empty database, or migrate an older one; return the version it had
    (0: none).

    Drivers opening one new store at once take turns: SQLite's ``BEGIN IMMEDIATE`` (see
    :func:`pipework.store.backend.make_engine`), PostgreSQL's advisory lock, MySQL's ``GET_LOCK``.

    Raises:
        StoreUnreachable: For a store written by a newer pipework.
    """
    for attempt in range(3):
        try:
            with engine.begin() as conn, _schema_lock(conn):
                return _ensure(conn)
        except sa.exc.DBAPIError:
            if attempt == 2:
                raise
    raise AssertionError("unreachable")  # pragma: no cover


@contextlib.contextmanager
def _schema_lock(conn: sa.Connection) -> Iterator[None]:
    """Hold the store's schema lock (a no-op on SQLite, whose write transaction is the lock)."""
    name = conn.dialect.name
    if name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _LOCK_KEY})
        yield
    elif name in ("mysql", "mariadb"):
        conn.execute(sa.text("SELECT GET_LOCK('pipework_schema', 120)"))
        try:
            yield
        finally:
            conn.execute(sa.text("SELECT RELEASE_LOCK('pipework_schema')"))
    else:
        yield


#: PostgreSQL's advisory lock for the schema (any constant; "pw" in ASCII).
_LOCK_KEY = 0x7077


def _ensure(conn: sa.Connection) -> int:
    found = current_version(conn)
    if found == VERSION:
        return found
    if found is not None and found > VERSION:
        url = shown(conn.engine.url.render_as_string(hide_password=False))
        raise StoreUnreachable(
            f"run store {url} has schema version {found}, newer than this pipework's ({VERSION})",
            url=url,
            hint="upgrade pipework (pip install -U pipework) on every machine that uses it",
        )
    if found is None:
        schema.metadata.create_all(conn)
        _stamp(conn, VERSION)
        return 0
    for version in range(found + 1, VERSION + 1):
        MIGRATIONS[version](conn)
        _stamp(conn, version)
    return found


def _stamp(conn: sa.Connection, version: int) -> None:
    conn.execute(
        schema.schema_version.insert().values(version=version, applied=time.time(), pipework=__version__)
    )


def _add_missing_columns(conn: sa.Connection, table: sa.Table) -> None:
    """ALTER TABLE ... ADD COLUMN for each column of ``table`` the database does not have (nullable)."""
    have = {c["name"] for c in sa.inspect(conn).get_columns(table.name)}
    for column in table.columns:
        if column.name not in have:
            kind = column.type.compile(dialect=conn.dialect)
            conn.execute(sa.text(f"ALTER TABLE {table.name} ADD COLUMN {column.name} {kind}"))


def _to_2(conn: sa.Connection) -> None:
    """1 -> 2: run metadata, live job columns; attempts, artifacts, consumers and schema_version."""
    for table in (schema.runs, schema.procs, schema.jobs):
        _add_missing_columns(conn, table)
    new = [schema.attempts, schema.artifacts, schema.consumers, schema.schema_version]
    schema.metadata.create_all(conn, tables=new, checkfirst=True)
    have = {i["name"] for t in ("runs", "jobs") for i in sa.inspect(conn).get_indexes(t)}
    for table in (schema.runs, schema.jobs):
        for index in table.indexes:
            if index.name not in have:
                index.create(conn)
    if conn.dialect.name == "sqlite":  # version 1 listed a run's processes in the order they were recorded
        conn.execute(sa.text("UPDATE procs SET seq = rowid WHERE seq IS NULL"))


def _to_3(conn: sa.Connection) -> None:
    """2 -> 3: the processes each process requires (the DAG the report draws)."""
    _add_missing_columns(conn, schema.procs)


#: The migration to each version from the one before.
MIGRATIONS: dict[int, Callable[[sa.Connection], None]] = {2: _to_2, 3: _to_3}
