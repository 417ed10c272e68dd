"""Sample the machine while a run trains and store the samples with the run, so a finished
run still shows what its GPUs, CPU, RAM and disk did.

A daemon thread beside the lease renewer: started when the run starts, stopped (joined)
when it ends, whatever the outcome. Nothing here may stop training: a failed read or
write is logged once and sampling goes on. The store is imported only in the thread, so
``import worker.supervisor`` stays free of SQLAlchemy.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from engine.events import SystemSample
from engine.formatting import first_line
from worker.machine import read_machine
from worker.run_thread import RunThread

SAMPLE_SECONDS = 5.0  # a week-long run is ~120k rows; the store reads back the latest 5,000


class SystemSampler(RunThread):
    """Every ``every`` seconds, ``read(disk_path)`` goes to ``store.add_system_samples``.

    The first sample is taken at once and always written, even when the run ends first,
    so a run of any length has at least one; ``stop()`` waits for a write in flight."""

    def __init__(self, store: Any, run_id: int, disk_path: str | Path,
                 log: Callable[[str], None], every: float = SAMPLE_SECONDS,
                 read: Callable[[str | Path], SystemSample] = read_machine):
        super().__init__(name=f"sample-{run_id}")
        self.store, self.run_id, self.disk_path = store, run_id, disk_path
        self.log, self.every, self.read = log, every, read
        self.samples = 0  # written so far
        self._told = False

    def _run(self) -> None:
        from storage.errors import RunNotFound  # here, not at import: see the module doc

        while True:
            try:
                self.store.add_system_samples(self.run_id, [self.read(self.disk_path)])
                self.samples += 1
            except RunNotFound:
                return  # deleted while training: nothing left to sample for
            except Exception as exc:  # noqa: BLE001 - never the run's end: say it once
                if not self._told:
                    self._told = True
                    self.log(f"run {self.run_id}: could not record a system sample "
                             f"({type(exc).__name__}: {first_line(str(exc), 200)}); "
                             "training goes on")
            if self._halt.wait(self.every):
                return
