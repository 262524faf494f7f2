"""The run store: what every run did, recorded as it happens, for the CLI and for lineage.

SQLite by default (:func:`default_store_path`; WAL, so it can be read while a run writes), or any
SQLAlchemy URL for a team's server (``postgresql+psycopg://...``, ``mysql+pymysql://...``). The
schema is in :mod:`pipework.store.tables` (and as SQLAlchemy tables in :mod:`pipework.store.schema`);
a newer pipework migrates an older store (:mod:`pipework.store.migrate`). The engine writes through
a :class:`Recorder` (batched, in a thread); the CLI reads through :class:`RunStore`.

Importing this package does not import SQLAlchemy; opening a store does (except to write a SQLite
store whose schema is current, which needs only ``sqlite3``).
"""

from __future__ import annotations

from ..errors import StoreUnreachable
from .db import RunStore
from .location import default_store_path, redact, store_url
from .recorder import Recorder
from .records import ArtifactRecord, AttemptRecord, JobRecord, ProcRecord, RunRecord
from .tables import VERSION

__all__ = [
    "VERSION",
    "ArtifactRecord",
    "AttemptRecord",
    "JobRecord",
    "ProcRecord",
    "Recorder",
    "RunRecord",
    "RunStore",
    "StoreUnreachable",
    "default_store_path",
    "redact",
    "store_url",
]
