"""pipework: class-based workflows that run the same on a laptop, an HPC cluster or the cloud.

The user contract is this module's names: subclass :class:`Proc` and :class:`Pipeline`, run with
``MyPipeline.main()`` or ``MyPipeline().run()``. Plugin authors import from ``pipework.schedulers``,
``pipework.plugins`` and ``pipework.testing``.
"""

from __future__ import annotations

from typing import Any

from .channel import Channel
from .errors import (
    ConfigError,
    DagError,
    JobFailed,
    PipelineFailed,
    PipeworkError,
    SchedulerError,
    SpecError,
    StorageError,
    TemplateError,
)
from .pipeline import Pipeline
from .proc import Proc
from .run import RunResult

__all__ = [
    "Channel",
    "ConfigError",
    "DagError",
    "JobFailed",
    "Pipeline",
    "PipelineFailed",
    "PipeworkError",
    "Proc",
    "RunResult",
    "SchedulerError",
    "SpecError",
    "StorageError",
    "TemplateError",
    "__version__",
]


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from ._version import __version__

        return __version__
    raise AttributeError(f"module 'pipework' has no attribute {name!r}")
