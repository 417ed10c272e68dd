"""System samples: what the machine did while a run trained (CPU, RAM, disk, GPUs)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from engine.events import GpuSample, SystemSample
from storage.schema import SystemSampleRow
from storage.session import StoreSession

MAX_SAMPLES_READ = 5000  # a week sampled every 5 s would be 120k rows; the chart needs few


class SystemSamples(StoreSession):
    """Written by the worker every few seconds while a run trains; read by the TUI."""

    def add_system_samples(self, run_id: int, samples: Sequence[SystemSample]) -> None:
        if not samples:
            return
        rows = [{"run_id": run_id, "wall_time": m.time, "cpu_pct": m.cpu_pct,
                 "ram_used_mb": m.ram_used_mb, "ram_total_mb": m.ram_total_mb,
                 "disk_used_pct": m.disk_used_pct,
                 "gpus_json": json.dumps([asdict(g) for g in m.gpus])} for m in samples]

        def work(s: Session) -> None:
            self._status(s, run_id)  # RunNotFound rather than a foreign key error
            s.execute(insert(SystemSampleRow), rows)

        self._write(work)

    def get_system_samples(self, run_id: int, limit: int = MAX_SAMPLES_READ) -> list[SystemSample]:
        """The run's samples in time order; the latest ``limit`` when there are more."""
        with self._read() as s:
            self._status(s, run_id)
            rows = s.execute(
                select(SystemSampleRow).where(SystemSampleRow.run_id == run_id)
                .order_by(SystemSampleRow.wall_time.desc()).limit(limit)
            ).scalars().all()
            return [_sample(r) for r in reversed(rows)]


def _sample(row: SystemSampleRow) -> SystemSample:
    gpus = tuple(GpuSample(**g) for g in json.loads(row.gpus_json or "[]"))
    return SystemSample(cpu_pct=row.cpu_pct, ram_used_mb=row.ram_used_mb,
                        ram_total_mb=row.ram_total_mb, disk_used_pct=row.disk_used_pct,
                        gpus=gpus, time=row.wall_time)
