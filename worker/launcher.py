"""Find, start and stop the detached worker, and keep crash tracebacks beside its logs.
No torch and no SQL: the TUI uses this.

A worker serves one store on one device. That pair is enforced with an exclusive
``flock`` on a lock file named after both; the kernel drops the lock when the worker
dies, even on kill -9, so a stale lock can never block a new worker. Callers pass the
store's id (``RunStore.store_id``): this module never opens a store.
"""

from __future__ import annotations

import fcntl
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from engine.paths import app_home


@dataclass(frozen=True)
class WorkerInfo:
    device: str
    pid: int
    db_url: str
    started_at: float
    log_path: str
    store_id: str = ""  # empty: a worker of an older cifar-tui, store unknown


def workers_dir() -> Path:
    path = app_home() / "workers"
    path.mkdir(parents=True, exist_ok=True)
    return path


def _slug(device: str) -> str:
    return device.replace(":", "-").replace("/", "-")


def _stem(store_id: str, device: str) -> str:
    # Eight hex digits of the UUID tell a machine's stores apart and keep names short.
    return f"worker-{store_id[:8]}-{_slug(device)}"


def lock_path(store_id: str, device: str) -> Path:
    return workers_dir() / f"{_stem(store_id, device)}.lock"


def log_path(store_id: str, device: str) -> Path:
    return workers_dir() / f"{_stem(store_id, device)}.log"


class WorkerLock:
    """Held by the live worker of one store and device for its whole life."""

    def __init__(self, store_id: str, device: str):
        self.store_id = store_id
        self.device = device
        self.path = lock_path(store_id, device)
        self._fh = None

    def acquire(self, db_url: str) -> bool:
        fh = open(self.path, "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        info = WorkerInfo(self.device, os.getpid(), db_url, time.time(),
                          str(log_path(self.store_id, self.device)), self.store_id)
        fh.write(json.dumps(info.__dict__))
        fh.flush()
        self._fh = fh
        return True

    def release(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def live_worker(store_id: str, device: str) -> WorkerInfo | None:
    """The worker serving this store on this device, or None when none is alive."""
    path = lock_path(store_id, device)
    return _lock_holder(path) if path.exists() else None


def all_live_workers() -> list[WorkerInfo]:
    """Every live worker on this machine, whatever store it serves (for --status)."""
    holders = (_lock_holder(path) for path in sorted(workers_dir().glob("worker-*.lock")))
    return [info for info in holders if info is not None]


def any_live_worker(store_id: str) -> WorkerInfo | None:
    """The one answer to "is a worker alive for this store?" for the CLI and the TUI:
    a live worker of this store on any device, or None. A worker of another store
    never claims this store's runs, so it does not count."""
    return next((w for w in all_live_workers() if w.store_id == store_id), None)


def _lock_holder(path: Path) -> WorkerInfo | None:
    """Who holds the lock file (as it recorded itself), or None when nobody does."""
    with open(path, "a+") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.seek(0)
            try:
                return WorkerInfo(**json.loads(fh.read() or "{}"))
            except (ValueError, TypeError):  # still being written, or an unknown layout
                device = path.stem.removeprefix("worker-")
                return WorkerInfo(device, -1, "", 0.0, str(path.with_suffix(".log")))
        fcntl.flock(fh, fcntl.LOCK_UN)
    return None


def save_traceback(exc: BaseException, where: str) -> Path | None:
    """Write ``exc``'s full traceback under the app folder's logs, for a bug report;
    None when even that fails (the caller still shows its one line)."""
    import traceback

    stamp = time.strftime("%Y%m%d-%H%M%S")
    path = app_home() / "logs" / f"{where}-{stamp}-{os.getpid()}.log"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    except OSError:
        return None
    return path


def start_worker(db_url: str, store_id: str, device: str = "auto",
                 extra_args: list[str] | None = None) -> int:
    """Start a detached worker for this store (own session, output to a log file) unless
    one is alive on this device; return its pid."""
    alive = live_worker(store_id, device)
    if alive is not None:
        return alive.pid
    log = open(log_path(store_id, device), "ab")
    # The URL travels in the environment, not argv: `ps` would show a database password.
    cmd = [sys.executable, "-m", "cifar_tui", "worker", "--device", device, *(extra_args or [])]
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
        cwd=str(Path(__file__).resolve().parent.parent),
        env={**os.environ, "PYTHONUNBUFFERED": "1", "CIFAR_TUI_DB": db_url},
    )
    log.close()
    return proc.pid


def wait_for_worker(store_id: str, device: str, timeout: float = 20.0) -> WorkerInfo | None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = live_worker(store_id, device)
        if info is not None:
            return info
        time.sleep(0.1)
    return None


def stop_worker(store_id: str, device: str, timeout: float = 30.0) -> bool:
    """Ask this store's worker on ``device`` to stop (SIGTERM) and wait; True when it is
    gone. Other stores' workers are never touched."""
    info = live_worker(store_id, device)
    if info is None or info.pid <= 0:
        return info is None
    try:
        os.kill(info.pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if live_worker(store_id, device) is None:
            return True
        time.sleep(0.1)
    return False
