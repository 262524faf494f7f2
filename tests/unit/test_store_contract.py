"""The StoreContract against the SQLite run store (a later issue adds PostgreSQL and MySQL)."""

from __future__ import annotations

from pathlib import Path

from ..contracts import StoreContract


class TestSQLiteStore(StoreContract):
    __test__ = True

    def location(self, tmp_path: Path) -> str:
        return str(tmp_path / "state" / "runs.sqlite")

    def unwritable_location(self, tmp_path: Path) -> str:
        (tmp_path / "afile").write_text("not a directory")
        return str(tmp_path / "afile" / "runs.sqlite")


class TestSQLiteStoreByURL(TestSQLiteStore):
    def location(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'runs.db'}"
