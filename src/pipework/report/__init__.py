"""The HTML report of a run: one self-contained file (its style, script and data inline; no network)
with the run's summary, its DAG, a timeline of its jobs, resource plots per process (used against
requested), its failed jobs with their stderr, and a job table that stays quick at 100,000 jobs.

Built from the run store alone (:mod:`pipework.report.data`); only ``pipework report`` and
``--report`` import it.
"""

from __future__ import annotations

from .page import build_report, render, write_report

__all__ = ["build_report", "render", "write_report"]
