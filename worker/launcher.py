"""Find, start and stop the detached worker, and keep crash tracebacks beside its logs.
No torch and no SQL: the TUI uses this.

A worker process serves one store on one or more devices. Each (store, device) pair is
held with an exclusive ``flock`` on a lock file named after both, so two `--devices all`
workers on one box never serve a device twice; the kernel drops the lock when the worker
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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from engine.paths import app_home

SLURM_JOB_ENV = "SLURM_JOB_ID"


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


@dataclass(frozen=True)
class WorkerId:
    """What a run's ``worker_id`` says: ``host:pid:device[#slot][@slurm:JOB]``."""

    host: str
    pid: int | None
    device: str
    slot: int = 0  # the second run sharing a device is slot 1 (`--runs-per-device`)
    slurm_job: str | None = None

    def __str__(self) -> str:
        text = f"{self.host}:{self.pid}:{self.device}"
        if self.slot:
            text += f"#{self.slot}"
        return text + (f"@slurm:{self.slurm_job}" if self.slurm_job else "")


def make_worker_id(host: str, pid: int, device: str, slot: int = 0) -> str:
    """A slot's worker id; inside a Slurm job it carries the job id, for the TUI."""
    return str(WorkerId(host, pid, device, slot, os.environ.get(SLURM_JOB_ENV) or None))


def parse_worker_id(worker_id: str | None) -> WorkerId | None:
    """The parts of a ``host:pid:device[#slot][@slurm:JOB]`` id, or None for another shape."""
    text, _, job = (worker_id or "").partition("@slurm:")
    parts = text.split(":", 2)
    if len(parts) != 3 or not parts[1].isdecimal():
        return None
    device, _, slot = parts[2].partition("#")
    return WorkerId(parts[0], int(parts[1]), device, int(slot) if slot.isdecimal() else 0,
                    job or None)


class WorkerLock:
    """Held by the live worker serving one store on one device for its whole life.
    ``log_file`` is where that worker writes (one process may hold several locks)."""

    def __init__(self, store_id: str, device: str, log_file: str | None = None):
        self.store_id = store_id
        self.device = device
        self.path = lock_path(store_id, device)
        self.log_file = log_file or str(log_path(store_id, device))
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
        info = WorkerInfo(self.device, os.getpid(), db_url, time.time(), self.log_file,
                          self.store_id)
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


def every_gpu_wanted() -> bool:
    """The `all_gpus` setting (default on); an unreadable settings file keeps the default."""
    from engine import settings

    try:
        return settings.load().all_gpus
    except settings.SettingsError:
        return True


def auto_devices(gpu_count: Callable[[], int] | None = None) -> list[str] | None:
    """What an ``auto`` start serves: every visible GPU (``--devices all``), or None for
    the one `auto` worker of before, when there is no GPU (it trains on the CPU) or the
    `all_gpus` setting is off."""
    if not every_gpu_wanted():
        return None
    from worker.device_list import discover_devices, visible_gpu_count

    count = (gpu_count or visible_gpu_count)()
    return discover_devices(lambda: count) if count else None


def start_worker(db_url: str, store_id: str, device: str = "auto",
                 extra_args: list[str] | None = None,
                 gpu_count: Callable[[], int] | None = None) -> int:
    """Start a detached worker for this store (own session, output to a log file) unless
    one is alive on this device; return its pid. ``auto`` means one worker process for
    every visible GPU when there are GPUs (see ``auto_devices``)."""
    devices = auto_devices(gpu_count) if device == "auto" else None
    if devices is not None:
        return _start_detached(db_url, store_id, devices, ["--devices", "all"], extra_args)
    return _start_detached(db_url, store_id, [device], ["--device", device], extra_args)


def start_log_path(store_id: str, device: str = "auto") -> Path:
    """Where ``start_worker(..., device)`` sends the worker's output."""
    devices = auto_devices() if device == "auto" else None
    many = devices is not None and len(devices) > 1
    return log_path(store_id, "all" if many else (devices or [device])[0])


def start_devices(db_url: str, store_id: str, devices: list[str],
                  extra_args: list[str] | None = None) -> int:
    """Start one detached worker process for these devices (`--devices a,b`) unless each
    is served already; return its pid (or the serving worker's)."""
    return _start_detached(db_url, store_id, devices, ["--devices", ",".join(devices)],
                           extra_args)


def _start_detached(db_url: str, store_id: str, devices: list[str], device_args: list[str],
                    extra_args: list[str] | None) -> int:
    alive = [w for d in devices if (w := live_worker(store_id, d)) is not None]
    if len(alive) == len(devices):
        return alive[0].pid
    name = devices[0] if len(devices) == 1 else "all"
    log_file = log_path(store_id, name)
    log = open(log_file, "ab")
    # The URL travels in the environment, not argv: `ps` would show a database password.
    cmd = [sys.executable, "-m", "cifar_tui", "worker", *device_args,
           "--log-file", str(log_file), *(extra_args or [])]
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


def stop_store_workers(store_id: str) -> bool:
    """Stop this store's workers on every device (as `worker --stop`), each process once;
    never another store's. False when one did not stop in time."""
    one_device_each = {w.pid: w.device for w in all_live_workers() if w.store_id == store_id}
    return all([stop_worker(store_id, device) for device in one_device_each.values()])
