"""The exception hierarchy of pipework.

Every error pipework raises on purpose is a :class:`PipeworkError`. Its message is the product: it names
the process and the job when they are known, says what happened, and ends with what to do about it::

    [Count job 3] output 'count' was not created by the script -- check the script writes {{out.count}}
"""

from __future__ import annotations

from typing import TypeVar

__all__ = [
    "ConfigError",
    "DagError",
    "JobFailed",
    "PipelineFailed",
    "PipeworkError",
    "SchedulerError",
    "SpecError",
    "StorageError",
    "StoreUnreachable",
    "TemplateError",
]


_E = TypeVar("_E", bound="PipeworkError")


class PipeworkError(Exception):
    """Root of every error pipework raises on purpose.

    Context is kept in attributes, never parsed back out of the message. To add context to an error on
    its way up, raise a new one from it with :meth:`within`::

        except ConfigError as exc:
            raise exc.within(proc=spec.name) from exc

    Args:
        message: What happened, in one sentence.
        proc: The name of the process concerned, if any.
        job: The index of the job concerned, if any.
        hint: What the user can do about it.

    Attributes:
        message: What happened (without the ``[proc job]`` prefix and the hint).
        proc: The process concerned, or None.
        job: The job index concerned, or None.
        hint: What to do about it, or None.
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

    def within(
        self: _E,
        *,
        proc: str | None = None,
        job: int | None = None,
        doing: str | None = None,
        source: str | None = None,
        hint: str | None = None,
    ) -> _E:
        """Return a new error of the same class and context, with more context added.

        The error itself is not changed: raise the new one ``from`` it. Every other attribute
        (``key``, ``reason``, ``rc``, ...) is copied.

        Args:
            proc: The process, set only when this error names none.
            job: The job index, set only when this error names none.
            doing: What was being done, put before the message: ``"{doing}: {message}"``.
            source: Where the offending value came from, put after the message:
                ``"{message} (from {source})"``.
            hint: The fix, set only when this error has none.

        Returns:
            The new error.
        """
        state = {k: v for k, v in self.__dict__.items() if k != "__notes__"}
        message = self.message
        if doing:
            message = f"{doing}: {message}"
        if source:
            message = f"{message} (from {source})"
        state["message"] = message
        if state.get("proc") is None:
            state["proc"] = proc
        if state.get("job") is None:
            state["job"] = job
        if not state.get("hint"):
            state["hint"] = hint
        return _rebuild(type(self), message, state)

    def __reduce__(self) -> tuple[object, ...]:
        # keyword-only context must survive pickling (multiprocessing, pytest-xdist)
        return (_rebuild, (type(self), self.message, self.__dict__.copy()))


def _rebuild(cls: type[_E], message: str, state: dict[str, object]) -> _E:
    err = cls.__new__(cls)
    Exception.__init__(err, message)
    err.__dict__.update(state)
    return err


class ConfigError(PipeworkError):
    """A configuration value (profile, environment variable, attribute) is invalid.

    Args:
        message: What is wrong, naming the value and where it came from.
        key: The configuration key concerned (a :class:`~pipework.config.RunConfig` field or a
            scheduler option), if one is.
        proc: The process concerned, if any.
        job: The job index concerned, if any.
        hint: How to fix it.

    Attributes:
        key: The configuration key concerned, or None.
    """

    def __init__(
        self,
        message: str,
        *,
        key: str | None = None,
        proc: str | None = None,
        job: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, proc=proc, job=job, hint=hint)
        self.key = key


class SpecError(PipeworkError):
    """A process declaration (input, output, input data, attributes) is invalid."""


class TemplateError(PipeworkError):
    """A script or output template cannot be compiled or rendered."""


class DagError(PipeworkError):
    """The processes of a pipeline do not form a valid graph (cycle, missing or duplicate process)."""


class StorageError(PipeworkError):
    """A local or cloud path cannot be read, written or listed."""


class StoreUnreachable(StorageError):
    """The run store cannot be opened: its server is down, the URL is wrong, its file cannot be
    written, or its driver is not installed.

    Args:
        message: What happened.
        url: The store's URL, its password hidden.
        hint: The fix.

    Attributes:
        url: The store's URL, its password hidden.
    """

    def __init__(self, message: str, *, url: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.url = url


class SchedulerError(PipeworkError):
    """A scheduler could not submit, query or kill jobs.

    Args:
        message: What happened.
        transient: True when retrying the same call may succeed (a timeout, a busy controller).
        reason: Why, as a word callers can test instead of the message text: ``"already_exists"``,
            ``"not_found"``, ``"quota"``, ``"permission"``, ``"credentials"``, ``"unavailable"``, or
            None when not classified.
        proc: The process concerned, if any.
        job: The job index concerned, if any.
        hint: How to fix it.

    Attributes:
        transient: Whether retrying the same call may succeed.
        reason: Why the call failed, as a word (see Args), or None.
    """

    def __init__(
        self,
        message: str,
        *,
        transient: bool = False,
        reason: str | None = None,
        proc: str | None = None,
        job: int | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, proc=proc, job=job, hint=hint)
        self.transient = transient
        self.reason = reason


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
        stderr_head: The first lines of its stderr, when there are more lines than the tail shows
            (the cause is often there: a tool's usage text follows its one-line complaint).
        stderr_lines: How many lines its stderr has in all.
        command: The first lines of its rendered script.
        command_lines: How many lines its script has in all.
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
        stderr_head: str = "",
        stderr_lines: int = 0,
        command: str = "",
        command_lines: int = 0,
    ) -> None:
        super().__init__(message, proc=proc, job=job, hint=hint)
        self.rc = rc
        self.jobdir = jobdir
        self.stderr_tail = stderr_tail
        self.stderr_head = stderr_head
        self.stderr_lines = stderr_lines
        self.command = command
        self.command_lines = command_lines

    def report(self) -> str:
        """Return the multi-line failure report: what happened, the rc, the job dir, the command, the
        first and last lines of stderr, and where to read the rest."""
        lines = [str(self)]
        if self.rc is not None:
            lines.append(f"  return code: {self.rc}")
        if self.jobdir:
            lines.append(f"  job dir:     {self.jobdir}")
        if self.command.strip():
            shown = self.command.rstrip("\n").splitlines()
            more = self.command_lines - len(shown)
            lines.append(
                "  command:"
                + (f"     (the first {len(shown)} of {self.command_lines} lines)" if more > 0 else "")
            )
            lines.extend("    > " + line for line in shown)
        head = self.stderr_head.rstrip("\n").splitlines() if self.stderr_head.strip() else []
        tail = self.stderr_tail.rstrip("\n").splitlines() if self.stderr_tail.strip() else []
        if not tail:
            lines.append("  stderr:      (empty)")
        elif head:
            skipped = self.stderr_lines - len(head) - len(tail)
            lines.append(
                f"  stderr ({self.stderr_lines} lines: the first {len(head)} and the last {len(tail)}):"
            )
            lines.extend("    | " + line for line in head)
            if skipped > 0:
                lines.append(f"    | ... {skipped} more lines ...")
            lines.extend("    | " + line for line in tail)
        else:
            lines.append("  last lines of stderr:")
            lines.extend("    | " + line for line in tail)
        lines.append(f"  more:        pipework logs {self.proc} {self.job}")
        return "\n".join(lines)


class PipelineFailed(PipeworkError):
    """A pipeline run ended with failed jobs; the message is the concise failure report.

    Args:
        message: The failure report.
        failures: The job failures that caused it.
        result: The partial :class:`~pipework.RunResult` of the run, if one was built.
        interrupted: The name of the signal that interrupted the run (``"SIGINT"``, ``"SIGTERM"``),
            when a signal ended it rather than a failed job.

    Attributes:
        failures: The job failures that caused it (empty when interrupted).
        result: The partial run result, or None.
        interrupted: The signal's name when the run was interrupted, else None.
    """

    def __init__(
        self,
        message: str,
        *,
        failures: list[JobFailed] | None = None,
        result: object | None = None,
        interrupted: str | None = None,
    ) -> None:
        super().__init__(message)
        self.failures = failures or []
        self.result = result
        self.interrupted = interrupted
