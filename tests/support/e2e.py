"""Helpers for tests that run the real CLI, workers and training children as processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.data import REPO

# A run that trains in about a second on the CPU: synthetic data, a 1/8-width ResNet9.
TINY = ["--dataset", "synthetic", "--limit-train", "64", "--width-mult", "0.125",
        "--batch-size", "16", "--device", "cpu", "--log-every", "1"]


def cli(*args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cifar_tui", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout, env=os.environ.copy())
    if check and proc.returncode != 0:
        raise AssertionError(f"cifar-tui {' '.join(args)} exited {proc.returncode}:\n"
                             f"{proc.stdout}\n{proc.stderr}")
    return proc


def start_worker(*args: str, log: Path) -> subprocess.Popen:
    with open(log, "ab") as fh:  # the worker keeps its own copy of the descriptor
        return subprocess.Popen([sys.executable, "-m", "cifar_tui", "worker", *args], cwd=REPO,
                                stdout=fh, stderr=subprocess.STDOUT, env=os.environ.copy())


def wait_for(predicate: Callable[[], object], timeout: float = 60,
             what: str = "condition") -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def training_children(worker_pid: int) -> list[int]:
    """Pids of the spawned training processes of a worker (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == worker_pid and "spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def kill_worker(proc: subprocess.Popen) -> None:
    """SIGKILL a worker still running, and its training children first (they outlive it)."""
    if proc.poll() is not None:
        return
    for child in training_children(proc.pid):
        try:
            os.kill(child, signal.SIGKILL)
        except ProcessLookupError:
            pass
    proc.kill()
    proc.wait(timeout=10)


def kill_worker_pid(pid: int) -> None:
    """SIGKILL a detached worker (one the launcher started, not our child) and its children."""
    for target in [*training_children(pid), pid]:
        try:
            os.kill(target, signal.SIGKILL)
        except ProcessLookupError:
            pass


def two_epochs_and_a_checkpoint(store: Any, run_id: int) -> bool:
    """The run has trained two epochs and saved a checkpoint to resume from."""
    run = store.get_run(run_id)
    return len(run.epoch_rows) >= 2 and bool(run.checkpoints.get("last"))
