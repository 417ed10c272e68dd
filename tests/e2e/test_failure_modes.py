"""The quality bar's failure list, run the way a user meets it.

One line, no traceback, no run lost.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import torch
from support.e2e import REPO, TINY, cli, start_worker, wait_for

from engine.config import config_from_preset
from engine.events import RunFailed
from storage import RunStore


class _OutOfMemoryModel(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_cuda_out_of_memory_fails_the_run_with_the_fix(monkeypatch) -> None:
    # The real thing needs a GPU; the model raises the exact error type CUDA raises.
    import engine.train

    monkeypatch.setattr(engine.train, "build_model", lambda *a, **k: _OutOfMemoryModel())
    monkeypatch.setattr(engine.train, "count_parameters", lambda m: 0)
    config = config_from_preset("seed", dataset="synthetic", limit_train=32, batch_size=16,
                                device="cpu")
    events: list = []
    final = engine.train.train(config, events.append)
    assert isinstance(final, RunFailed)
    assert "out of memory" in final.reason and "--batch-size" in final.reason
    assert "\n" not in final.reason
    assert events[-1] is final


def test_diverging_run_in_the_worker_is_failed_with_the_step_and_lr(tmp_path: Path) -> None:
    out = cli("queue", "--no-worker", *TINY, "--epochs", "3", "--max-lr", "1e8", "--grad-clip", "0",
              "--optimizer", "sgd").stdout
    run_id = int(out.split("queued run ")[1].split()[0])
    out = cli("queue", "--no-worker", *TINY, "--epochs", "1").stdout
    good = int(out.split("queued run ")[1].split()[0])
    cli("worker", "--device", "cpu", "--exit-when-empty", timeout=120)
    store = RunStore()
    failed = store.get_run(run_id)
    assert failed.status == "failed"
    assert failed.error.startswith("diverged at step ") and "lr=" in failed.error
    assert store.get_run(good).status == "completed"


def _newer_db(tmp_path: Path) -> str:
    path = tmp_path / "future.db"
    RunStore(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("UPDATE cifar_tui_version SET version_num = '0999_future'")
    db.close()
    return str(path)


def test_train_and_queue_refuse_a_newer_database_in_one_line(tmp_path: Path) -> None:
    db = _newer_db(tmp_path)
    for command in (["train", *TINY, "--epochs", "1"], ["queue", "--no-worker", *TINY]):
        proc = cli("--db", db, *command, check=False)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert "newer cifar-tui" in proc.stderr


def signal_foreground_training(sig: signal.Signals) -> tuple[int, str]:
    """Start `cifar-tui train`, send ``sig`` once it trains; its exit code and stderr."""
    proc = subprocess.Popen([sys.executable, "-m", "cifar_tui", "train", *TINY, "--epochs", "500"],
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    try:
        store = RunStore()
        wait_for(lambda: store.count_runs() == 1 and store.get_steps(1),
                 what="the run to start training")
        proc.send_signal(sig)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc.returncode, proc.stderr.read()


def test_closing_the_terminal_during_foreground_training_keeps_the_run(tmp_path: Path) -> None:
    _, stderr = signal_foreground_training(signal.SIGHUP)
    assert "Traceback" not in stderr
    store = RunStore()
    run = store.get_run(1)
    assert run.status == "queued"  # requeued for the worker (--retries defaults to 1)
    assert "terminal closed" in run.error and "requeued automatically" in run.error
    assert store.get_steps(1)


def test_ctrl_c_during_foreground_training_stops_cleanly_and_keeps_the_run(tmp_path: Path) -> None:
    code, stderr = signal_foreground_training(signal.SIGINT)
    assert code == 130
    assert "Traceback" not in stderr
    store = RunStore()
    assert store.get_run(1).status == "cancelled"
    assert store.get_steps(1)


def test_a_worker_refuses_to_start_twice_on_one_device(tmp_path: Path, procs) -> None:
    first = start_worker("--device", "cpu", log=tmp_path / "w.log")
    procs.append(first)
    from worker import launcher

    store_id = RunStore().store_id
    wait_for(lambda: launcher.live_worker(store_id, "cpu"), what="the first worker")
    second = cli("worker", "--device", "cpu", check=False, timeout=60)
    assert second.returncode == 3
    assert "already running" in second.stdout
    assert cli("worker", "--stop", "--device", "cpu").returncode == 0
    assert first.wait(timeout=30) == 0
