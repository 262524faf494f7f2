"""The exception hierarchy of pipework.

Every error pipework raises on purpose is a :class:`PipeworkError`. Its message is the product: it names
the process and the job when they are known, says what happened, and ends with what to do about it::

    [Count job 3] output 'count' was not created by the script -- check the script writes {{out.count}}
"""

from __future__ import annotations

__all__ = [
    "ConfigError",
    "DagError",
    "JobFailed",
    "PipelineFailed",
    "PipeworkError",
    "SchedulerError",
    "SpecError",
    "StorageError",
    "TemplateError",
]


class PipeworkError(Exception):
    """Root of every error pipework raises on purpose.

    Args:
        message: What happened, in one sentence.
        proc: The name of the process concerned, if any.
        job: The index of the job concerned, if any.
        hint: What the user can do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        proc: str | None = None,
        job: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.proc = proc
        self.job = job
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        where = ""
        if self.proc is not None and self.job is not None:
            where = f"[{self.proc} job {self.job}] "
        elif self.proc is not None:
            where = f"[{self.proc}] "
        text = f"{where}{self.message}"
        if self.hint:
            text += f" -- {self.hint}"
        return text

    def __reduce__(self) -> tuple[object, ...]:
        # keyword-only context must survive pickling (multiprocessing, pytest-xdist)
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[PipeworkError], message: str, state: dict[str, object]) -> PipeworkError:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ConfigError(PipeworkError):
    """A configuration value (profile, environment variable, attribute) is invalid."""


class SpecError(PipeworkError):
    """A process declaration (input, output, input data, attributes) is invalid."""


class TemplateError(PipeworkError):
    """A script or output template cannot be compiled or rendered."""


class DagError(PipeworkError):
    """The processes of a pipeline do not form a valid graph (cycle, missing or duplicate process)."""


class StorageError(PipeworkError):
    """A local or cloud path cannot be read, written or listed."""


class SchedulerError(PipeworkError):
    """A scheduler could not submit, query or kill jobs.

    Args:
        message: What happened.
        transient: True when retrying the same call may succeed (a timeout, a busy controller).
        proc: The process concerned, if any.
        job: The job index concerned, if any.
        hint: How to fix it.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        proc: str | None = None,
        job: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, proc=proc, job=job, hint=hint)
        self.transient = transient


class JobFailed(PipeworkError):
    """A job ended with a non-zero return code, was killed, or did not create its outputs.

    Args:
        message: What happened.
        proc: The process of the job.
        job: The index of the job.
        rc: The job's return code, if it has one.
        jobdir: The job's directory, where its script, stdout and stderr are.
        stderr_tail: The last lines of the job's stderr.
        hint: What the user can do about it.
    """

    def __init__(
        self,
        message: str,
        *,
        proc: str,
        job: int,
        rc: int | None = None,
        jobdir: str | None = None,
        stderr_tail: str = "",
        hint: str | None = None,
    ) -> None:
        super().__init__(message, proc=proc, job=job, hint=hint)
        self.rc = rc
        self.jobdir = jobdir
        self.stderr_tail = stderr_tail

    def report(self) -> str:
        """Return the multi-line failure report: process, index, rc, job dir and the stderr tail."""
        lines = [str(self)]
        if self.rc is not None:
            lines.append(f"  return code: {self.rc}")
        if self.jobdir:
            lines.append(f"  job dir:     {self.jobdir}")
        if self.stderr_tail.strip():
            lines.append("  last lines of stderr:")
            lines.extend("    | " + line for line in self.stderr_tail.rstrip("\n").splitlines())
        else:
            lines.append("  stderr:      (empty)")
        return "\n".join(lines)


class PipelineFailed(PipeworkError):
    """A pipeline run ended with failed jobs; the message is the concise failure report.

    Args:
        message: The failure report.
        failures: The job failures that caused it.
        result: The partial :class:`~pipework.RunResult` of the run, if one was built.
    """

    def __init__(
        self,
        message: str,
        *,
        failures: list[JobFailed] | None = None,
        result: object | None = None,
    ) -> None:
        super().__init__(message)
        self.failures = failures or []
        self.result = result
