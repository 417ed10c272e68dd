"""Leases and automatic recovery with real processes: kill -9 of a worker or of a
foreground `train`, SIGTERM of `train`, a slow foreground run beside a worker, and
`cancel` of a run whose process is gone. Each ends in a clear state, nothing lost."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support.e2e import REPO, TINY, cli, start_worker, two_epochs_and_a_checkpoint, wait_for

from storage import RunStore


def queue(*extra: str) -> int:
    out = cli("queue", "--no-worker", *TINY, *extra).stdout
    return int(out.split("queued run ")[1].split()[0].rstrip(";"))


def start_train(*extra: str, log: Path) -> subprocess.Popen:
    with open(log, "ab") as fh:
        return subprocess.Popen([sys.executable, "-m", "cifar_tui", "train", *TINY, *extra],
                                cwd=REPO, stdout=subprocess.DEVNULL, stderr=fh,
                                env=os.environ.copy())


@pytest.fixture
def trains(procs: list[subprocess.Popen]) -> list[subprocess.Popen]:
    """Foreground trains a test started; killed at the end like the workers."""
    return procs


def assert_nothing_lost(store: RunStore, run_id: int, epochs: int) -> None:
    run = store.get_run(run_id)
    assert run.status == "completed", run.error
    assert run.test_acc is not None
    assert [e.epoch for e in run.epoch_rows] == list(range(1, epochs + 1))
    steps = [s.step for s in store.get_steps(run_id)]
    assert steps == list(range(steps[0], steps[0] + len(steps)))  # continuous, none missing
    assert steps[-1] == run.total_steps


def test_killed_worker_is_requeued_and_a_new_worker_completes_it(tmp_path: Path, procs) -> None:
    run_id = queue("--epochs", "6")  # --retries defaults to 1
    worker = start_worker("--device", "cpu", log=tmp_path / "w1.log")
    procs.append(worker)
    store = RunStore()
    wait_for(lambda: two_epochs_and_a_checkpoint(store, run_id), timeout=180,
             what="two epochs and a checkpoint")
    os.kill(worker.pid, signal.SIGKILL)  # its training child goes with it
    worker.wait(timeout=10)
    done = cli("worker", "--device", "cpu", "--exit-when-empty", timeout=240)
    log = done.stderr + done.stdout  # the command's own sweep tells it, before the worker starts
    assert f"run {run_id} interrupted: its worker on host" in log
    assert f"pid {worker.pid}, stopped answering" in log
    assert "requeued automatically (attempt 2 of 2)" in log
    assert_nothing_lost(store, run_id, 6)
    run = store.get_run(run_id)
    assert run.resume_checkpoint == run.checkpoints["last"]  # went on, did not start over
    assert [(a.attempt, a.outcome) for a in run.attempts] == [(1, "interrupted"),
                                                              (2, "completed")]
    shown = json.loads(cli("show", str(run_id), "--json").stdout)
    assert [a["outcome"] for a in shown["attempts"]] == ["interrupted", "completed"]
    table = cli("show", str(run_id)).stdout
    assert "attempts" in table and "stopped answering" in table


def test_killed_foreground_train_is_requeued_by_the_next_command_and_completed(
        tmp_path: Path, trains) -> None:
    train = start_train("--epochs", "6", log=tmp_path / "train.log")
    trains.append(train)
    store = RunStore()
    wait_for(lambda: store.count_runs() == 1 and two_epochs_and_a_checkpoint(store, 1),
             timeout=180, what="two epochs and a checkpoint")
    train.kill()
    train.wait(timeout=10)
    assert store.get_run(1).status == "running"  # nobody has looked yet
    seen = cli("runs")
    [line] = seen.stderr.splitlines()
    assert line.startswith("cifar-tui: run 1 interrupted: its worker on host ")
    assert f"pid {train.pid}, stopped answering" in line
    assert line.endswith("requeued automatically (attempt 2 of 2)")
    assert store.get_run(1).status == "queued"
    cli("worker", "--device", "cpu", "--exit-when-empty", timeout=240)
    assert_nothing_lost(store, 1, 6)
    assert [a.worker_id.split(":")[2] for a in store.get_run(1).attempts] == ["foreground",
                                                                              "cpu"]


def test_sigterm_of_train_interrupts_the_run_in_one_line(tmp_path: Path) -> None:
    store = RunStore()
    for run_id, retries in ((1, "0"), (2, "1")):
        proc = subprocess.Popen(
            [sys.executable, "-m", "cifar_tui", "train", *TINY, "--epochs", "500",
             "--retries", retries], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, env=os.environ.copy())
        try:
            wait_for(lambda rid=run_id: store.count_runs() == rid and store.get_steps(rid),
                     timeout=120, what="the run to train")
            proc.terminate()
            _, stderr = proc.communicate(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
        assert proc.returncode == 143, stderr
        [line] = stderr.splitlines()
        assert "Traceback" not in stderr
        assert line.startswith(f"cifar-tui: run {run_id} interrupted: `cifar-tui train` was "
                               "stopped by SIGTERM; ")
        run = store.get_run(run_id)
        if retries == "0":
            assert run.status == "interrupted" and line.endswith(f"resume {run_id}` continues it")
        else:
            assert run.status == "queued" and "requeued automatically (attempt 2 of 2)" in line
        assert store.get_steps(run_id) and run.attempts[0].outcome == "interrupted"


def test_a_slow_foreground_run_is_never_taken_over_by_a_worker(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, procs, trains) -> None:
    monkeypatch.setenv("CIFAR_TUI_LEASE_SECONDS", "2")  # the worker sweeps with a short lease
    # No step writes at all (--log-every far beyond the run): only the lease says it lives.
    train = start_train("--epochs", "3", "--log-every", "1000000", log=tmp_path / "train.log")
    trains.append(train)
    store = RunStore()
    wait_for(lambda: store.count_runs() == 1, what="the run to be recorded")
    worker = start_worker("--device", "cpu", log=tmp_path / "w.log")
    procs.append(worker)
    while train.poll() is None:
        # A sweeper on another machine judges by the lease alone: it must still be renewed.
        assert store.reap_lost_runs(this_host="elsewhere", lease_s=5) == []
        assert store.get_run(1).status in ("running", "completed")
        try:
            train.wait(timeout=0.5)  # the next look, or the end of training
        except subprocess.TimeoutExpired:
            pass
    assert train.returncode == 0, (tmp_path / "train.log").read_text()
    run = store.get_run(1)
    assert run.status == "completed" and run.test_acc is not None
    assert [(a.attempt, a.outcome) for a in run.attempts] == [(1, "completed")]
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    log = (tmp_path / "w.log").read_text()
    assert "interrupted" not in log and "training in pid" not in log


def test_cancel_resume_and_rm_of_a_run_whose_process_is_gone(tmp_path: Path, trains) -> None:
    store = RunStore()
    for run_id in (1, 2):
        train = start_train("--epochs", "500", "--retries", "0", log=tmp_path / "t.log")
        trains.append(train)
        wait_for(lambda rid=run_id: store.count_runs() == rid and store.get_steps(rid),
                 timeout=120, what="the run to train")
        train.kill()
        train.wait(timeout=10)
    done = cli("cancel", "1")
    assert done.stdout.strip() == "run 1: cancelled"  # at once, not "cancelling" forever
    assert "run 1 interrupted: its worker on host" in done.stderr
    assert store.get_run(1).status == "cancelled"
    assert "requeued to resume" in cli("resume", "2", "--no-worker").stdout
    assert store.get_run(2).status == "queued"
    cli("rm", "1", "--yes")
    assert store.count_runs() == 1
