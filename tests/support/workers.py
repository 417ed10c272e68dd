"""A stand-in for the launcher in TUI tests: workers that start and stop in a list."""

from __future__ import annotations

from pathlib import Path

from worker.launcher import WorkerInfo


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

    def app_kwargs(self) -> dict:
        return {"start_worker": self.start, "worker_alive": self.alive,
                "live_workers": self.workers, "stop_worker": self.stop}
