"""What changed of a run since the recorder last wrote it: one :class:`Batch`, written in one
transaction (see :mod:`pipework.store.recorder`)."""

from __future__ import annotations

import contextvars
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .capture import Attempt

if TYPE_CHECKING:
    from ..job import Job

__all__ = ["Batch"]


@dataclass
class Batch:
    """What changed since the last write.

    Attributes:
        procs: New process rows.
        proc_updates: Process rows changed (statement key, row).
        jobs: Jobs whose rows are new.
        dirty_jobs: Jobs whose rows changed.
        attempts: New attempts.
        dirty_attempts: Attempts that changed.
        artifacts: Jobs whose outputs are to be recorded, with where each output was exported.
        consumers: Jobs whose path inputs are to be recorded.
        usage: Attempts whose ``job.usage`` is on a bucket, still to be read (with its URL and the
            context of the run's storage settings).
        run: Columns of the run row that changed.
    """

    procs: list[dict[str, Any]] = field(default_factory=list)
    proc_updates: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    jobs: list[Job] = field(default_factory=list)
    dirty_jobs: dict[Job, None] = field(default_factory=dict)
    attempts: list[Attempt] = field(default_factory=list)
    dirty_attempts: dict[Attempt, None] = field(default_factory=dict)
    artifacts: list[tuple[Job, dict[str, str]]] = field(default_factory=list)
    consumers: list[Job] = field(default_factory=list)
    usage: list[tuple[Attempt, str, contextvars.Context]] = field(default_factory=list)
    run: dict[str, Any] = field(default_factory=dict)

    def empty(self) -> bool:
        """Whether nothing changed."""
        return not (self.procs or self.proc_updates or self.jobs or self.dirty_jobs or self.attempts
                    or self.dirty_attempts or self.artifacts or self.consumers or self.usage
                    or self.run)  # fmt: skip

    def merge(self, later: Batch) -> None:
        """Add a later batch's changes to this one (a write failed: both go together next time)."""
        self.procs += later.procs
        self.proc_updates += later.proc_updates
        self.jobs += later.jobs
        self.dirty_jobs.update(later.dirty_jobs)
        self.attempts += later.attempts
        self.dirty_attempts.update(later.dirty_attempts)
        self.artifacts += later.artifacts
        self.consumers += later.consumers
        self.usage += later.usage
        self.run.update(later.run)
