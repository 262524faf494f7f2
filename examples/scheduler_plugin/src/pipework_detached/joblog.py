"""An example hook plugin: one line per finished job in the file named by ``$PIPEWORK_JOB_LOG``."""

from __future__ import annotations

import os

from pipework.plugins import hookimpl


@hookimpl
def on_job_done(*, proc: str, index: int, state: str, rc: int | None) -> None:
    """Append ``<proc> <index> <state> <rc>`` to the log file, if one is set."""
    path = os.environ.get("PIPEWORK_JOB_LOG")
    if path:
        with open(path, "a") as fh:
            fh.write(f"{proc} {index} {state} {rc}\n")
