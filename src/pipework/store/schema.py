"""The run store's schema as SQLAlchemy Core tables, built from :mod:`pipework.store.tables`.

Importing this module imports SQLAlchemy: only the code that opens a store with SQLAlchemy (a server
URL, a schema to create or migrate, the CLI's queries) does. Query with these tables::

    from pipework.store.schema import jobs
    select(jobs.c.proc, jobs.c.state).where(jobs.c.run_id == 3)
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from .tables import TABLES, Column, Table

__all__ = ["artifacts", "attempts", "column_type", "consumers", "jobs", "metadata", "procs", "runs"]

#: The longest string of a ``key`` column, and how much of a text column MySQL indexes.
KEY_LENGTH = 255

metadata = sa.MetaData()


def column_type(column: Column) -> sa.types.TypeEngine[Any]:
    """The SQLAlchemy type of a column."""
    kinds: dict[str, sa.types.TypeEngine[Any]] = {
        "int": sa.Integer(),
        "bigint": sa.BigInteger(),
        "float": sa.Double(),
        "key": sa.String(KEY_LENGTH),
        "text": sa.Text(),
        "bool": sa.Boolean(),
    }
    return kinds[column.type]


def _table(spec: Table) -> sa.Table:
    columns = [
        sa.Column(
            c.name,
            column_type(c),
            primary_key=c.key,
            nullable=c.nullable,
            autoincrement=c.auto if c.key else False,
        )
        for c in spec.columns
    ]
    table = sa.Table(spec.name, metadata, *columns, sqlite_autoincrement=any(c.auto for c in spec.columns))
    texts = {c.name for c in spec.columns if c.type == "text"}
    for name, cols in spec.indexes:
        lengths = {c: KEY_LENGTH for c in cols if c in texts}
        sa.Index(name, *(table.c[c] for c in cols), mysql_length=lengths or None)
    return table


TABLE: dict[str, sa.Table] = {name: _table(spec) for name, spec in TABLES.items()}
runs = TABLE["runs"]
procs = TABLE["procs"]
jobs = TABLE["jobs"]
attempts = TABLE["attempts"]
artifacts = TABLE["artifacts"]
consumers = TABLE["consumers"]
schema_version = TABLE["schema_version"]
