"""A stand-in for the launcher in TUI tests (workers that start and stop in a list), and a
training child that runs out of memory once, for the OOM-while-sharing path."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from engine.events import RunFailed
from worker.launcher import WorkerInfo

OOM_PREFIX = "oom"  # runs named so run out of memory on their first try
FAKE_OOM = ("CPU out of memory at batch size 16 (it asked for 2.0 GB more): "
            "lower --batch-size or --width-mult")  # as engine.failures words it


def oom_once_child(config_dict: dict[str, Any], events: Any, stop_flag: Any,
                   checkpoint_dir: str, resume_from: str | None, owner: str | None = None,
                   log_file: str | None = None) -> None:
    """The worker's training child, except that a run named ``oom...`` first waits for
    another run's folder (so it shares the device), then fails the way a real out of
    memory fails; a marker in its folder makes its next try train for real."""
    from worker.supervisor import child_main

    run_dir = Path(checkpoint_dir)
    marker = run_dir / "ran-out-of-memory-once"
    if str(config_dict.get("name") or "").startswith(OOM_PREFIX) and not marker.exists():
        marker.touch()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(
                other != run_dir for other in run_dir.parent.glob("run-*")):
            time.sleep(0.05)  # in a spawned child: no test helper to await with
        events.put(RunFailed(reason=FAKE_OOM, traceback="MemoryError: faked by the test"))
        return
    child_main(config_dict, events, stop_flag, checkpoint_dir, resume_from, owner, log_file)


class FakeWorkers:
    """start/alive/live/stop as ``make_app`` takes them; spawns nothing."""

    def __init__(self, store_id: str, started_at: float, log_dir: Path) -> None:
        self.store_id = store_id
        self.started_at = started_at
        self.log_dir = log_dir
        self.live: list[WorkerInfo] = []
        self.starts: list[str] = []
        self.stops = 0

    def add(self, store_id: str, device: str, pid: int, log_lines: list[str]) -> WorkerInfo:
        whose = "mine" if store_id == self.store_id else store_id[:8]  # stable in snapshots
        log = self.log_dir / f"worker-{whose}-{device}.log"
        log.write_text("".join(f"{line}\n" for line in log_lines))
        info = WorkerInfo(device, pid, "sqlite:///runs.db", self.started_at, str(log), store_id)
        self.live.append(info)
        return info

    def start(self, db_url: str) -> int:
        self.starts.append(db_url)
        return self.add(self.store_id, "auto", 4242, ["worker started"]).pid

    def alive(self) -> bool:
        return any(w.store_id == self.store_id for w in self.live)

    def workers(self) -> list[WorkerInfo]:
        return list(self.live)

    def stop(self) -> bool:
        self.stops += 1
        self.live = [w for w in self.live if w.store_id != self.store_id]
        return True

    def add_devices(self, store_id: str, devices: list[str], pid: int,
                    log_lines: list[str]) -> list[WorkerInfo]:
        """One worker process serving several devices: one lock (WorkerInfo) per device."""
        return [self.add(store_id, device, pid, log_lines) for device in devices]

    def app_kwargs(self) -> dict:
        return {"start_worker": self.start, "worker_alive": self.alive,
                "live_workers": self.workers, "stop_worker": self.stop}
