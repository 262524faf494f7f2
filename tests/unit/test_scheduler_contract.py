"""The scheduler contract of pipework.testing, run against the local scheduler."""

from pathlib import Path

from pipework.schedulers.local import LocalScheduler, LocalSettings
from pipework.testing import SchedulerContract


class TestLocalContract(SchedulerContract):
    __test__ = True
    timeout = 60.0

    def make_scheduler(self, tmp_path: Path) -> LocalScheduler:
        return LocalScheduler(LocalSettings(kill_grace=2.0), run_tag="contract")
