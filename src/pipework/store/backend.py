"""The connection to the store's database: SQLite through the standard library's ``sqlite3``, or any
database through SQLAlchemy.

Writing to SQLite costs no SQLAlchemy: opening the default store, checking its schema version and
writing a run's rows use ``sqlite3`` directly (importing SQLAlchemy alone takes longer than the
engine's start-up). SQLAlchemy creates and migrates the schema (once per store and version), connects
to servers, and serves the CLI's queries. Both run the same SQL, generated from
:mod:`pipework.store.tables` with named parameters (no identifier needs quoting).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import StoreUnreachable
from .location import dialect_of, shown, sqlite_path, unreachable
from .tables import TABLES, VERSION

if TYPE_CHECKING:
    import sqlalchemy as sa

__all__ = ["Backend", "SaBackend", "SqliteBackend", "connect", "insert_sql", "update_sql"]

#: Seconds a SQLite writer waits for another one (another driver, a migration) before failing.
SQLITE_TIMEOUT = 30.0

Row = Mapping[str, Any]


def insert_sql(table: str, columns: Sequence[str]) -> str:
    """``INSERT INTO table (a, b) VALUES (:a, :b)``."""
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(':' + c for c in columns)})"


def update_sql(table: str, columns: Sequence[str]) -> str:
    """``UPDATE table SET a = :a WHERE key = :key`` (the table's primary key)."""
    keys = TABLES[table].keys
    sets = ", ".join(f"{c} = :{c}" for c in columns if c not in keys)
    return f"UPDATE {table} SET {sets} WHERE {' AND '.join(f'{k} = :{k}' for k in keys)}"


class Tx:
    """One transaction: statements run in it, all committed together or none."""

    def __init__(self, run: Any, insert_id: Any) -> None:
        self._run = run
        self._insert_id = insert_id

    def many(self, sql: str, rows: Sequence[Row]) -> None:
        """Run one statement for each row (one round trip where the driver batches)."""
        if rows:
            self._run(sql, list(rows))

    def one(self, sql: str, params: Row) -> None:
        """Run one statement."""
        self._run(sql, dict(params))

    def insert_id(self, table: str, values: Row) -> int:
        """Insert one row into a table with an auto-increment key; return the key."""
        return int(self._insert_id(table, dict(values)))


class Backend:
    """A store's database connection.

    Attributes:
        url: Its SQLAlchemy URL.
        shown: The URL with its password hidden.
        dialect: ``sqlite``, ``postgresql``, ``mysql``, ...
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self.shown = shown(url)
        self.dialect = dialect_of(url)

    def transaction(self) -> contextlib.AbstractContextManager[Tx]:
        """A transaction, committed when the block ends without an error."""
        raise NotImplementedError

    def close(self) -> None:
        """Close the connections."""


class SqliteBackend(Backend):
    """A SQLite file through ``sqlite3``: WAL, so readers read while a run writes; one connection
    shared by the threads of one driver (serialised), ``BEGIN IMMEDIATE`` so concurrent writers wait
    for each other instead of failing."""

    def __init__(self, url: str, path: Path) -> None:
        super().__init__(url)
        self.path = path
        self._lock = threading.Lock()
        self._db = sqlite3.connect(
            path, timeout=SQLITE_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")

    def version(self) -> int | None:
        """The schema version (None: an empty database; 1: no ``schema_version`` table)."""
        with self._lock:
            names = {r[0] for r in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if "schema_version" in names:
                (found,) = self._db.execute("SELECT max(version) FROM schema_version").fetchone()
                return int(found) if found is not None else 1
        return 1 if "runs" in names else None

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        with self._lock:
            db = self._db
            db.execute("BEGIN IMMEDIATE")
            try:

                def run(sql: str, params: Any) -> None:
                    if isinstance(params, list):
                        db.executemany(sql, params)
                    else:
                        db.execute(sql, params)

                def insert_id(table: str, values: dict[str, Any]) -> int:
                    cur = db.execute(insert_sql(table, list(values)), values)
                    assert cur.lastrowid is not None
                    return cur.lastrowid

                yield Tx(run, insert_id)
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()


class SaBackend(Backend):
    """Any database SQLAlchemy reaches (a pool of connections; each transaction takes one)."""

    def __init__(self, url: str, engine: sa.Engine) -> None:
        super().__init__(url)
        self.engine = engine

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Tx]:
        import sqlalchemy as sa

        from .schema import TABLE

        with self.engine.begin() as conn:

            def run(sql: str, params: Any) -> None:
                conn.execute(sa.text(sql), params)

            def insert_id(table: str, values: dict[str, Any]) -> int:
                key = conn.execute(TABLE[table].insert().values(**values)).inserted_primary_key
                assert key is not None
                return int(key[0])

            yield Tx(run, insert_id)

    def close(self) -> None:
        self.engine.dispose()


def make_engine(url: str, *, writer: bool = False) -> sa.Engine:
    """A SQLAlchemy engine for a store URL.

    On SQLite every connection uses WAL and a busy timeout, and its transactions are SQLite's own
    (DDL included: a schema is created or migrated all at once or not at all); with ``writer`` they
    begin IMMEDIATE, so two drivers creating one new store wait for each other instead of racing.

    Raises:
        StoreUnreachable: When its driver is not installed or the URL is malformed.
    """
    import sqlalchemy as sa

    args: dict[str, Any] = {}
    if dialect_of(url) == "sqlite":
        args["connect_args"] = {"timeout": SQLITE_TIMEOUT, "check_same_thread": False}
    else:
        args["pool_pre_ping"] = True
    try:
        engine = sa.create_engine(url, **args)
    except (ImportError, sa.exc.ArgumentError) as exc:
        raise unreachable(url, exc) from exc
    if engine.dialect.name == "sqlite":
        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"

        @sa.event.listens_for(engine, "connect")
        def _connect(dbapi: Any, _record: Any) -> None:
            dbapi.isolation_level = None  # no implicit transactions of the sqlite3 module
            dbapi.execute("PRAGMA journal_mode=WAL")

        @sa.event.listens_for(engine, "begin")
        def _begin(conn: sa.Connection) -> None:
            conn.exec_driver_sql(begin)

    return engine


def connect(url: str) -> Backend:
    """Open a store's database, creating or migrating its schema; check that it answers.

    Raises:
        StoreUnreachable: Naming the URL (password hidden) and the fix, when it cannot be opened.
    """
    path = sqlite_path(url)
    if path is not None:
        return _sqlite(url, path)
    import sqlalchemy as sa

    from .migrate import ensure

    engine = make_engine(url)
    try:
        ensure(engine)
    except StoreUnreachable:
        engine.dispose()
        raise
    except (sa.exc.SQLAlchemyError, ImportError, OSError) as exc:
        engine.dispose()
        raise unreachable(url, exc) from exc
    return SaBackend(url, engine)


def _sqlite(url: str, path: Path) -> SqliteBackend:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        backend = SqliteBackend(url, path)
        found = backend.version()
    except (OSError, sqlite3.Error) as exc:
        raise unreachable(url, exc) from exc
    if found != VERSION:  # a new file, or an older (or newer) pipework's: SQLAlchemy creates or migrates
        from .migrate import ensure

        engine = make_engine(url, writer=True)
        try:
            ensure(engine)
        except StoreUnreachable:
            backend.close()
            raise
        except Exception as exc:
            backend.close()
            raise unreachable(url, exc) from exc
        finally:
            engine.dispose()
    return backend
