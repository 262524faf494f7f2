"""The pipework scheduler contract, run against this plugin: all a plugin's tests need."""

import pytest

from pipework.testing import SchedulerContract

DetachedScheduler = pytest.importorskip("pipework_detached").DetachedScheduler


class TestDetachedContract(SchedulerContract):
    __test__ = True

    def make_scheduler(self, tmp_path):
        return DetachedScheduler(run_tag="contract")
