"""Service-marked tests skip, with the reason, when their service was not started (tests/run.sh starts them)."""

from __future__ import annotations

import os
import shutil

import pytest

NEEDS = {
    "slurm": (lambda: bool(os.environ.get("SLURM_CONF")) and shutil.which("sbatch") is not None,
              "SLURM is not running: eval \"$(tests/services/slurm.sh start)\""),
    "sge": (lambda: bool(os.environ.get("SGE_ROOT")) and shutil.which("qsub") is not None,
            "SGE is not running: eval \"$(tests/services/sge.sh start)\""),
    "gbatch": (lambda: bool(os.environ.get("PW_GBATCH_ENDPOINT")) and bool(os.environ.get("STORAGE_EMULATOR_HOST")),
               "the local Batch API is not running: eval \"$(tests/services/gbatch.sh start)\""),
    "cloud": (lambda: all(os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "STORAGE_EMULATOR_HOST",
                                                      "AZURE_STORAGE_CONNECTION_STRING")),
              "storage emulators are not running: eval \"$(tests/services/storage.sh start)\""),
    "postgres": (lambda: bool(os.environ.get("PIPEWORK_TEST_PG_URL")),
                 "PostgreSQL is not running: eval \"$(tests/services/postgres.sh start)\""),
    "mysql": (lambda: bool(os.environ.get("PIPEWORK_TEST_MYSQL_URL")),
              "MariaDB is not running: eval \"$(tests/services/mariadb.sh start)\""),
}  # fmt: skip


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        for marker, (available, reason) in NEEDS.items():
            if item.get_closest_marker(marker) and not available():
                item.add_marker(pytest.mark.skip(reason=reason))
