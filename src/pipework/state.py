"""The states a job goes through, shared by the engine, the schedulers and the progress display."""

from __future__ import annotations

import enum

__all__ = ["JobState"]


class JobState(str, enum.Enum):
    """The state of one job.

    ``QUEUED`` and ``RUNNING`` are active; ``DONE``, ``FAILED``, ``KILLED``, ``LOST``, ``CACHED`` and
    ``NOT_RUN`` are final.
    ``LOST`` means the scheduler no longer knows the job and it left no ``job.rc``; ``NOT_RUN`` that the
    run stopped (a failure, an interrupt) before the job was submitted.
    """

    PENDING = "pending"
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    KILLED = "killed"
    LOST = "lost"
    CACHED = "cached"
    NOT_RUN = "not run"

    @property
    def is_final(self) -> bool:
        """True for states a job never leaves."""
        return self in _FINAL

    @property
    def is_active(self) -> bool:
        """True while the scheduler holds the job (queued or running)."""
        return self in (JobState.QUEUED, JobState.RUNNING)


_FINAL = frozenset(
    {JobState.DONE, JobState.FAILED, JobState.KILLED, JobState.LOST, JobState.CACHED, JobState.NOT_RUN}
)
